"""The public check battery, one module per graded part, and the self-check.

In a notebook: `self_check("kl_loss", globals())` runs the public checks of a
part against the notebook's own definitions and prints what failed, with the
minimal counterexample Hypothesis found.
"""

from genimg_kit.checks.battery import run_part
from genimg_kit.checks.report import format_part
from genimg_kit.checks.subject import LocalSubject


def self_check(part, namespace, hidden=None):
    """Runs `part`'s checks on the definitions in `namespace`; returns the points.

    `hidden`: the grader's hidden checks (autograder.hidden.HIDDEN), which an
    nbgrader test cell passes when the notebook is graded. Prints a verdict
    per check; the returned number makes a notebook test cell give partial
    credit.
    """
    result = run_part(part, LocalSubject(namespace), hidden)
    print(format_part(result))
    return result.points
