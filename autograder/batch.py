"""Grading a whole class at once: `genimg-grade batch DIR --workers N --out OUTDIR`.

Every immediate child of DIR is one student's submission: a folder, a `.py`
file or an `.ipynb` notebook; the student id is its name without the suffix.
For each one the batch writes `OUTDIR/<student>/results.json` (Gradescope's
format, from `writers.gradescope`, plus an `extra_data.genimg` record of the
batch: status, wall seconds, points per part) and, at the end,
`OUTDIR/summary.csv` rebuilt from every results.json present.

How it runs:

- N worker processes (`concurrent.futures`, spawn context), each its own
  one-process pool, so one can be killed without touching the others. A
  worker imports the grader once and then grades submissions one after
  another with `autograder.grade.grade`, which already runs the student's
  code in a sandboxed child of the worker.
- Each submission is time-limited as a whole from this process: past
  `--timeout` seconds its worker and everything below it (the sandbox) are
  killed, the submission is recorded with status "timeout" and score 0, and
  a fresh worker takes its slot.
- Status "error": the submission could not be read (not a notebook, no code)
  or the grader itself failed on it (the sandbox would not start, the worker
  died); score 0 with the reason in `output`. Status "ok": graded, whatever
  the score. Nothing that happens to one submission stops the batch.
- Resumable: a student whose results.json exists is skipped, unless --force
  (regrade everyone) or --retry-failed (regrade those with status timeout or
  error).
- Worker output (TensorFlow's start-up notices and the like) goes to
  `OUTDIR/batch.log`, not to the terminal.
"""

import argparse
import collections
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import csv
import datetime
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

from autograder import cli
from genimg_kit.parts import PARTS, part_points

STATUSES = ("ok", "timeout", "error")
SUBMISSION_SUFFIXES = (".py", ".ipynb")
RESULTS_NAME = "results.json"
SUMMARY_NAME = "summary.csv"
LOG_NAME = "batch.log"
DEFAULT_TIMEOUT = 1200.0  # above the grader's own limits: load 120 s + 6 parts x 120 s + start-up


class BatchError(Exception):
    """The batch cannot run at all (bad folder, duplicate student ids, broken grader)."""


# --- finding submissions -----------------------------------------------------


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


def _status_of(data):
    return (data.get("extra_data") or {}).get("genimg", {}).get("status", "ok")


def needs_grading(out, student, force=False, retry_failed=False):
    if force:
        return True
    data = read_results(pathlib.Path(out) / student / RESULTS_NAME)
    if data is None:
        return True
    return retry_failed and _status_of(data) != "ok"


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
    """Grades one submission; returns a plain dict (pickled back to the parent)."""
    from autograder import writers
    from autograder.grade import Limits, grade
    from autograder.sandbox import GraderError
    from autograder.submission import UnreadableSubmission, read_submission

    status, message = "ok", ""
    try:
        read_submission(path)  # parsing only (milliseconds): tells "unreadable" apart
    except UnreadableSubmission as error:
        status, message = "error", f"the submission could not be read: {error}"
    try:
        result = grade(path, parts=parts, backend=backend, limits=Limits(**limits))
    except GraderError as error:
        return {"status": "error", "message": f"the grader could not run on this submission: {error}",
                "results": None, "parts": None}
    return {
        "status": status,
        "message": message,
        "results": writers.gradescope(result),
        "parts": {part: round(r.points, 4) for part, r in result.parts.items()},
    }


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


def _failure_results(message, parts):
    """A Gradescope results.json for a submission that produced no grade."""
    max_score = sum(part_points(p) for p in parts)
    return {
        "score": 0.0,
        "max_score": float(max_score),
        "execution_time": 0.0,
        "output": message,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def _write_json_atomic(data, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(temporary, path)


def record(out, student, path, status, seconds, parts, backend, outcome=None, message=""):
    """Writes OUTDIR/<student>/results.json for one finished (or killed) submission."""
    outcome = outcome or {}
    data = outcome.get("results")
    message = outcome.get("message") or message
    if data is None:
        data = _failure_results(message, parts)
    elif message:
        data["output"] = message + "\n\n" + data.get("output", "")
    part_scores = outcome.get("parts") or {p: 0.0 for p in parts}
    data["extra_data"] = {"genimg": {
        "student": student,
        "submission": str(path),
        "status": status,
        "message": message,
        "seconds": round(seconds, 2),
        "backend": backend,
        "parts": part_scores,
        "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }}
    _write_json_atomic(data, pathlib.Path(out) / student / RESULTS_NAME)
    return data


def _part_scores(data):
    """Points per part: from the batch record, else summed from the tests.

    A test's part is the prefix of its name ("kl_loss: ..."), as
    writers.gradescope names them, or failing that a tag that is a part id.
    """
    recorded = (data.get("extra_data") or {}).get("genimg", {}).get("parts")
    if recorded is not None:
        return recorded
    scores = {}
    for test in data.get("tests", []):
        prefix = str(test.get("name", "")).split(":", 1)[0].strip()
        candidates = [prefix] + list(test.get("tags", []))
        part = next((c for c in candidates if c in PARTS), None)
        if part is not None:
            scores[part] = scores.get(part, 0.0) + float(test.get("score", 0.0))
    return scores


def write_summary(out):
    """Rebuilds OUTDIR/summary.csv from every OUTDIR/*/results.json; returns its rows."""
    out = pathlib.Path(out)
    rows = []
    for results in sorted(out.glob(f"*/{RESULTS_NAME}")):
        data = read_results(results)
        if data is None:
            continue
        record_ = (data.get("extra_data") or {}).get("genimg", {})
        scores = _part_scores(data)
        # Points to 0.01, as the Gradescope totals (writers.gradescope).
        row = {"student": results.parent.name, "score": round(float(data.get("score", 0.0)), 2)}
        for part in PARTS:
            row[part] = round(float(scores[part]), 2) if part in scores else ""
        row["status"] = record_.get("status", "ok")
        row["seconds"] = round(float(record_.get("seconds", data.get("execution_time", 0.0))), 1)
        rows.append(row)
    temporary = out / (SUMMARY_NAME + ".tmp")
    with open(temporary, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["student", "score", *PARTS, "status", "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, out / SUMMARY_NAME)
    return rows


def run_batch(directory, out, workers=1, timeout=DEFAULT_TIMEOUT, backend=None, parts=None,
              limits=None, force=False, retry_failed=False, progress=True):
    """Grades every submission in `directory` into `out`; returns the summary rows.

    `limits` is a dict of autograder.grade.Limits fields. Raises BatchError
    only when the batch cannot run at all.
    """
    from autograder.grade import PART_ORDER, default_backend

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    backend = backend or default_backend()
    parts = [p for p in PART_ORDER if parts is None or p in parts]
    limits = dict(limits or {})
    submissions = find_submissions(directory)
    todo = collections.deque(
        (s, p) for s, p in submissions if needs_grading(out, s, force, retry_failed))
    skipped = len(submissions) - len(todo)

    bar = tqdm(total=len(todo), unit="sub", desc="grading", disable=not progress or not todo,
               file=sys.stderr, dynamic_ncols=True)
    if progress and skipped:
        tqdm.write(f"{skipped} of {len(submissions)} already graded in {out} (skipped; --force regrades)",
                   file=sys.stderr)

    def finish(student, path, status, seconds, outcome=None, message=""):
        data = record(out, student, path, status, seconds, parts, backend, outcome, message)
        bar.update(1)
        bar.set_postfix_str(f"last: {student} {status}")
        if progress:
            tqdm.write(f"{student}: {data['score']:g}/{data.get('max_score', 0):g} {status} "
                       f"({seconds:.0f} s)", file=sys.stderr)

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
                        outcome = future.result()
                    except BrokenProcessPool:
                        finish(student, path, "error", seconds,
                               message="the grading worker died while grading this submission "
                                       "(killed from outside, or out of memory)")
                        slot.kill()
                        slots[index] = _Slot(context, log_path)
                        continue
                    except Exception as error:  # a grader bug: recorded, the batch goes on
                        finish(student, path, "error", seconds,
                               message=f"the grader failed on this submission: {error!r}")
                        continue
                    finish(student, path, outcome["status"], seconds, outcome)
                elif seconds > timeout:
                    slot.job = None
                    slot.kill()
                    finish(student, path, "timeout", seconds,
                           message=f"grading took longer than {timeout:g} s and was stopped; "
                                   "look for an endless loop or very slow code")
                    slots[index] = _Slot(context, log_path)
    except BaseException:  # Ctrl-C, or the grader cannot start: stop every worker now
        for slot in slots:
            slot.kill()
        slots = []
        write_summary(out)  # what was graded before the interruption stays summarised
        raise
    finally:
        bar.close()
        for slot in slots:
            slot.close()
    return write_summary(out)


# --- command line -------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="genimg-grade batch",
        description="Grade every submission in DIR (each child: a folder, .py or .ipynb; "
                    "student id = its name without suffix) into OUTDIR/<student>/results.json "
                    "and OUTDIR/summary.csv.")
    parser.add_argument("directory", metavar="DIR", help="folder with one submission per student")
    parser.add_argument("--out", required=True, metavar="OUTDIR", help="where results go")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2), metavar="N",
                        help="submissions graded at once (default: half the CPU cores); each "
                             "needs up to --memory-mb of memory")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds allowed per submission as a whole (default {DEFAULT_TIMEOUT:g}); "
                             "past it the submission is killed and recorded as 'timeout'")
    parser.add_argument("--force", action="store_true", help="regrade students already graded")
    parser.add_argument("--retry-failed", action="store_true",
                        help="regrade students whose status is timeout or error")
    cli.add_grading_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or per-student lines")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.parts:
        unknown = [p for p in args.parts if p not in PARTS]
        if unknown:
            print(f"genimg-grade batch: unknown part(s) {', '.join(unknown)}; "
                  f"choose from {', '.join(PARTS)}", file=sys.stderr)
            return 2
    started = time.monotonic()
    try:
        rows = run_batch(
            args.directory, args.out, workers=args.workers, timeout=args.timeout,
            backend=args.backend, parts=args.parts,
            limits=cli.grading_limits(args),
            force=args.force, retry_failed=args.retry_failed, progress=not args.no_progress)
    except BatchError as error:
        print(f"genimg-grade batch: {error}", file=sys.stderr)
        return 2
    counts = collections.Counter(row["status"] for row in rows)
    print(f"{len(rows)} students in {pathlib.Path(args.out) / SUMMARY_NAME}: "
          + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
          + f" ({time.monotonic() - started:.0f} s)")
    return 0
