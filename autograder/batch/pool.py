"""Grading a folder of submissions in parallel workers (the library behind `genimg-grade batch`).

    records = run_batch("submissions/", "grades/", workers=2)   # {student: GradeRecord}

Every immediate child of the folder is one student's submission: a folder,
a `.py` file or an `.ipynb` notebook; the student id is its name without the
suffix. For each one the pool writes `OUT/students/<student>/results.json`
(`writers.gradescope(record)`, its `extra_data` also holding `"genimg": record.to_json()`)
and, at the end, `OUT/summary.csv`, one row per grade record found in
`OUT/students/*/results.json`.

A student id is data, whatever it says: the students' folders are all in
`OUT/students/`, apart from the batch's own files (`summary.csv`,
`batch.log`, and the class report's `report.html` and `report_students/`),
so no id can name one of those (a student called `summary.csv` has the
folder `OUT/students/summary.csv/`); summary.csv holds each id exactly,
escaped only where a spreadsheet would take it for a formula
(`writers.write_csv`); the progress lines and the log show it by
`genimg_kit.text.shown`. An OUT of an older release (`OUT/<student>/results.json`)
is still read (the class report), but a batch into it grades everyone again.

How it runs: `run_batch` is the one place that decides what to grade
(resume, --force, --retry-failed), turns what comes back into grade records,
writes them, shows progress and writes the summary. Where the gradings run
is its executor, one of two (the modules of autograder.batch):

- Local (the default): N worker processes (`concurrent.futures`, spawn
  context), each its own one-process pool, so one can be killed without
  touching the others. A worker imports the grader once and then grades
  submissions one after another with `autograder.grade.grade`, which runs the
  student's code in a sandboxed child of the worker, and returns the record
  as `to_json()`.
- Dask (`scheduler="tcp://host:8786"`): one task per submission on a Dask
  cluster. The task runs the same one-process worker on the Dask worker (a
  hung sandbox never runs inside the Dask worker itself), with the
  submission's files sent along as bytes; the records come back here and are
  written by this process, so the workers need no access to DIR or OUT.

Each submission is time-limited as a whole: past `timeout` seconds (by
default `Limits.submission_seconds()`, the longest a grade can take within
its own deadline) its worker and everything below it (the sandbox) are
killed, the submission gets a record with status "timeout" and score 0, and
a fresh worker takes its slot. Locally the timeout is kept from this
process; on Dask, by the task on its worker.

- Status "error": the submission could not be read (`grade` says so), or the
  grader itself failed on it (the sandbox would not start, the worker died);
  score 0 with the reason. Status "ok": graded, whatever the score. Nothing
  that happens to one submission stops the batch.
- Resumable: a student whose results.json holds a grade record is skipped,
  unless `force` (regrade everyone) or `retry_failed` (regrade those whose
  status is not "ok"). A results.json without one (say, downloaded from
  Gradescope) counts as not graded and is not summarised: scores are only
  ever read from grade records.
- Worker output (TensorFlow's start-up notices and the like) goes to
  `OUT/batch.log`, not to the terminal (from Dask workers: after each task,
  behind a line naming the student, the worker and the grading process).
"""

import collections
import json
import os
import pathlib
import sys

from tqdm import tqdm

from autograder import writers
from autograder.batch.dask_client import DaskExecutor
from autograder.batch.local import LocalExecutor
from autograder.batch.outcome import FAILED, BatchError, unrecorded
from autograder.limits import Limits
from autograder.record import GradeRecord
from genimg_kit.parts import PARTS
from genimg_kit.text import shown

SUBMISSION_SUFFIXES = (".py", ".ipynb")
STUDENTS_NAME = "students"  # OUT/students/<student>/: the students' files, apart from the batch's own
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.csv"
LOG_NAME = "batch.log"
SUMMARY_FIELDS = ["student", "score", *PARTS, "status", "seconds"]


def default_workers():
    """Submissions graded at once by default: half the CPU cores (each sandbox takes about one)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _limits(limits):
    """A Limits from a Limits, a dict of its fields, or None (the defaults)."""
    if limits is None:
        return Limits()
    return limits if isinstance(limits, Limits) else Limits(**limits)


def default_timeout(limits=None):
    """The whole-submission timeout: what a grade under `limits` may take, at most."""
    return _limits(limits).submission_seconds()


# --- finding submissions and what was graded --------------------------------------


def find_submissions(directory):
    """[(student id, path)] for the immediate children of `directory`, sorted by id.

    Hidden entries (".x") and `__pycache__` are ignored, as are files that are
    neither .py nor .ipynb. Two entries with one id (alice.py and alice.ipynb)
    are an error: which one counts is the instructor's call.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise BatchError(f"{directory} is not a folder of submissions")
    found = collections.defaultdict(list)
    for child in directory.iterdir():
        if child.name.startswith(".") or child.name == "__pycache__":
            continue
        if child.is_dir():
            found[child.name].append(child)
        elif child.suffix in SUBMISSION_SUFFIXES:
            found[child.stem].append(child)
    clashes = {s: paths for s, paths in found.items() if len(paths) > 1}
    if clashes:
        listing = "; ".join(f"{shown(s)}: " + ", ".join(shown(p.name) for p in sorted(ps))
                            for s, ps in sorted(clashes.items()))
        raise BatchError(f"more than one submission per student id ({listing}); keep one of each")
    return sorted((student, paths[0]) for student, paths in found.items())


def read_results(path):
    """The parsed results.json at `path`, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_record(path):
    """The GradeRecord a results.json holds (extra_data.genimg), or None when it holds none."""
    data = read_results(path)
    try:
        return GradeRecord.from_json(data["extra_data"]["genimg"])
    except Exception:  # missing, unreadable, not written by this pool, or of an older format
        return None


def results_path(out, student):
    """OUT/students/<student>/results.json: where the batch keeps a student's result."""
    return pathlib.Path(out) / STUDENTS_NAME / student / RESULTS_NAME


def recorded(out):
    """{student: GradeRecord} of every results.json in OUT that holds one, sorted by student.

    An OUT without a students/ folder is read as an older release laid it
    out, OUT/<student>/results.json.
    """
    out = pathlib.Path(out)
    pattern = f"{STUDENTS_NAME}/*/{RESULTS_NAME}" if (out / STUDENTS_NAME).is_dir() else f"*/{RESULTS_NAME}"
    records = {}
    for results in sorted(out.glob(pattern)):
        record = read_record(results)
        if record is not None:
            records[results.parent.name] = record
    return records


def needs_grading(out, student, force=False, retry_failed=False):
    if force:
        return True
    record = read_record(results_path(out, student))
    if record is None:
        return True
    return retry_failed and record.status != "ok"


# --- writing results ------------------------------------------------------------


def results_data(record):
    """A results.json's content: Gradescope's format plus the record itself."""
    data = writers.gradescope(record)
    data["extra_data"]["genimg"] = record.to_json()  # beside the isolation writers.gradescope records
    return data


def write_result(out, student, record):
    """Writes OUT/students/<student>/results.json for one finished (or stopped) submission."""
    data = results_data(record)
    writers.write_json(data, results_path(out, student))
    return data


def summary_row(student, record):
    # Exact quarter points, as in every report; blank for a part not graded.
    row = {"student": student, "score": record.score}
    for part in PARTS:
        row[part] = record.parts[part].points if part in record.parts else ""
    row["status"] = record.status
    row["seconds"] = round(record.seconds, 1)
    return row


def write_summary(out, graded=None):
    """Rebuilds OUT/summary.csv from the grade records in OUT/students/*/results.json.

    `graded` ({student: GradeRecord}, those graded in this run) stands in for
    those students' files. Returns {student: GradeRecord} of every row, sorted.
    """
    records = dict(sorted({**recorded(out), **(graded or {})}.items()))
    writers.write_csv(pathlib.Path(out) / SUMMARY_NAME, SUMMARY_FIELDS,
                      (summary_row(student, record) for student, record in records.items()))
    return records


def read_summary(out):
    """OUT/summary.csv as {student: row (a dict of text)}, each id as it was."""
    return {row["student"]: row for row in writers.read_csv(pathlib.Path(out) / SUMMARY_NAME)}


# --- grading: one loop, either executor --------------------------------------------


def _executor(workers, scheduler, log_path, limits):
    if scheduler is None:
        return LocalExecutor(workers, log_path)
    return DaskExecutor(scheduler, log_path, limits)


def run_batch(directory, out, workers=1, timeout=None, backend=None, parts=None,
              limits=None, force=False, retry_failed=False, progress=True, scheduler=None):
    """Grades every submission in `directory` into `out`; returns the summary's records.

    The result is {student: GradeRecord} for every row of OUT/summary.csv:
    the students graded in this run as their workers returned them, and the
    others as their results.json holds them. `limits`: an
    autograder.limits.Limits (or a dict of its fields); `timeout`: seconds per
    submission as a whole, None for `limits.submission_seconds()`.
    `scheduler`: a Dask scheduler's address ("tcp://host:8786") to grade on
    its workers instead of `workers` local ones.
    Raises BatchError only when the batch cannot run at all (with
    `scheduler`, also when it cannot be reached or dask is not installed);
    ValueError for an unknown part.
    """
    from autograder.grade import default_backend, graded_parts

    out = pathlib.Path(out)
    backend = backend or default_backend()
    parts = graded_parts(parts)
    limits = _limits(limits)
    timeout = default_timeout(limits) if timeout is None else float(timeout)
    submissions = find_submissions(directory)
    out.mkdir(parents=True, exist_ok=True)
    todo = [(s, p) for s, p in submissions if needs_grading(out, s, force, retry_failed)]
    skipped = len(submissions) - len(todo)
    graded = {}
    executor = _executor(workers, scheduler, out / LOG_NAME, limits)
    args = (parts, backend, limits)

    def record_of(outcome):
        try:
            return GradeRecord.from_json(outcome.record)
        except Exception as error:  # a grader bug: recorded, the batch goes on
            return GradeRecord.from_json(unrecorded(outcome.path, args, FAILED, outcome.seconds, timeout,
                                                    repr(error)))

    bar = tqdm(total=len(todo), unit="sub", desc="grading", disable=not progress or not todo,
               file=sys.stderr, dynamic_ncols=True)
    if progress and skipped:
        tqdm.write(f"{skipped} of {len(submissions)} already graded in {out} (skipped; --force regrades)",
                   file=sys.stderr)
    try:
        for outcome in executor.run(todo, args, timeout):
            record = record_of(outcome)
            write_result(out, outcome.student, record)
            graded[outcome.student] = record
            bar.update(1)
            bar.set_postfix_str(f"last: {shown(outcome.student)} {record.status}")
            if progress:
                tqdm.write(f"{shown(outcome.student)}: {record.score:g}/{record.max_score:g} {record.status} "
                           f"({record.seconds:.0f} s)", file=sys.stderr)
    except BaseException:  # Ctrl-C, or the grader cannot start: stop every worker now
        executor.kill()
        write_summary(out, graded)  # what was graded before the interruption stays summarised
        raise
    finally:
        bar.close()
        executor.close()
    return write_summary(out, graded)
