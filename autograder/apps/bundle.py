"""`genimg-grade gradescope-bundle OUT.zip`: the Gradescope autograder zip (autograder.bundle)."""

import argparse
import sys
import zipfile

from autograder.apps.options import part_list
from autograder.bundle import BundleError, build_bundle
from autograder.limits import gradescope_time_limit
from genimg_kit.parts import PARTS


def build_parser():
    time_limit = gradescope_time_limit()
    parser = argparse.ArgumentParser(
        prog="genimg-grade gradescope-bundle",
        description="Build the Gradescope autograder zip (setup.sh, run_autograder, pinned "
                    "requirements, the project's wheels).")
    parser.add_argument("out", metavar="OUT.zip", help="where to write the zip")
    parser.add_argument("--backend", choices=["jax", "tensorflow"], default="tensorflow",
                        help="Keras backend the submissions are graded on (default tensorflow: "
                             "faster on Gradescope's CPUs)")
    parser.add_argument("--time-limit", type=int, default=time_limit, metavar="S",
                        help=f"seconds run_autograder allows one submission (default {time_limit}: "
                             "Gradescope's default timeout less run_autograder's margin); keep it below "
                             "the assignment's Gradescope timeout")
    parser.add_argument("--parts", type=part_list, metavar="P1,P2",
                        help=f"grade only these parts (default: all {len(PARTS)})")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        names = build_bundle(args.out, backend=args.backend, time_limit=args.time_limit, parts=args.parts)
    except BundleError as error:
        print(f"genimg-grade gradescope-bundle: {error}", file=sys.stderr)
        return 2
    pins = sum(1 for line in zipfile.ZipFile(args.out).read("requirements.txt").decode().splitlines()
               if line and not line.startswith("#"))
    print(f"wrote {args.out}: {len(names)} files, {pins} pinned requirements, backend {args.backend}, "
          f"time limit {args.time_limit} s")
    print("Upload it as the assignment's autograder (Configure Autograder > Zip file upload); "
          "give the container at least 2 GB of memory.")
    return 0
