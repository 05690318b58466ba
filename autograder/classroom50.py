"""Classroom 50 (foundation50/classroom50, GitHub Classroom's successor): a record as
its `result.json` and `release-body.md`, and the assignment bundle that writes them.

On each `submit/*` tag, Classroom 50's runner (`runner.py` in the classroom's
`.github/scripts/`) fetches the assignment's bundle, the folder
`CLASSROOM/autograders/ASSIGNMENT/` of the classroom50 repository, and runs
its `autograder.py` with the runner's own Python, in the student's checkout.
The autograder must leave `./result.json` there (schema
`classroom50/result/v1`); `./release-body.md`, the text of the submission's
GitHub Release, is optional. Both are public to the student. The runner
stamps the identity fields it owns (`owner`, `assignment_type`, `datetime`,
`graded_at`, `submitted_by`), validates the rest as its score collector
(`collect_scores.py`) will, and publishes them; the collector reads the
result back (at most 10 MiB) into the classroom's gradebook.

Their result counts whole points: `score` and each test's `score` are
integers, the total the sum of the tests'. genimg's points are quarter
points (`genimg_kit.parts.QUANTUM`), so a result counts quanta: 400 for the
100 points, each part exactly its points times four (`quanta`), never
rounded. One test per part: a part's points count its hidden checks, as the
record does, but a test's name is the part's, and the release body shows
the public checks only (`writers.public_view`), as Gradescope's visible
output does.

A grade the grading machine spoilt (record status "environment") is no
grade: the result is the contract's error shape (no tests, 0 of 0, which
the gradebook shows as "submitted, error", not as a student's zero), the
release body says why, and `autograder.py` sets the runner's `status=error`.
"""

import datetime
import json
import pathlib
import re
import sys

from genimg_kit.parts import QUANTUM, format_points

from autograder import bundle
from autograder.limits import DEADLINE_MARGIN_S, Limits, classroom_time_limit
from autograder.writers import public_view, text_report, write_json, write_text

SCHEMA = "classroom50/result/v1"
RESULT = "result.json"
RELEASE_BODY = "release-body.md"
# The runner's format for `datetime` (UTC); it replaces ours with the commit's date.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def quanta(points):
    """`points` counted in whole quanta (quarter points): exact, or an error, never rounded."""
    count = points / QUANTUM
    if not float(count).is_integer():
        raise ValueError(f"{points} points are not a whole number of {QUANTUM}-point quanta")
    return int(count)


def tests(record):
    """The result's tests: one per part, its points (hidden checks' included) in quanta."""
    return [{"test-name": part, "passed": all(c.passed for c in result.checks),
             "score": quanta(result.points), "max-score": quanta(result.max_points)}
            for part, result in record.parts.items()]


def result(record, env):
    """The `result.json` for `record`, its identity from the runner's environment `env`;
    `datetime` is now (the runner stamps the graded commit's date over it)."""
    graded = [] if record.status == "environment" else tests(record)
    return {
        "schema": SCHEMA,
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", ""),
        "assignment_type": env.get("ASSIGNMENT_TYPE") or "individual",
        "owner": env.get("OWNER") or env.get("USERNAME", ""),
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": env.get("COMMIT_URL", ""),
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL") or env.get("COMMIT_URL", ""),
        "datetime": datetime.datetime.now(datetime.timezone.utc).strftime(DATETIME_FORMAT),
        "score": sum(t["score"] for t in graded),
        "max-score": sum(t["max-score"] for t in graded),
        "tests": graded,
    }


def fenced(text):
    """`text` as a Markdown code block whose fence no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def release_body(record):
    """The submission's Release text (Markdown, public to the student): the score in
    whole points and genimg's, a row per part, and the public checks' report."""
    if record.status == "environment":
        lines = ["### genimg: not graded: the grading machine failed", "",
                 f"{record.message.rstrip('.')}. This is not your grade: the course staff will grade this "
                 "submission again.", ""]
    else:
        lines = [f"### genimg: {quanta(record.score)}/{quanta(record.max_score)} "
                 f"({format_points(record.score)}/{format_points(record.max_score)} points, "
                 "counted in quarter points)", "", "| Part | Result | Score |", "|---|---|---|"]
        lines += [f"| {t['test-name']} | {'PASS' if t['passed'] else 'FAIL'} | {t['score']} / {t['max-score']} |"
                  for t in tests(record)]
        lines += ["", "Each part's score also counts checks that are run only at grading and not shown here."]
    lines += ["", "The public checks:", "",
              fenced(text_report(public_view(record), show_passed=False, total=False))]
    return "\n".join(lines) + "\n"


def write(record, folder, env):
    """Writes `record`'s result.json and release-body.md into `folder` (each whole or not at all)."""
    write_json(result(record, env), pathlib.Path(folder) / RESULT)
    write_text(release_body(record), pathlib.Path(folder) / RELEASE_BODY)


# --- the bundle ------------------------------------------------------------------

AUTOGRADER_TEMPLATE = "classroom50_autograder"


def build_bundle(out, backend="tensorflow", time_limit=None, parts=None):
    """Writes the assignment's bundle into folder `out`; returns the names it holds.

    `out` becomes `CLASSROOM/autograders/ASSIGNMENT/` in the classroom50
    repository: `autograder.py` (stdlib only: the runner's Python runs it),
    `requirements.txt` and `wheels/` (what it installs, as the Gradescope
    bundle does), `BUNDLE.json`. `time_limit`: seconds `autograder.py` allows
    the grade (default: `limits.classroom_time_limit`, the cpu profile's
    deadline and its margin: GitHub's runners have no GPU).
    """
    time_limit = classroom_time_limit(Limits()) if time_limit is None else time_limit
    requirements, pinned = bundle.requirements_file("classroom50-bundle")
    wheels = bundle.project_wheels()
    manifest = bundle.bundle_manifest(backend, time_limit, parts, pinned, wheels)
    python_version = "%d.%d" % sys.version_info[:2]
    files = {
        "autograder.py": bundle.render(AUTOGRADER_TEMPLATE, BACKEND=backend, TIME_LIMIT=int(time_limit),
                                       DEADLINE_MARGIN=DEADLINE_MARGIN_S, PARTS=",".join(parts or []),
                                       PYTHON_VERSION=python_version).encode(),
        "requirements.txt": requirements.encode(),
        "BUNDLE.json": (json.dumps(manifest, indent=2) + "\n").encode(),
        **wheels,
    }
    out = pathlib.Path(out)
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return sorted(files)

