"""`genimg-grade prairielearn [/grade]`: a PrairieLearn external-grading job (autograder.prairielearn).

The entrypoint of the grading image: it grades /grade/student and always
leaves /grade/results/results.json, then exits 0 (PrairieLearn discards the
results of a container that exits otherwise), whatever the grade.
"""

import argparse
import sys

from autograder.apps.options import add_grading_options, grading_limits, unknown_parts
from autograder.limits import Limits, classroom_time_limit
from autograder.prairielearn import RESULTS, STUDENT, grade_job


def build_parser():
    suggested = classroom_time_limit(Limits())
    parser = argparse.ArgumentParser(
        prog="genimg-grade prairielearn",
        description=f"Grade a PrairieLearn job: JOB/{STUDENT} into JOB/{RESULTS}. Set the question's "
                    f"externalGradingOptions timeout above --deadline (e.g. {suggested + 30} s).")
    parser.add_argument("job", nargs="?", default="/grade", metavar="JOB",
                        help="the job folder PrairieLearn mounts (default /grade)")
    add_grading_options(parser)
    parser.add_argument("--deadline", type=float, metavar="S",
                        help="seconds for the whole grade, shared out among the parts (default: the "
                             "profile's; keep it below the question's timeout)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if unknown_parts("genimg-grade prairielearn", args.parts):
        return 2
    record = grade_job(args.job, backend=args.backend, parts=args.parts, limits=grading_limits(args),
                       deadline=args.deadline)
    if record is not None:
        print(f"genimg-grade prairielearn: {record.status}, {record.score:g}/{record.max_score:g} points",
              file=sys.stderr)
    return 0
