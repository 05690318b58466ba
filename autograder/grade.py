"""One way through the grader: submission -> sandbox -> battery -> record.

    record = grade("submission.ipynb")

Every consumer (CLI, batch pool, nbgrader reconcile, the Gradescope bundle,
the project's tests) calls `grade` and hands the `GradeRecord` to a writer
in autograder.writers.
"""

import os
import pathlib
import time

from autograder import REFERENCE
from autograder.hidden import HIDDEN
from autograder.isolation import container as containers
from autograder.isolation.sandbox import RemoteSubject, Sandbox, SandboxStartError
from autograder.limits import Limits
from autograder.record import PRINTED_CHARS, GradeRecord, Note
from autograder.submission import explain_missing, read_submission
from autograder.submission_files import UnreadableSubmission
from genimg_kit.checks.battery import failed_part, run_part
from genimg_kit.checks.subject import SubmissionDied
from genimg_kit.parts import PARTS, MissingName, missing_names


class GraderError(Exception):
    """The grader itself could not run (not the submission's fault)."""


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


def unreadable_record(submission, backend, parts, error, seconds=0.0):
    """The record of a submission the reader could not read at all (`error`: why)."""
    return failed_record(submission, backend, parts, "error", f"the submission could not be read: {error}",
                         seconds)


def grade(path, parts=None, backend=None, limits=None, deadline=None, on_part=None, name=None):
    """Grades the submission at `path`; always returns a GradeRecord.

    `deadline`: seconds for the whole grade, counted from the call (default:
    the profile's `Limits.deadline_for`). Every part gets its own limit or its
    share of the time left, whichever is less (`Limits.share_of`), so that
    however the submission behaves, every part is graded or explicitly timed
    out in time. Time a part leaves unused goes to the ones after it, so a part
    gets less than its planned share only when one before it ran out of its
    own: the submission's doing.
    `on_part(record)` is called after each part with the record so far (the
    parts not graded yet marked so): a caller that writes it keeps per-part
    credit if it is stopped from outside.
    `name`: what the record calls the submission (default `path`; a Dask
    worker grades a copy under its client's path).

    Raises GraderError only when the grader itself cannot
    run (the sandbox fails to start before any student code is loaded).
    """
    started = time.monotonic()  # the deadline counts from here
    name = str(pathlib.Path(name or path))
    parts = graded_parts(parts)
    backend = backend or default_backend()
    limits = limits or Limits()
    container = containers.detect()
    if not limits.container_fits(container, backend):
        return failed_record(name, backend, parts, "environment", limits.container_message(container, backend))
    try:
        submission = read_submission(path, limits)
    except UnreadableSubmission as error:
        return unreadable_record(name, backend, parts, error, time.monotonic() - started)
    run = _Run(submission, backend, limits, container, started, deadline)
    run.timings["read"] = time.monotonic() - started
    try:
        for i, part in enumerate(parts):
            stage, starting = time.perf_counter(), run.starting_seconds()
            run.results[part] = run.grade_part(part, parts[i:])
            # A part's own time: a sandbox (re)started on its way is the sandbox's.
            run.timings[part] = time.perf_counter() - stage - (run.starting_seconds() - starting)
            if on_part is not None:
                on_part(run.record(name, parts, time.monotonic() - started))
    finally:
        run.close()
    return run.record(name, parts, time.monotonic() - started)


# A part that ran out of time where the reference solution needs more is graded again with
# this many times the reference's time: a submission slower than that is the slow one.
RETRY_FACTOR = 2

# What a part not graded yet says, in a record written while grading goes on.
NOT_REACHED = "not graded: the grader was stopped before it reached this part"
# What a part says when the parts before it used up the whole grade's deadline.
DEADLINE_USED = "not graded: the earlier parts used up the whole grade's deadline"


class _Run:
    """The state of one grade: the sandbox, what the submission defines, what it printed."""

    def __init__(self, submission, backend, limits, container, started, deadline):
        self.submission, self.backend, self.limits, self.container = submission, backend, limits, container
        self.started, self.deadline = started, deadline
        self.end = None  # the deadline's end, once the profile (and so the default deadline) is known
        self.notes, self.results, self.profile = list(submission.skipped), {}, ""
        self.sandbox, self.defined, self.load_error, self.environment = None, [], None, ""
        self.walls = {}  # graded name -> the part whose limit it ran into (a convergence part would again)
        self.reference_took = {}  # part -> seconds the reference took to grade it here (None: unfinished)
        self.isolation = {}  # what the first sandbox's kernel enforced
        self.timings = {"sandbox start": 0.0, "load": 0.0}

    def left(self):
        return self.end - time.monotonic()

    def starting_seconds(self):
        """The seconds spent so far starting sandboxes and loading the submission into them."""
        return self.timings["sandbox start"] + self.timings["load"]

    def ensure_sandbox(self):
        """A live sandbox with the submission loaded (a part that killed the last one gets a new one)."""
        if self.sandbox is not None and not self.sandbox.death:
            return
        first_start = self.sandbox is None
        self.close()
        stage = time.perf_counter()
        try:
            self.sandbox = Sandbox(self.backend, self.limits, self.container)
        except SandboxStartError as error:
            raise GraderError(str(error)) from None
        self.timings["sandbox start"] += time.perf_counter() - stage
        self.isolation = self.isolation or self.sandbox.isolation
        self.profile = self.sandbox.accelerator if self.limits.profile == "auto" else self.limits.profile
        if self.end is None:
            self.end = self.started + (self.deadline or self.limits.deadline_for(self.profile))
        stage = time.perf_counter()
        try:
            self.defined, errors = self.sandbox.load(self.submission.units,
                                                     max(min(self.limits.load_seconds, self.left()), 0.1))
            self.timings["load"] += time.perf_counter() - stage
            if first_start:
                self.notes.extend(Note("load_error", e) for e in errors)
        except SubmissionDied as error:
            self.load_error = f"the submission failed while loading: {error}"
            if self.sandbox.tampered:
                self.notes.append(Note("tampered", f"while loading: {self.sandbox.tampered}; every part scores 0"))

    def grade_part(self, part, remaining_parts):
        if self.end is not None and self.left() < 1:  # not even a restart: the deadline is here
            return failed_part(part, DEADLINE_USED, HIDDEN)
        if self.sandbox is None:  # the first: it says what the submission defines
            self.ensure_sandbox()
        if self.load_error is not None:
            return failed_part(part, self.load_error, HIDDEN)
        if missing := missing_names(part, self.defined):
            return failed_part(part, self._missing(missing), HIDDEN)
        if hung := [n for n in PARTS[part].names if n in self.walls]:
            return failed_part(part, "not run: " + "; ".join(
                f"`{n}` did not answer within its own part's limit ({self.walls[n]}), and training "
                "with it would wait as long again" for n in hung), HIDDEN)
        seconds = self.limits.share_of(part, remaining_parts, self.profile, self.left())
        if seconds < min(1.0, self.limits.seconds_for(part, self.profile)):  # the deadline's doing, not the limit's
            return failed_part(part, DEADLINE_USED, HIDDEN)
        result, timed_out = self._attempt(part, seconds)
        if not timed_out:
            return result
        # Was it the submission's slowness, or this machine's? The reference, timed on this machine.
        needed = self._reference_seconds(part, cap=self.left() / 2)
        retry = min(RETRY_FACTOR * needed, self.left() - self.limits.start_seconds) if needed else 0.0
        if needed is not None and needed > seconds and retry > seconds:
            result, timed_out = self._attempt(part, retry)
            if not timed_out:
                self.notes.append(Note("slow_machine", f"{part}: graded again with {retry:.1f} s: its planned "
                                                       f"{seconds:.1f} s were less than the reference solution "
                                                       f"itself takes on this machine ({needed:.1f} s)"))
                return result
        if needed is not None and (needed <= seconds or timed_out and retry >= RETRY_FACTOR * needed):
            if len(PARTS[part].names) == 1:  # the submission's own slowness: a convergence part would wait again
                self.walls[PARTS[part].names[0]] = part
            return result
        took = f"takes {needed:.1f} s" if needed else "did not finish it in the time left"
        self.environment = self.environment or (
            f"the grading machine is too slow: {part} had {seconds:.1f} s and the reference solution {took} "
            "on this machine, more than the deadline left for it. This is not the submission's fault and not "
            "a grade: course staff, give the grader more time or CPU (Gradescope: Autograder Settings) and "
            "regrade")
        return failed_part(part, f"not graded: {self.environment}", HIDDEN)

    def _attempt(self, part, seconds):
        """`part`'s battery in the sandbox, given `seconds`: (result, whether the part ran out of them)."""
        self.ensure_sandbox()  # a new one, if the last part's killed it
        if self.load_error is not None:
            return failed_part(part, self.load_error, HIDDEN), False
        subject = RemoteSubject(self.sandbox, time.monotonic() + seconds, profile=self.profile)
        result = run_part(part, subject, HIDDEN)
        if self.sandbox.tampered:  # its answers are void: none of them may count
            result = failed_part(part, f"tampering detected: {self.sandbox.tampered}", HIDDEN)
            self.notes.append(Note("tampered", f"{part}: {self.sandbox.tampered}; the part scores 0"))
        timed_out = self.sandbox.timed_out
        if self.sandbox.container_failure:
            self.environment = self.sandbox.death
        if not self.sandbox.death:
            self.sandbox.sweep()
            _release(self.sandbox, self.limits)
        return result, timed_out

    def _reference_seconds(self, part, cap):
        """How long the reference solution takes to grade `part` on this machine, in a sandbox of
        its own (None when it does not finish within `cap` seconds, or cannot be run)."""
        if part not in self.reference_took:
            took = None
            try:
                reference = Sandbox(self.backend, self.limits, self.container)
            except SandboxStartError:
                return None
            try:
                reference.load(read_submission(REFERENCE, self.limits).units, self.limits.load_seconds)
                started = time.monotonic()
                run_part(part, RemoteSubject(reference, started + max(cap, 0.1), profile=self.profile), HIDDEN)
                took = None if reference.death else time.monotonic() - started
            except SubmissionDied:
                pass
            finally:
                _close(reference, [])
            self.reference_took[part] = took
        return self.reference_took[part]

    def _missing(self, names):
        """What a part whose names are missing says: what the source shows of them. The
        load errors it quotes are said there, once, and leave the report's list."""
        errors = [n.text for n in self.notes if n.kind == "load_error"]
        found = [pair for name in names for pair in explain_missing(name, self.submission, errors)]
        said = {f"{where}:" for where, _ in found if where}
        self.notes = [n for n in self.notes if not (n.kind == "load_error" and n.text.startswith(tuple(said)))]
        return str(MissingName(names, [sentence for _, sentence in found]))

    def record(self, name, parts, seconds):
        results = {p: self.results.get(p) or failed_part(p, NOT_REACHED, HIDDEN) for p in parts}
        return GradeRecord(name, self.backend, results, profile=self.profile,
                           notes=list(self.notes), status="environment" if self.environment else "ok",
                           message=self.environment, seconds=seconds, timings=dict(self.timings),
                           isolation=self.isolation)

    def close(self):
        if self.sandbox is not None:
            _close(self.sandbox, self.notes)


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
        notes.append(Note("printed", printed[-PRINTED_CHARS:]))
