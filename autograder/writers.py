"""Writers: one GradeResult out to people, Gradescope and GitHub Classroom."""

import base64
import json

from genimg_kit.checks.report import format_part
from genimg_kit.parts import PARTS


def text_report(result, show_passed=True):
    setting = f"backend {result.backend}" + (f", {result.profile} profile" if result.profile else "")
    lines = [
        f"genimg grade for {result.submission} ({setting})",
        f"score: {result.score:.1f}/{result.max_score:.1f}",
        "",
    ]
    for part in result.parts.values():
        lines += [format_part(part, show_passed), ""]
    problems = [n for n in result.notes if "not run (" not in n]
    skipped = len(result.notes) - len(problems)
    if skipped:
        lines.append(f"{skipped} top-level statements were not run (training, plotting, downloads; "
                     "see the README's grading rule)")
    lines += problems
    lines.append(f"graded in {result.seconds:.1f} s")
    return "\n".join(lines)


def _check_output(check):
    parts = [check.message] if check.message else []
    if check.counterexample:
        parts.append("Counterexample (minimal):\n" + check.counterexample)
    if check.hint and not check.passed:
        parts.append("Hint: " + check.hint)
    return "\n".join(parts) or "passed"


def _all_checks(result):
    for part in result.parts.values():
        yield from part.checks


def gradescope(result):
    """Gradescope's results.json: one test per check, tagged with its part.

    Hidden checks are visible only once the grades are published.
    """
    tests = [
        {
            "name": f"{c.part}: {c.name}",
            "number": f"{list(result.parts).index(c.part) + 1}.{i + 1}",
            "score": c.points,
            "max_score": c.max_points,
            "status": "passed" if c.passed else "failed",
            "output": _check_output(c),
            "output_format": "text",
            "tags": list(PARTS[c.part].tags),
            "visibility": "after_published" if c.hidden else "visible",
        }
        for part in result.parts.values()
        for i, c in enumerate(part.checks)
    ]
    return {
        "score": sum(t["score"] for t in tests),
        "max_score": sum(t["max_score"] for t in tests),
        "execution_time": round(result.seconds, 1),
        "output": text_report(result, show_passed=False),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def classroom(result):
    """The JSON that GitHub Classroom's grader actions put in their `result` output."""
    checks = list(_all_checks(result))
    return {
        "version": 1,
        "status": "pass" if all(c.passed for c in checks) else "fail",
        "max_score": result.max_score,
        "tests": [
            {
                "name": f"{c.part}: {c.name}",
                "status": "pass" if c.passed else "fail",
                "score": c.points,
                "message": _check_output(c),
                "test_code": f"genimg-grade --parts {c.part}",
                "filename": "",
                "line_no": 0,
                "execution_time": f"{c.seconds:.2f}s",
            }
            for c in checks
        ],
    }


def write_json(data, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)


def encode_classroom(data):
    return base64.b64encode(json.dumps(data).encode()).decode()
