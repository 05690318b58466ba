"""Writers: one GradeRecord out to people, Gradescope and GitHub Classroom.

One formatter per output, and one text per failed check
(`genimg_kit.checks.report.check_details`) shared by all of them.

What a submission wrote reaches them as plain text (the record holds only
that, `autograder.record`), and the text report shows it where it cannot
pass for the report's own lines: at column 0 only the grader's lines; what
the submission printed, and the statements that failed while it loaded,
each line behind "  | " under a line saying what it is; a check's details
indented below its [FAIL] line; a status message's further lines behind
"  | ". The CSV files (`write_csv`) hold no cell a spreadsheet would run.
"""

import base64
import csv
import dataclasses
import json
import os
import pathlib

from genimg_kit.checks.battery import battery
from genimg_kit.checks.report import check_details, format_part
from genimg_kit.checks.results import PartResult
from genimg_kit.parts import PARTS, format_points
from genimg_kit.text import quoted

from autograder.isolation.confine import describe as describe_isolation
from autograder.hidden import HIDDEN
from autograder.record import PRINTED_CHARS


def text_report(record, show_passed=True, total=True):
    """The report people read; `total=False` leaves out the score line."""
    setting = f"backend {record.backend}" + (f", {record.profile} profile" if record.profile else "")
    lines = [f"genimg grade for {record.submission} ({setting})"]
    if record.isolation:
        lines.append(describe_isolation(record.isolation))
    if record.status != "ok":
        first, _, rest = record.message.partition("\n")
        lines += [f"status: {record.status}: {first}"] + (quoted(rest) if rest else [])
    if total:
        lines.append(f"score: {format_points(record.score)}/{format_points(record.max_score)}")
    tampered = [n.text for n in record.notes if n.kind == "tampered"]
    if tampered:
        lines += ["tampering with the probes or the answer pipe was detected (such a part scores 0):"]
        lines += quoted("\n".join(tampered))
    slow = [n.text for n in record.notes if n.kind == "slow_machine"]
    if slow:
        lines += ["this machine is slower than the grader's limits expect (not the submission's doing):"]
        lines += quoted("\n".join(slow))
    lines.append("")
    for part in record.parts.values():
        lines += [format_part(part, show_passed)] + _shared_losses(record, part) + [""]
    skipped = [n for n in record.notes if n.kind == "skipped"]
    if skipped:
        lines.append(f"{len(skipped)} top-level statements were not run: the grader runs only imports, "
                     "definitions and constants (no training, plotting or downloads)")
    failed = [n.text for n in record.notes if n.kind == "load_error"]
    if failed:
        lines += ["these statements failed while the submission loaded:"] + quoted("\n".join(failed))
    for note in (n for n in record.notes if n.kind == "printed"):
        lines += [f"the submission printed (at most its last {PRINTED_CHARS} characters):"] + quoted(note.text)
    lines.append(f"graded in {record.seconds:.1f} s")
    return "\n".join(lines)


def _shared_losses(record, result):
    """For a convergence part that lost points: the pieces it trains that lost points in
    their own parts too (by design it trains them together, so one bug can cost here again)."""
    if "convergence" not in PARTS[result.part].tags or result.points == result.max_points:
        return []
    losing = [p for p, r in record.parts.items() if p != result.part and len(PARTS[p].names) == 1
              and PARTS[p].names[0] in PARTS[result.part].names and r.points < r.max_points]
    if not losing:
        return []
    return [f"  ({result.part} trains {', '.join(PARTS[result.part].names)} together; "
            f"{' and '.join(losing)} also lost points in {'their' if len(losing) > 1 else 'its'} own "
            "part: fix that first, it may be what costs points here)"]


def public_view(record):
    """The record as a student may see it before grades are published: the public
    checks only (a part's points then say nothing about its hidden checks)."""
    parts = {part: PartResult(part, [c for c in result.checks if not c.hidden])
             for part, result in record.parts.items()}
    return dataclasses.replace(record, parts=parts)


def test_number(check_id):
    """Gradescope's `number` of a check: its part's place in the points table, then
    its place in the part's full battery (the same whichever parts are graded)."""
    part = check_id.split(".", 1)[0]
    ids = [c.id for c in battery(part, HIDDEN)]
    return f"{list(PARTS).index(part) + 1}.{ids.index(check_id) + 1}"


def gradescope(record):
    """Gradescope's results.json: one test per check, tagged with its part.

    Hidden checks are visible only once the grades are published, and so is
    the total (Gradescope hides it from students when any test is hidden):
    the visible top-level output is the public checks' report, without a score.
    """
    tests = [
        {
            "name": f"{c.part}: {c.description}",
            "number": test_number(c.id),
            "score": c.points,
            "max_score": c.max_points,
            "status": "passed" if c.passed else "failed",
            "output": check_details(c),
            "output_format": "text",
            "tags": list(PARTS[c.part].tags),
            "visibility": "after_published" if c.hidden else "visible",
        }
        for c in record.checks()
    ]
    return {
        "score": sum(t["score"] for t in tests),
        "max_score": sum(t["max_score"] for t in tests),
        "execution_time": round(record.seconds, 1),
        "output": text_report(public_view(record), show_passed=False, total=False),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"isolation": record.isolation},
        "tests": tests,
    }


def classroom(record):
    """The JSON that GitHub Classroom's grader actions put in their `result` output.

    A grade the grading machine spoilt (status "environment") is an error, not
    a fail: the reporter then prints each spoilt check's message.
    """
    checks = list(record.checks())
    spoilt = record.status == "environment"

    def status(c):
        if c.passed:
            return "pass"
        return "error" if spoilt and c.message == record.message else "fail"

    return {
        "version": 1,
        "status": "error" if spoilt else "pass" if all(c.passed for c in checks) else "fail",
        "max_score": record.max_score,
        "isolation": record.isolation,  # the reporter reads none of it; the step's log shows it in words
        "tests": [
            {
                "name": f"{c.part}: {c.description}",
                "status": status(c),
                "score": c.points,
                "message": check_details(c),
                "test_code": f"genimg-grade --parts {c.part}",
                "filename": "",
                "line_no": 0,
                "execution_time": f"{c.seconds:.2f}s",
            }
            for c in checks
        ],
    }


def write_atomic(path, write):
    """Writes `path` whole or not at all, through `write(file)`: a results file
    rewritten as parts end may be read, or the grader killed, at any moment."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    if temporary.is_symlink():
        temporary.unlink()
    with open(temporary, "w", newline="", encoding="utf-8") as f:
        write(f)
    os.replace(temporary, path)  # replaces a planted file or link, never writes through it


def write_json(data, path):
    write_atomic(path, lambda f: json.dump(data, f, indent=2))


def write_text(text, path):
    write_atomic(path, lambda f: f.write(text))


# What starts a spreadsheet formula (OWASP's CSV injection list), and the quote that
# escapes one: a cell starting with it is escaped too, so that reading back is exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value):
    """`value` as a CSV cell no spreadsheet runs: text that starts like a formula
    gets a leading "'"; numbers (and blanks) stay as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_text(cell):
    """The text a `csv_cell` held (the inverse of csv_cell on text)."""
    return cell[1:] if isinstance(cell, str) and cell.startswith("'") else cell


def write_csv(path, fields, rows):
    """Writes `rows` (dicts of `fields`) as a CSV at `path`, every cell through `csv_cell`."""
    def write(f):
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)

    write_atomic(path, write)


def read_csv(path):
    """The rows of a CSV `write_csv` wrote, as dicts of text, each cell as it was written."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{key: csv_text(cell) for key, cell in row.items()} for row in csv.DictReader(f)]


def encode_classroom(data):
    return base64.b64encode(json.dumps(data).encode()).decode()
