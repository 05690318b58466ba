"""One way through the grader: submission -> sandbox -> battery -> record.

    record = grade("submission.ipynb")

Every consumer (CLI, batch pool, nbgrader reconcile, the Gradescope bundle,
the project's tests) calls `grade` and hands the `GradeRecord` to a writer
in autograder.writers.
"""

import os
import pathlib
import time

from autograder import container as containers
from autograder.hidden import HIDDEN
from autograder.limits import Limits
from autograder.record import GradeRecord, Note
from autograder.sandbox import RemoteSubject, Sandbox
from autograder.submission import UnreadableSubmission, read_submission
from genimg_kit.checks.battery import failed_part, run_part
from genimg_kit.checks.core import SubmissionDied
from genimg_kit.parts import PARTS, missing_names


def default_backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def graded_parts(parts=None):
    """`parts` in the points table's order (the cheap ones first); all when None."""
    unknown = [p for p in parts or () if p not in PARTS]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return [p for p in PARTS if parts is None or p in parts]


def failed_record(submission, backend, parts, status, message, seconds=0.0):
    """A record of a submission that produced no grade: every check failed with `message`."""
    return GradeRecord(str(submission), backend,
                       {part: failed_part(part, message, HIDDEN) for part in graded_parts(parts)},
                       status=status, message=message, seconds=seconds)


def grade(path, parts=None, backend=None, limits=None):
    """Grades the submission at `path`; always returns a GradeRecord.

    Raises autograder.sandbox.GraderError only when the grader itself cannot
    run (the sandbox fails to start before any student code is loaded).
    """
    started = time.perf_counter()
    parts = graded_parts(parts)
    backend = backend or default_backend()
    limits = limits or Limits()
    container = containers.detect()
    if not limits.container_fits(container, backend):
        return failed_record(path, backend, parts, "environment", limits.container_message(container, backend))
    try:
        submission = read_submission(path)
    except UnreadableSubmission as error:
        return failed_record(path, backend, parts, "error", f"the submission could not be read: {error}",
                             time.perf_counter() - started)
    notes, results, profile = list(submission.skipped), {}, ""

    sandbox, defined, load_error, environment = None, [], None, ""
    walls = {}  # graded name -> the part whose limit it ran into (a convergence part would again)
    timings = {"read": time.perf_counter() - started, "sandbox start": 0.0, "load": 0.0}
    try:
        for part in parts:
            if sandbox is None or sandbox.death:
                first_start = sandbox is None
                if sandbox is not None:
                    _close(sandbox, notes)
                stage = time.perf_counter()
                sandbox = Sandbox(backend, limits, container)
                timings["sandbox start"] += time.perf_counter() - stage
                profile = sandbox.accelerator if limits.profile == "auto" else limits.profile
                stage = time.perf_counter()
                try:
                    defined, errors = sandbox.load(submission.units, limits.load_seconds)
                    timings["load"] += time.perf_counter() - stage
                    if first_start:
                        notes.extend(Note("load_error", e) for e in errors)
                except SubmissionDied as error:
                    load_error = f"the submission failed while loading: {error}"
            stage = time.perf_counter()
            if load_error is not None:
                results[part] = failed_part(part, load_error, HIDDEN)
            elif missing := missing_names(part, defined):
                results[part] = failed_part(part, f"{', '.join(f'`{n}`' for n in missing)} not defined "
                                                  "at the top level of the submission", HIDDEN)
            elif hung := [n for n in PARTS[part].names if n in walls]:
                results[part] = failed_part(part, "not run: " + "; ".join(
                    f"`{n}` did not answer within its own part's limit ({walls[n]}), and training "
                    "with it would wait as long again" for n in hung), HIDDEN)
            else:
                deadline = time.monotonic() + limits.seconds_for(part, profile)
                results[part] = run_part(part, RemoteSubject(sandbox, deadline, profile=profile), HIDDEN)
                if sandbox.timed_out and len(PARTS[part].names) == 1:
                    walls[PARTS[part].names[0]] = part
                if sandbox.container_failure:
                    environment = sandbox.death
                if not sandbox.death:
                    _release(sandbox, limits)
            timings[part] = time.perf_counter() - stage
    finally:
        if sandbox is not None:
            _close(sandbox, notes)
    return GradeRecord(str(pathlib.Path(path)), backend, results, profile=profile, notes=notes,
                       status="environment" if environment else "ok", message=environment,
                       seconds=time.perf_counter() - started, timings=timings)


def _release(sandbox, limits):
    """The next part starts with the memory the last one used handed back."""
    try:
        sandbox.release(limits.start_seconds)
    except SubmissionDied:  # a submission's thread may kill the child at any time: the next part restarts it
        pass


def _close(sandbox, notes):
    sandbox.close()
    printed = sandbox.stdout.text().strip()
    if printed:
        notes.append(Note("printed", printed[-2000:]))
