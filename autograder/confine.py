"""`autograder.confine`, where the confinement lived before it became the package
autograder.isolation.confine: scripts written against it keep working."""

import sys

from autograder.isolation import confine

sys.modules[__name__] = confine
