"""`genimg-grade report OUTDIR`: one static HTML page about a graded class (autograder.report.class_report)."""

import argparse
import pathlib
import sys
import time

from autograder.report import class_data, class_report, similarity

# The release notebook, when the grader runs from a checkout of this repository.
DEFAULT_STARTER = (pathlib.Path(__file__).resolve().parents[2]
                   / "assignments" / "release" / "ch17" / "ch17_image_generation.ipynb")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade report",
        description="Write a self-contained HTML report of a graded class: score distribution, per-part "
                    "means, failures per check, status and time per submission (reconcile's flags "
                    "included), a page per student, and the pairs of submissions whose graded code is "
                    "near-identical.")
    parser.add_argument("outdir", metavar="OUTDIR",
                        help="a `genimg-grade batch` OUTDIR, or a reconcile folder COURSE/reconcile/ASSIGNMENT")
    parser.add_argument("--out", metavar="HTML", help="where the page goes (default OUTDIR/report.html)")
    parser.add_argument("--starter", metavar="NOTEBOOK_OR_PY",
                        help="the release notebook (or .py) students started from: its code is discounted "
                             "in the similarity check (default: this checkout's release notebook, "
                             f"{DEFAULT_STARTER.name}, when it exists)")
    parser.add_argument("--submissions", metavar="DIR",
                        help="the folder of submissions that was graded, for the similarity check (default: "
                             "the paths the records name; for reconcile, the course's submitted notebooks)")
    parser.add_argument("--no-similarity", action="store_true", help="leave out the similarity check")
    parser.add_argument("--png", action="store_true", help="also write the figures as OUT.png")
    parser.add_argument("--pdf", action="store_true", help="also write the figures as OUT.pdf")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    starter = args.starter or (DEFAULT_STARTER if DEFAULT_STARTER.exists() else None)
    if starter is not None and not pathlib.Path(starter).exists():
        print(f"genimg-grade report: no starter at {starter}", file=sys.stderr)
        return 2
    try:
        graded = class_data.load_class(args.outdir, args.submissions)
    except class_data.ClassError as error:
        print(f"genimg-grade report: {error}", file=sys.stderr)
        return 2
    found = None
    if graded.submissions and not args.no_similarity:
        found = similarity.compare(graded.submissions, starter=starter)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.outdir) / "report.html"
    written = class_report.write_report(graded, out, found, png=args.png, pdf=args.pdf)
    pairs = f"{len(found.flagged)} similar pairs flagged" if found else "no similarity check"
    print(f"{len(graded.records)} submissions, {pairs} ({time.monotonic() - started:.0f} s): "
          + ", ".join(str(p) for p in written))
    return 0
