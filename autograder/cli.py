"""`genimg-grade`: grade one submission and write the results.

    genimg-grade [SUBMISSION] [--json OUT] [--classroom OUT] [--backend jax|tensorflow]
    genimg-grade batch DIR --out OUTDIR [--workers N] [--timeout S]   (a whole class)
    genimg-grade gradescope-bundle OUT.zip                           (Gradescope autograder)
    genimg-grade reconcile COURSE_DIR ASSIGNMENT [--out CSV]         (after nbgrader autograde)

Without SUBMISSION it grades the embedded default: the reference package
(the answer key, which must score 100). Exit status 0 whenever grading ran,
whatever the score (1 with --fail-under N when the score is below N); 2 when
the grader itself could not run.
"""

import argparse
import pathlib
import sys

DEFAULT_SUBMISSION = pathlib.Path(__file__).resolve().parent.parent / "genimg_ref"


def add_grading_options(parser, parts=True, profile=True):
    """The options every grading command shares: backend, parts, profile and sandbox limits.

    Without the --profile option (profile=False) the caller sets `profile` with
    `parser.set_defaults`.
    """
    from genimg_kit.checks.convergence import PROFILES
    from genimg_kit.parts import PARTS

    parser.add_argument("--backend", choices=["jax", "tensorflow"],
                        help="Keras backend for the submissions (default: $KERAS_BACKEND or tensorflow)")
    if parts:
        parser.add_argument("--parts", type=lambda s: s.split(","), metavar="P1,P2",
                            help=f"grade only these parts ({', '.join(PARTS)})")
    parser.add_argument("--part-timeout", type=float, default=120.0, metavar="S",
                        help="seconds allowed for all probes of one part (default 120)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="memory cap of each sandbox (default 4096)")
    if profile:
        parser.add_argument("--profile", choices=["auto", *PROFILES], default="auto",
                            help="convergence budget: cpu (small models, seconds), gpu (the chapter's "
                                 "sizes, minutes); auto (default) takes gpu when Keras sees a GPU")


def grading_limits(args):
    """The `Limits` fields that add_grading_options' options set, as a dict."""
    return {"part_seconds": args.part_timeout, "memory_mb": args.memory_mb, "profile": args.profile}


def build_parser():
    parser = argparse.ArgumentParser(prog="genimg-grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", default=str(DEFAULT_SUBMISSION),
                        help=".py file, .ipynb notebook or folder of them (default: the reference)")
    parser.add_argument("--json", metavar="OUT", help="write Gradescope results.json here")
    parser.add_argument("--classroom", metavar="OUT",
                        help="write the GitHub Classroom grader result (base64 JSON) here")
    add_grading_options(parser)
    parser.add_argument("--fail-under", type=float, metavar="N",
                        help="exit with status 1 when the score is below N (for CI gates)")
    parser.add_argument("--quiet", action="store_true", help="report failed checks only")
    return parser


# --- subcommands (issue 6): `genimg-grade batch ...`, `genimg-grade gradescope-bundle ...` ---
# A first argument naming a subcommand dispatches to its module; anything else is
# a submission path (grade a folder literally named "batch" as ./batch).
SUBCOMMANDS = {
    "batch": "autograder.batch",
    "gradescope-bundle": "autograder.bundle",
    "reconcile": "autograder.reconcile",  # issue 7: isolated re-grade into nbgrader's gradebook
}


def _dispatch(argv):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    return None
# --- end of subcommands ---


def main(argv=None):
    code = _dispatch(argv)
    if code is not None:
        return code
    args = build_parser().parse_args(argv)
    from autograder import writers
    from autograder.grade import Limits, grade
    from autograder.sandbox import GraderError

    limits = Limits(**grading_limits(args))
    try:
        result = grade(args.submission, parts=args.parts, backend=args.backend, limits=limits)
    except GraderError as error:
        print(f"genimg-grade: the grader could not run: {error}", file=sys.stderr)
        return 2
    print(writers.text_report(result, show_passed=not args.quiet))
    if args.json:
        writers.write_json(writers.gradescope(result), args.json)
    if args.classroom:
        pathlib.Path(args.classroom).write_text(writers.encode_classroom(writers.classroom(result)))
    if args.fail_under is not None and result.score < args.fail_under:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
