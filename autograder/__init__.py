"""genimg's grader: reads a submission, runs its graded names in a sandboxed
child process, checks them with the public and hidden batteries, and writes
the result for people (text), Gradescope and GitHub Classroom.

The student's code never runs in this process.
"""

import pathlib

# The answer key, genimg_ref/: the embedded default a bare `genimg-grade` grades,
# and what a part that ran out of time is timed against on the same machine.
REFERENCE = pathlib.Path(__file__).resolve().parent.parent / "genimg_ref"
