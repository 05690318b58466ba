"""A whole grade keeps its deadline, and a grade stopped from outside keeps what it graded.

`grade(..., deadline=S)` shares S out among the parts (`Limits.share_of`): a
submission whose six pieces all hang is still graded, every part timed out
or explicitly not run, within S. The CLI rewrites its --json (and
--classroom) as each part ends, so when a platform kills it mid-grade the
file already holds the parts it graded.
"""

import json
import os
import subprocess
import sys
import time

import psutil

from autograder.grade import NOT_REACHED, grade
from autograder.limits import Limits
from genimg_kit.parts import PARTS, part_points
from tests._submissions import CORRECT, write

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")

# Every graded name answers never (sleeping, to spare the shared CPUs).
ALL_HANG = """\
import time

import keras


def _hang(*args, **kwargs):
    while True:
        time.sleep(0.2)


class Sampler(keras.layers.Layer):
    def call(self, z_mean, z_log_var):
        _hang()


kl_loss = diffusion_schedule = denoise = generate = slerp = _hang
"""

SLERP_HANGS = CORRECT + """

def slerp(t, v1, v2):
    import time
    while True:
        time.sleep(0.2)
"""


def test_every_part_is_graded_or_timed_out_within_the_deadline(tmp_path):
    deadline = 75
    record = grade(write(tmp_path, "hang.py", ALL_HANG), backend=BACKEND, deadline=deadline)
    assert list(record.parts) == list(PARTS) and record.score == 0
    for part, result in record.parts.items():
        message = result.checks[0].message
        assert ("did not answer within" in message or message.startswith("not run:")
                or "used up the whole grade's deadline" in message), (part, message)
    # The deadline holds up to the last sandbox's start, which precedes any share.
    assert record.seconds < deadline + 20, record.timings


def test_a_share_is_the_parts_limit_or_its_part_of_the_time_left():
    limits = Limits()
    assert limits.share_of("kl_loss", list(PARTS), "cpu", 10_000) == limits.part_seconds
    shares = [limits.share_of(p, list(PARTS)[i:], "cpu", 240.0) for i, p in enumerate(PARTS)]
    assert shares[0] == 240.0 * limits.part_seconds / sum(limits.seconds_for(p, "cpu") for p in PARTS)
    assert shares[-1] == limits.seconds_for("diffusion_convergence", "cpu")  # alone, it gets its whole limit


def test_a_grade_killed_midway_leaves_the_parts_it_graded(tmp_path):
    submission = write(tmp_path, "slerp_hangs.py", SLERP_HANGS)
    out = tmp_path / "results.json"
    cli = subprocess.Popen([sys.executable, "-m", "autograder.cli", str(submission), "--parts", "kl_loss,slerp",
                            "--backend", BACKEND, "--json", str(out), "--deadline", "900"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        started = time.monotonic()
        while not out.exists() and time.monotonic() - started < 240:
            time.sleep(0.5)
        time.sleep(1)  # slerp's part has begun: its probe sleeps for ever
    finally:
        for process in psutil.Process(cli.pid).children(recursive=True) + [psutil.Process(cli.pid)]:
            try:
                process.kill()
            except psutil.NoSuchProcess:  # a sandbox child that ended between the listing and the kill
                pass
        cli.wait()
    results = json.loads(out.read_text())
    kl = [t for t in results["tests"] if t["name"].startswith("kl_loss:")]
    slerp = [t for t in results["tests"] if t["name"].startswith("slerp:")]
    assert sum(t["score"] for t in kl) == part_points("kl_loss") and all(t["status"] == "passed" for t in kl)
    assert slerp and all(t["score"] == 0 and t["output"].startswith(NOT_REACHED) for t in slerp)
    assert results["score"] == part_points("kl_loss")
