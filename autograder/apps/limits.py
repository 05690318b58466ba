"""`genimg-grade limits`: every time and memory bound of a grade, and what is computed from them."""

import argparse

from autograder.apps.options import add_grading_options, grading_limits, unknown_parts
from autograder.limits import table


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade limits",
        description="Print every time and memory bound of a grade under these options, and the "
                    "deadlines computed from them (batch and reconcile --timeout, the Gradescope "
                    "time limit, the Classroom workflow's timeout-minutes).")
    add_grading_options(parser, backend=False)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if unknown_parts("genimg-grade limits", args.parts):
        return 2
    print(table(grading_limits(args), args.parts))
    return 0
