"""`genimg-grade reconcile COURSE_DIR ASSIGNMENT`: nbgrader's in-kernel scores replaced by the
isolated grader's (autograder.course.reconcile)."""

import argparse
import sys
import time

from genimg_kit.text import one_line, shown
from autograder.course import reconcile as course
from autograder.apps.options import add_grading_options, add_timeout, add_workers, grading_limits


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade reconcile",
        description="After `nbgrader autograde ASSIGNMENT`: re-grade every submitted notebook with the "
                    "isolated grader, write its per-part scores into nbgrader's gradebook as the manual "
                    "score of each check_<part> cell, and flag cells whose in-kernel score disagreed.")
    parser.add_argument("course_dir", metavar="COURSE_DIR",
                        help="the nbgrader course folder (with nbgrader_config.py and gradebook.db)")
    parser.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment id, as given to nbgrader")
    parser.add_argument("--out", metavar="CSV",
                        help="where the CSV goes (default COURSE_DIR/reconcile/ASSIGNMENT.csv)")
    parser.add_argument("--details", metavar="DIR",
                        help="where each student's full isolated report goes "
                             "(default COURSE_DIR/reconcile/ASSIGNMENT/; replaced on every run)")
    add_workers(parser, "notebooks")
    add_timeout(parser, "student and notebook", course.default_limits())
    # Use the backend autograde used. No --profile: the notebook's check cells
    # train with the self-checks' budget, and so must the re-grade they are compared with.
    add_grading_options(parser, parts=False, profile=False)
    parser.set_defaults(profile=course.default_limits().profile)
    parser.add_argument("--db", metavar="URL", help="gradebook URL (default: the course's db_url)")
    parser.add_argument("--no-progress", action="store_true", help="no per-student progress lines")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        rows, out, unregistered = course.reconcile(
            args.course_dir, args.assignment, args.out, workers=args.workers, timeout=args.timeout,
            backend=args.backend, limits=grading_limits(args),
            db_url=args.db, details=args.details, progress=not args.no_progress)
    except course.ReconcileError as error:
        print(f"genimg-grade reconcile: {error}", file=sys.stderr)
        return 2
    students = sorted({row.student for row in rows})
    flagged = [row for row in rows if row.flagged]
    print(f"{len(students)} students, {len(rows)} check cells reconciled into the gradebook; "
          f"{len(flagged)} flagged ({time.monotonic() - started:.0f} s). CSV: {out}")
    for row in flagged:
        print(f"  FLAGGED {shown(row.student)} {row.cell}: {one_line(row.reason)}")
    if unregistered:
        print(f"not in the gradebook (run nbgrader autograde for them first): {', '.join(map(shown, unregistered))}")
    return 0
