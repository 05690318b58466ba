"""Human-readable verdicts: one block per part, one line per check.

`check_details` is the one text of a failed check (message, minimal
counterexample, hint); the part block here and every writer of the grader
show it as it is.
"""

from genimg_kit.parts import format_points as fmt
from genimg_kit.parts import part_points


def check_details(c):
    """What a failed check says; "passed" for one that passed."""
    if c.passed:
        return "passed"
    lines = c.message.splitlines()
    if c.counterexample:
        lines.append("counterexample (minimal):")
        lines.extend(f"  {line}" for line in c.counterexample.splitlines())
    if c.hint:
        lines.append(f"hint: {c.hint}")
    return "\n".join(lines)


def format_part(result, show_passed=True):
    held = part_points(result.part) - result.max_points  # the hidden checks', when they did not run
    if held > 0:
        lines = [f"{result.part}: public checks {fmt(result.points)}/{fmt(result.max_points)}; "
                 f"{fmt(held)} more points are checked at grading"]
    else:
        lines = [f"{result.part}: {fmt(result.points)}/{fmt(result.max_points)} points"]
    for c in result.checks:
        if c.passed and not show_passed:
            continue
        mark = "PASS" if c.passed else "FAIL"
        label = c.description if c.passed else f"{c.id}: {c.description}"  # the id finds the check's code
        label += " (hidden)" if c.hidden else ""
        lines.append(f"  [{mark}] {label}  ({fmt(c.points)}/{fmt(c.max_points)})")
        if not c.passed:
            lines.extend(f"      {line}" for line in check_details(c).splitlines())
    return "\n".join(lines)
