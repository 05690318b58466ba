"""Grade records of the whole mutant catalogue and the reference, for comparing
two versions of the grader (a refactor must not move a grade).

    KERAS_BACKEND=jax python -m bench.grade_records OUT.json
    diff <(python -m json.tool BEFORE.json) <(python -m json.tool AFTER.json)

Every mutant and correct variant of tests/mutants.py is graded through
`autograder.grade.grade`, sandbox and all, on its own part (and on the
convergence part it must also lose, if any); the reference is graded on every
part. OUT.json maps each case to its record's JSON without what a rerun
changes (the record's and every check's wall time, its timings, the
temporary file's path).
"""

import json
import pathlib
import sys
import tempfile
import time

from autograder.grade import grade
from tests.mutants import CORRECT_VARIANTS, GRADIENT_MUTANTS, MUTANTS, REFERENCE

RERUN_FIELDS = ("seconds", "timings", "submission")


def cases():
    """(name, source (None: the reference package), parts (None: all))."""
    for m in MUTANTS + GRADIENT_MUTANTS:
        yield f"mutant: {m.part}: {m.id}", m.source(), [m.part] + ([m.loses] if m.loses else [])
    for part, title, source in CORRECT_VARIANTS:
        yield f"variant: {part}: {title}", source, [part]
    yield "reference", None, None


def comparable(record):
    data = record.to_json()
    for field in RERUN_FIELDS:
        data.pop(field)
    for checks in data["parts"].values():
        for check in checks:
            check.pop("seconds")
    return data


def main(out):
    started = time.perf_counter()
    records = {}
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, source, parts) in enumerate(cases()):
            path = REFERENCE
            if source is not None:
                path = pathlib.Path(folder, f"case{i}.py")
                path.write_text(source)
            record = grade(path, parts=parts)
            records[name] = comparable(record)
            print(f"{record.score:6.2f}/{record.max_score:<3} {name}", flush=True)
    pathlib.Path(out).write_text(json.dumps(records, indent=1, sort_keys=True))
    print(f"{len(records)} records in {time.perf_counter() - started:.0f} s -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
