"""`genimg-grade batch DIR --out OUTDIR [--scheduler ADDRESS]`: a whole class, in parallel workers
here or on a Dask cluster (autograder.batch.pool)."""

import argparse
import collections
import pathlib
import sys
import time

from autograder.batch import pool
from autograder.apps.options import add_grading_options, add_timeout, add_workers, grading_limits, unknown_parts
from autograder.record import STATUSES


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade batch",
        description="Grade every submission in DIR (each child: a folder, .py or .ipynb; "
                    "student id = its name without suffix) into OUTDIR/students/<student>/results.json "
                    "and OUTDIR/summary.csv.")
    parser.add_argument("directory", metavar="DIR", help="folder with one submission per student")
    parser.add_argument("--out", required=True, metavar="OUTDIR", help="where results go")
    add_workers(parser, "submissions")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="grade on the workers of this Dask scheduler (tcp://HOST:PORT) instead of "
                             "--workers local ones; the submissions travel with the tasks and the results "
                             "are written here (needs `pip install 'genimg[dask]'` here and on the workers)")
    add_timeout(parser, "submission")
    parser.add_argument("--force", action="store_true", help="regrade students already graded")
    parser.add_argument("--retry-failed", action="store_true",
                        help="regrade students whose status is timeout or error")
    add_grading_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-student lines")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if unknown_parts("genimg-grade batch", args.parts):
        return 2
    started = time.monotonic()
    try:
        records = pool.run_batch(
            args.directory, args.out, workers=args.workers, timeout=args.timeout,
            backend=args.backend, parts=args.parts, limits=grading_limits(args),
            force=args.force, retry_failed=args.retry_failed, progress=not args.no_progress,
            scheduler=args.scheduler)
    except pool.BatchError as error:
        print(f"genimg-grade batch: {error}", file=sys.stderr)
        return 2
    counts = collections.Counter(record.status for record in records.values())
    print(f"{len(records)} students in {pathlib.Path(args.out) / pool.SUMMARY_NAME}: "
          + ", ".join(f"{counts[s]} {s}" for s in STATUSES if s != "missing" or counts[s])
          + f" ({time.monotonic() - started:.0f} s)")
    return 0
