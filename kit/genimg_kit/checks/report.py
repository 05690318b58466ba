"""Human-readable verdicts: one block per part, one line per check.

`check_details` is the one text of a failed check (message, minimal
counterexample, hint); the part block here and every writer of the grader
show it as it is.

A message can hold what the student's code raised (on one line, after
"your code raised"), so its text is plain (`genimg_kit.text`) and only its
first line, which the check wrote, starts a line of `check_details`: every
other line is indented; in the part block every line of the details is
indented below its check's [FAIL] line.
"""

from genimg_kit.parts import format_points as fmt
from genimg_kit.parts import part_points
from genimg_kit.text import one_line, plain


def check_details(c):
    """What a failed check says; "passed" for one that passed."""
    if c.passed:
        return "passed"
    first, *rest = plain(c.message).split("\n")
    lines = [first] + [f"  {line}" for line in rest]
    if c.counterexample:
        lines.append("counterexample (minimal):")
        lines.extend(f"  {line}" for line in plain(c.counterexample).split("\n"))
    if c.diagnosis:
        lines.append(f"diagnosis: {one_line(c.diagnosis)}")
    if c.hint:
        lines.append(f"hint: {one_line(c.hint)}")
    return "\n".join(lines)


def format_part(result, show_passed=True):
    held = part_points(result.part) - result.max_points  # the hidden checks', when they did not run
    if held > 0:
        lines = [f"{result.part}: public checks {fmt(result.points)}/{fmt(result.max_points)}; "
                 f"{fmt(held)} more points are checked at grading"]
    else:
        lines = [f"{result.part}: {fmt(result.points)}/{fmt(result.max_points)} points"]
    said = None  # the last failure's details: a reason shared by later checks is said once
    for c in result.checks:
        if c.passed and not show_passed:
            continue
        mark = "PASS" if c.passed else "FAIL"
        label = c.description if c.passed else f"{c.id}: {c.description}"  # the id finds the check's code
        label += " (hidden)" if c.hidden else ""
        lines.append(f"  [{mark}] {label}  ({fmt(c.points)}/{fmt(c.max_points)})")
        if not c.passed:
            details = check_details(c)
            lines.extend(f"      {line}" for line in ("(the same reason as above)" if details == said
                                                       else details).split("\n"))
            said = details
    return "\n".join(lines)
