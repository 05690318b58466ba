"""`python -m autograder.kernel`, the confined kernel's entry point before it moved to
autograder.isolation.kernel: the kernelspecs and `nbgrader_config.py` files of
courses set up before it moved name it."""

import sys

from autograder.isolation import kernel

if __name__ == "__main__":
    kernel.main(sys.argv[1:])
else:
    sys.modules[__name__] = kernel
