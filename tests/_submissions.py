"""Small submissions for the grading-at-scale tests (batch, bundle, classroom).

Each defines only `kl_loss`, so grading it with parts=["kl_loss"] is cheap.
"""

import pathlib

CORRECT = """\
from keras import ops


def kl_loss(z_mean, z_log_var):
    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
"""

# The KL with the wrong sign: negative, so most checks fail.
BUGGY = CORRECT.replace("return -0.5 *", "return 0.5 *")

# Its only definition does not parse (a colon missing): kl_loss is then not defined.
SYNTAX_ERROR = CORRECT.replace("def kl_loss(z_mean, z_log_var):", "def kl_loss(z_mean, z_log_var)")

# kl_loss never returns: only a time limit ends it (sleeping, to spare the shared CPUs).
HANGING = """\
import time

from keras import ops


def kl_loss(z_mean, z_log_var):
    while True:
        time.sleep(0.2)
"""

# A notebook that is not JSON at all.
BROKEN_NOTEBOOK = '{"cells": [ this is not json'


def write(folder, name, text):
    path = pathlib.Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
