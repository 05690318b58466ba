"""`genimg-grade gradescope-bundle OUT.zip`: the Gradescope autograder zip (autograder.bundle).

`add_bundle_options` and `build` serve every bundle's command (classroom50-bundle too).
"""

import argparse
import sys
import zipfile

from autograder.apps.options import part_list
from autograder.bundle import BundleError, build_bundle
from autograder.limits import gradescope_time_limit
from genimg_kit.parts import PARTS


def add_bundle_options(parser, machines, time_limit, time_limit_why):
    """--backend, --time-limit and --parts: what a bundle grades with, for how long, and what."""
    parser.add_argument("--backend", choices=["jax", "tensorflow"], default="tensorflow",
                        help=f"Keras backend the submissions are graded on (default tensorflow: "
                             f"faster on {machines})")
    parser.add_argument("--time-limit", type=int, default=time_limit, metavar="S",
                        help=f"seconds one submission's grade may take (default {time_limit}: {time_limit_why})")
    parser.add_argument("--parts", type=part_list, metavar="P1,P2",
                        help=f"grade only these parts (default: all {len(PARTS)})")


def build(command, build_bundle, args):
    """`build_bundle(args.out, ...)`'s names, or None with the reason printed."""
    try:
        return build_bundle(args.out, backend=args.backend, time_limit=args.time_limit, parts=args.parts)
    except BundleError as error:
        print(f"genimg-grade {command}: {error}", file=sys.stderr)
        return None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade gradescope-bundle",
        description="Build the Gradescope autograder zip (setup.sh, run_autograder, pinned "
                    "requirements, the project's wheels).")
    parser.add_argument("out", metavar="OUT.zip", help="where to write the zip")
    add_bundle_options(parser, "Gradescope's CPUs", gradescope_time_limit(),
                       "Gradescope's default timeout less run_autograder's margin; keep it below the "
                       "assignment's Gradescope timeout")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    names = build("gradescope-bundle", build_bundle, args)
    if names is None:
        return 2
    pins = sum(1 for line in zipfile.ZipFile(args.out).read("requirements.txt").decode().splitlines()
               if line and not line.startswith("#"))
    print(f"wrote {args.out}: {len(names)} files, {pins} pinned requirements, backend {args.backend}, "
          f"time limit {args.time_limit} s")
    print("Upload it as the assignment's autograder (Configure Autograder > Zip file upload); "
          "give the container at least 2 GB of memory.")
    return 0
