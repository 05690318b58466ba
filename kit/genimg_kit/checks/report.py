"""Human-readable verdicts: one block per part, one line per check."""


def format_part(result, show_passed=True):
    lines = [f"{result.part}: {result.points:.1f}/{result.max_points:.1f} points"]
    for c in result.checks:
        if c.passed and not show_passed:
            continue
        mark = "PASS" if c.passed else "FAIL"
        label = f"{c.name} (hidden)" if c.hidden else c.name
        lines.append(f"  [{mark}] {label}  ({c.points:.1f}/{c.max_points:.1f})")
        if not c.passed:
            lines.extend(f"      {line}" for line in c.message.splitlines())
            if c.counterexample:
                lines.append("      counterexample (minimal):")
                lines.extend(f"        {line}" for line in c.counterexample.splitlines())
            if c.hint:
                lines.append(f"      hint: {c.hint}")
    return "\n".join(lines)
