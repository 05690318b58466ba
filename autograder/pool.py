"""Grading a folder of submissions in parallel workers (the library behind `genimg-grade batch`).

    records = run_batch("submissions/", "grades/", workers=2)   # {student: GradeRecord}

Every immediate child of the folder is one student's submission: a folder,
a `.py` file or an `.ipynb` notebook; the student id is its name without the
suffix. For each one the pool writes `OUT/<student>/results.json`
(`writers.gradescope(record)` plus `"extra_data": {"genimg": record.to_json()}`)
and, at the end, `OUT/summary.csv`, one row per grade record found in
`OUT/*/results.json`.

How it runs:

- N worker processes (`concurrent.futures`, spawn context), each its own
  one-process pool, so one can be killed without touching the others. A
  worker imports the grader once and then grades submissions one after
  another with `autograder.grade.grade`, which runs the student's code in a
  sandboxed child of the worker, and returns the record as `to_json()`.
- Each submission is time-limited as a whole from this process: past
  `timeout` seconds (by default `Limits.submission_seconds(parts)`, the
  longest a grade can take under its own limits) its worker and everything
  below it (the sandbox) are killed, the submission gets a record with
  status "timeout" and score 0, and a fresh worker takes its slot.
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
  `OUT/batch.log`, not to the terminal.
"""

import collections
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import csv
import json
import multiprocessing
import os
import pathlib
import signal
import sys
import threading
import time

import psutil
from tqdm import tqdm

from autograder import writers
from autograder.limits import Limits
from autograder.record import GradeRecord
from genimg_kit.parts import PARTS

SUBMISSION_SUFFIXES = (".py", ".ipynb")
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.csv"
LOG_NAME = "batch.log"
SUMMARY_FIELDS = ["student", "score", *PARTS, "status", "seconds"]


class BatchError(Exception):
    """The batch cannot run at all (bad folder, duplicate student ids, broken grader)."""


def default_workers():
    """Submissions graded at once by default: half the CPU cores (each sandbox takes about one)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _limits(limits):
    """A Limits from a Limits, a dict of its fields, or None (the defaults)."""
    if limits is None:
        return Limits()
    return limits if isinstance(limits, Limits) else Limits(**limits)


def default_timeout(limits=None, parts=None):
    """The whole-submission deadline: what `parts` may take under `limits`, at most."""
    return _limits(limits).submission_seconds(parts)


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
        listing = "; ".join(f"{s}: " + ", ".join(p.name for p in sorted(ps)) for s, ps in sorted(clashes.items()))
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


def needs_grading(out, student, force=False, retry_failed=False):
    if force:
        return True
    record = read_record(pathlib.Path(out) / student / RESULTS_NAME)
    if record is None:
        return True
    return retry_failed and record.status != "ok"


# --- writing results ------------------------------------------------------------


def results_data(record):
    """A results.json's content: Gradescope's format plus the record itself."""
    data = writers.gradescope(record)
    data["extra_data"] = {"genimg": record.to_json()}
    return data


def write_result(out, student, record):
    """Writes OUT/<student>/results.json for one finished (or stopped) submission."""
    data = results_data(record)
    writers.write_json(data, pathlib.Path(out) / student / RESULTS_NAME)
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
    """Rebuilds OUT/summary.csv from the grade records in OUT/*/results.json.

    `graded` ({student: GradeRecord}, those graded in this run) stands in for
    those students' files. Returns {student: GradeRecord} of every row, sorted.
    """
    out = pathlib.Path(out)
    records = {}
    for results in out.glob(f"*/{RESULTS_NAME}"):
        record = read_record(results)
        if record is not None:
            records[results.parent.name] = record
    records.update(graded or {})
    records = dict(sorted(records.items()))

    def write(f):
        writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        writer.writerows(summary_row(student, record) for student, record in records.items())

    writers.write_atomic(out / SUMMARY_NAME, write)
    return records


# --- the worker side (runs in the spawned worker processes) ------------------


def _init_worker(log_path):
    # The worker's own stdout/stderr (library notices) go to the batch log;
    # the sandbox's output is captured by the sandbox itself.
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Ctrl-C is the parent's to handle: it kills the workers it started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # If the parent dies without killing us (SIGKILL, a crash), take the sandbox
    # down and leave too, instead of waiting for work forever.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent_pid, interval=1.0):
    while os.getppid() == parent_pid:
        time.sleep(interval)
    _kill_all(psutil.Process().children(recursive=True))
    os._exit(1)


def _kill_all(processes):
    """SIGKILLs each process; a sandbox leads its own process group: take the group too."""
    for process in processes:
        try:
            if os.getpgid(process.pid) == process.pid:  # checked while the pid is surely ours
                os.killpg(process.pid, signal.SIGKILL)
            process.kill()
        except (psutil.Error, ProcessLookupError, PermissionError):
            pass


def _warm():
    """Imports the grader (seconds, once per worker); returns the worker's pid."""
    import autograder.grade  # noqa: F401

    return os.getpid()


def _grade_one(path, parts, backend, limits):
    """Grades one submission; returns its record as `to_json()` (pickled back to the parent)."""
    from autograder.grade import failed_record, grade
    from autograder.sandbox import GraderError

    try:
        record = grade(path, parts=parts, backend=backend, limits=limits)
    except GraderError as error:
        record = failed_record(path, backend, parts, "error",
                               f"the grader could not run on this submission: {error}")
    return record.to_json()


# --- the parent side ----------------------------------------------------------


class _Slot:
    """One worker process (a one-process pool) and the submission it is grading."""

    def __init__(self, context, log_path):
        self.executor = cf.ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_init_worker, initargs=(str(log_path),))
        self.warm = self.executor.submit(_warm)
        self.pid = None
        self.job = None  # (future, student, path, started)

    @property
    def ready(self):
        if self.pid is None and self.warm.done():
            self.pid = self.warm.result()  # raises if the grader cannot even be imported
        return self.pid is not None and self.job is None

    def kill(self):
        """Kills the worker and every process below it (the sandbox runs in its own session)."""
        # Before warm-up ends the pid is unknown: ask the pool (private, best effort).
        pids = [self.pid] if self.pid else list(getattr(self.executor, "_processes", None) or {})
        processes = []
        for pid in pids:
            try:
                worker = psutil.Process(pid)
                processes += [worker] + worker.children(recursive=True)
            except psutil.Error:
                pass
        _kill_all(processes)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)


def run_batch(directory, out, workers=1, timeout=None, backend=None, parts=None,
              limits=None, force=False, retry_failed=False, progress=True):
    """Grades every submission in `directory` into `out`; returns the summary's records.

    The result is {student: GradeRecord} for every row of OUT/summary.csv:
    the students graded in this run as their workers returned them, and the
    others as their results.json holds them. `limits`: an
    autograder.limits.Limits (or a dict of its fields); `timeout`: seconds per
    submission as a whole, None for `limits.submission_seconds(parts)`.
    Raises BatchError only when the batch cannot run at all; ValueError for
    an unknown part.
    """
    from autograder.grade import default_backend, failed_record, graded_parts

    out = pathlib.Path(out)
    backend = backend or default_backend()
    parts = graded_parts(parts)
    limits = _limits(limits)
    timeout = default_timeout(limits, parts) if timeout is None else float(timeout)
    submissions = find_submissions(directory)
    out.mkdir(parents=True, exist_ok=True)
    todo = collections.deque(
        (s, p) for s, p in submissions if needs_grading(out, s, force, retry_failed))
    skipped = len(submissions) - len(todo)
    graded = {}

    bar = tqdm(total=len(todo), unit="sub", desc="grading", disable=not progress or not todo,
               file=sys.stderr, dynamic_ncols=True)
    if progress and skipped:
        tqdm.write(f"{skipped} of {len(submissions)} already graded in {out} (skipped; --force regrades)",
                   file=sys.stderr)

    def finish(student, record):
        write_result(out, student, record)
        graded[student] = record
        bar.update(1)
        bar.set_postfix_str(f"last: {student} {record.status}")
        if progress:
            tqdm.write(f"{student}: {record.score:g}/{record.max_score:g} {record.status} "
                       f"({record.seconds:.0f} s)", file=sys.stderr)

    def failed(path, status, message, seconds):
        return failed_record(path, backend, parts, status, message, seconds)

    context = multiprocessing.get_context("spawn")
    log_path = out / LOG_NAME
    slots = [_Slot(context, log_path) for _ in range(max(1, min(workers, len(todo))))] if todo else []
    try:
        while todo or any(slot.job for slot in slots):
            for slot in slots:
                try:
                    free = slot.ready
                except Exception as error:  # the grader cannot start in a worker
                    raise BatchError(f"a grading worker could not start: {error!r}") from error
                if free and todo:
                    student, path = todo.popleft()
                    future = slot.executor.submit(_grade_one, str(path), parts, backend, limits)
                    slot.job = (future, student, path, time.monotonic())
            waiting = [slot.job[0] if slot.job else slot.warm for slot in slots
                       if slot.job or slot.pid is None]
            deadlines = [slot.job[3] + timeout for slot in slots if slot.job]
            wait_for = max(0.05, min(deadlines) - time.monotonic()) if deadlines else 1.0
            cf.wait(waiting, timeout=min(wait_for, 1.0), return_when=cf.FIRST_COMPLETED)

            for index, slot in enumerate(slots):
                if not slot.job:
                    continue
                future, student, path, started = slot.job
                seconds = time.monotonic() - started
                if future.done():
                    slot.job = None
                    try:
                        record = GradeRecord.from_json(future.result())
                    except BrokenProcessPool:
                        finish(student, failed(path, "error", "the grading worker died while grading this "
                                               "submission (killed from outside, or out of memory)", seconds))
                        slot.kill()
                        slots[index] = _Slot(context, log_path)
                        continue
                    except Exception as error:  # a grader bug: recorded, the batch goes on
                        finish(student, failed(path, "error", f"the grader failed on this submission: {error!r}",
                                               seconds))
                        continue
                    finish(student, record)
                elif seconds > timeout:
                    slot.job = None
                    slot.kill()
                    finish(student, failed(path, "timeout", f"grading took longer than {timeout:g} s and was "
                                           "stopped; look for an endless loop or very slow code", seconds))
                    slots[index] = _Slot(context, log_path)
    except BaseException:  # Ctrl-C, or the grader cannot start: stop every worker now
        for slot in slots:
            slot.kill()
        slots = []
        write_summary(out, graded)  # what was graded before the interruption stays summarised
        raise
    finally:
        bar.close()
        for slot in slots:
            slot.close()
    return write_summary(out, graded)
