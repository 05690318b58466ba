"""Batteries: which checks grade a part, in a fixed order.

Each part's module lists its public checks (`CHECKS`; which module holds a
part is the points table's, genimg_kit.parts); the grader's hidden table
(`autograder.hidden.HIDDEN`) is derived the same way from its own modules. A
battery is the public list followed by the hidden one: the order decides
which checks a crash fails and numbers the checks in Gradescope, and each
check's share of the part's points is its weight over the battery's.
Nothing is registered by importing anything.
"""

import dataclasses

from genimg_kit.checks.runner import failed_checks, run_checks
from genimg_kit.parts import PARTS, checks_by_part

PUBLIC = checks_by_part("genimg_kit.checks")


def battery(part, hidden=None):
    """`part`'s checks: the public ones, then those `hidden` (part -> checks) lists for it."""
    checks = list(PUBLIC[part]) + [dataclasses.replace(c, hidden=True) for c in (hidden or {}).get(part, ())]
    strays = [c.id for c in checks if c.part != part]
    if strays:
        raise ValueError(f"the {part} battery lists checks of other parts: {', '.join(strays)}")
    hidden_weight = sum(c.weight for c in checks if c.hidden)
    if hidden is not None and hidden_weight != PARTS[part].hidden_weight:
        raise ValueError(f"{part}'s hidden checks weigh {hidden_weight:g}; the points table "
                         f"(genimg_kit.parts) says {PARTS[part].hidden_weight:g}")
    return checks


def run_part(part, subject, hidden=None):
    """Runs `part`'s battery against `subject`; always returns a PartResult."""
    return run_checks(part, battery(part, hidden), subject)


def failed_part(part, message, hidden=None):
    """`part`'s battery, every check failed for one reason, none run."""
    return failed_checks(part, battery(part, hidden), message)
