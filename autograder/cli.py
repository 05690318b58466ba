"""`genimg-grade`: grade one submission and write the results.

    genimg-grade [SUBMISSION] [--json OUT] [--classroom50 DIR] [--backend jax|tensorflow]
    genimg-grade batch DIR --out OUTDIR [--workers N] [--timeout S]
    genimg-grade gradescope-bundle OUT.zip
    genimg-grade classroom50-bundle OUTDIR
    genimg-grade prairielearn /grade
    genimg-grade reconcile COURSE_DIR ASSIGNMENT [--out CSV]
    genimg-grade limits [--profile P] [--part-timeout S]
    genimg-grade report OUTDIR [--out report.html] [--starter RELEASE] [--png] [--pdf]

Without SUBMISSION it grades the embedded default: the reference package
(the answer key, which must score 100). Exit status 0 whenever grading ran,
whatever the score (1 with --fail-under N when the score is below N); 2 when
the grader itself could not run; 3 when the grade is not valid because the
grading machine failed (its container ran out of memory: record status
"environment"), whatever it scored.
"""

# This module and autograder.apps (one module per subcommand) only parse
# arguments and call the libraries (autograder.grade, .pool, .course, .bundle,
# .limits); no library module imports either.

import argparse
import importlib
import os
import sys

from autograder import REFERENCE
from autograder.apps.options import DEFAULTS as DEFAULT_LIMITS
from autograder.apps.options import add_grading_options, grading_limits, unknown_parts

DEFAULT_SUBMISSION = REFERENCE

# A first argument naming a subcommand runs its module's main; anything else is
# a submission path (grade a folder literally named "batch" as ./batch).
# name: (its module in autograder.apps, the one line `genimg-grade --help` shows for it).
# Imported only when run: a grade needs none of them (nor their dependencies).
SUBCOMMANDS = {
    "batch": ("batch", "grade a whole class, in parallel workers"),
    "gradescope-bundle": ("bundle", "build the Gradescope autograder zip"),
    "classroom50-bundle": ("classroom50", "build a Classroom 50 assignment's autograder.py bundle"),
    "prairielearn": ("prairielearn", "grade a PrairieLearn external-grading job (its image's entrypoint)"),
    "reconcile": ("reconcile", "after nbgrader autograde: re-grade in isolation, into its gradebook"),
    "limits": ("limits", "print every time and memory bound"),
    "report": ("report", "a class report (HTML): scores, failures per check, similar submissions"),
}


def subcommand_list():
    """The subcommands, one line each, for the end of `genimg-grade --help`."""
    width = max(map(len, SUBCOMMANDS)) + 2
    lines = [f"  {name:<{width}}{summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "subcommands (genimg-grade SUBCOMMAND --help for its options):\n" + "\n".join(lines)


def build_parser():
    # The module docstring is the help's description, its usage block included;
    # the raw formatter keeps that block's lines as written.
    parser = argparse.ArgumentParser(prog="genimg-grade", description=__doc__, epilog=subcommand_list(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(DEFAULT_SUBMISSION),
                        help=".py file, .ipynb notebook or folder of them (default: the reference)")
    parser.add_argument("--json", metavar="OUT", help="write Gradescope results.json here")
    parser.add_argument("--classroom50", metavar="DIR",
                        help="write Classroom 50's result.json and release-body.md into DIR, its "
                             "identity from the runner's environment (CLASSROOM, SUBMISSION_TAG, ...)")
    parser.add_argument("--classroom", metavar="OUT",
                        help="deprecated (GitHub Classroom is retired; see --classroom50): write "
                             "the GitHub Classroom grader result (base64 JSON) here")
    add_grading_options(parser)
    parser.add_argument("--deadline", type=float, metavar="S",
                        help="seconds for the whole grade, shared out among the parts (default: "
                             + ", ".join(f"{d:g} on {p}" for p, d in DEFAULT_LIMITS.deadline_seconds)
                             + "); the results files are rewritten as each part ends")
    parser.add_argument("--fail-under", type=float, metavar="N",
                        help="exit with status 1 when the score is below N (for CI gates)")
    parser.add_argument("--quiet", action="store_true", help="report failed checks only")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        module, _ = SUBCOMMANDS[argv[0]]
        subcommand_main = importlib.import_module(f"autograder.apps.{module}").main
        return subcommand_main(argv[1:])
    args = build_parser().parse_args(argv)
    if unknown_parts("genimg-grade", args.parts):
        return 2
    from autograder import writers
    from autograder.grade import grade
    from autograder.grade import GraderError

    def write(record):
        if args.json:
            writers.write_json(writers.gradescope(record), args.json)
        if args.classroom:
            writers.write_text(writers.encode_classroom(writers.classroom(record)), args.classroom)
        if args.classroom50:
            from autograder import classroom50

            classroom50.write(record, args.classroom50, os.environ)

    try:
        record = grade(args.submission, parts=args.parts, backend=args.backend, limits=grading_limits(args),
                       deadline=args.deadline, on_part=write)
    except GraderError as error:
        print(f"genimg-grade: the grader could not run: {error}", file=sys.stderr)
        return 2
    print(writers.text_report(record, show_passed=not args.quiet))
    write(record)
    if record.status == "environment":
        return 3
    if args.fail_under is not None and record.score < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
