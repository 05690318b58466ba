"""The public check battery, one module per graded part, and the self-check.

In a notebook: `self_check("kl_loss", globals())` runs the public checks of a
part against the notebook's own definitions and prints what failed, with the
minimal counterexample Hypothesis found.
"""

from genimg_kit.checks import (  # noqa: F401  (importing registers the checks)
    convergence,
    denoise,
    diffusion_schedule,
    generate,
    kl_loss,
    sampler,
    slerp,
)
from genimg_kit.checks.core import LocalSubject, run_part
from genimg_kit.checks.report import format_part


def self_check(part, namespace):
    """Runs `part`'s checks on the definitions in `namespace`; returns the points.

    Prints a verdict per check. The returned number makes a notebook test cell
    give partial credit.
    """
    result = run_part(part, LocalSubject(namespace))
    print(format_part(result))
    return result.points
