"""`genimg-grade limits`: every time and memory bound of a grade, and what is computed from them."""

import argparse

from autograder.apps.options import add_grading_options, grading_limits
from autograder.limits import table


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade limits",
        description="Print every time and memory bound of a grade under these options, and the "
                    "deadlines computed from them (batch and reconcile --timeout, the Gradescope "
                    "time limit, the Classroom workflow's timeout-minutes).")
    add_grading_options(parser, parts=False, backend=False)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    print(table(grading_limits(args)))
    return 0
