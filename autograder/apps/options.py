"""The options the grading commands share; every default is `Limits()`'s."""

import sys

from autograder.limits import Limits
from genimg_kit.parts import PARTS

DEFAULTS = Limits()


def part_list(text):
    return [p for p in text.split(",") if p]


def add_grading_options(parser, parts=True, profile=True, backend=True):
    """Backend, parts, profile and sandbox limits.

    Without the --profile option (profile=False) the caller sets `profile`
    with `parser.set_defaults`.
    """
    if backend:
        parser.add_argument("--backend", choices=["jax", "tensorflow"],
                            help="Keras backend for the submissions (default: $KERAS_BACKEND or tensorflow)")
    if parts:
        parser.add_argument("--parts", type=part_list, metavar="P1,P2",
                            help=f"grade only these parts ({', '.join(PARTS)}; default: all {len(PARTS)})")
    parser.add_argument("--part-timeout", type=float, default=DEFAULTS.part_seconds, metavar="S",
                        help="seconds allowed for all probes of one part; a convergence part gets at "
                             f"least its profile's (default {DEFAULTS.part_seconds:g})")
    parser.add_argument("--memory-mb", type=int, default=DEFAULTS.memory_mb,
                        help=f"memory cap of each sandbox (default {DEFAULTS.memory_mb}; "
                             f"+{DEFAULTS.gpu_runtime_mb} when it computes on a GPU)")
    if profile:
        profiles = [p for p, _ in DEFAULTS.convergence_seconds]
        parser.add_argument("--profile", choices=["auto", *profiles], default=DEFAULTS.profile,
                            help="convergence budget: cpu (small models, seconds), gpu (the chapter's "
                                 "sizes, minutes); auto (default) takes gpu when Keras sees a GPU")


def grading_limits(args):
    """The Limits that add_grading_options' options set."""
    return Limits(part_seconds=args.part_timeout, memory_mb=args.memory_mb, profile=args.profile)


def unknown_parts(prog, parts):
    """True, with the error printed, when `parts` names a part that does not exist."""
    unknown = [p for p in parts or () if p not in PARTS]
    if unknown:
        print(f"{prog}: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}", file=sys.stderr)
    return bool(unknown)


def add_timeout(parser, what, limits=DEFAULTS):
    """--timeout: None (computed from the limits, autograder.batch.pool.default_timeout) unless given."""
    parser.add_argument("--timeout", type=float, metavar="S",
                        help=f"wall seconds per {what} as a whole; past it the grader is killed and the "
                             f"submission is recorded as 'timeout' (default: the grade's own deadline and "
                             f"a margin, {limits.submission_seconds():g} s at the default limits; "
                             "`genimg-grade limits` shows it for other options)")


def add_workers(parser, what):
    from autograder.batch.pool import default_workers

    workers = default_workers()
    parser.add_argument("--workers", type=int, default=workers, metavar="N",
                        help=f"{what} graded at once (default: half the CPU cores, here {workers}); "
                             "each needs up to --memory-mb of memory")
