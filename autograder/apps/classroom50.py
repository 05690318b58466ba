"""`genimg-grade classroom50-bundle OUTDIR`: a Classroom 50 assignment's bundle (autograder.classroom50)."""

import argparse
import sys

from autograder.apps.bundle import add_bundle_options, build
from autograder.classroom50 import build_bundle
from autograder.limits import Limits, classroom_time_limit


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade classroom50-bundle",
        description="Write a Classroom 50 assignment's bundle (autograder.py, pinned requirements, the "
                    "project's wheels) into OUTDIR: commit it as CLASSROOM/autograders/ASSIGNMENT/ in "
                    "the classroom50 repository.")
    parser.add_argument("out", metavar="OUTDIR", help="the folder to write")
    add_bundle_options(parser, "GitHub's runners", classroom_time_limit(Limits()),
                       "the cpu profile's deadline and its margin: GitHub's runners have no GPU")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    names = build("classroom50-bundle", build_bundle, args)
    if names is None:
        return 2
    print(f"wrote {args.out}: {len(names)} files, backend {args.backend}, time limit {args.time_limit} s")
    print("Commit it as CLASSROOM/autograders/ASSIGNMENT/ in the classroom50 repository, and set the "
          f"assignment's runtime to Python {sys.version_info.major}.{sys.version_info.minor} (the pins').")
    return 0
