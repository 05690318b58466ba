"""One way through the grader: submission -> sandbox -> checks -> result.

    result = grade("submission.ipynb")

Every consumer (CLI, batch, bundles, the project's tests) calls `grade` and
hands the `GradeResult` to a writer in autograder.writers.
"""

import dataclasses
import os
import pathlib
import time

import autograder.hidden  # noqa: F401  (registers the hidden checks)
from autograder.sandbox import RemoteSubject, Sandbox
from autograder.submission import UnreadableSubmission, read_submission
from genimg_kit.checks.convergence import PROFILES
from genimg_kit.checks.core import SubmissionDied, failed_part, run_part
from genimg_kit.parts import PARTS, missing_names

# Parts run in this order: the cheap ones first.
PART_ORDER = list(PARTS)

# A process that computes on a GPU maps the CUDA runtime and libraries (GBs of
# resident memory before any student code runs): the memory cap grows by this
# much there, so a student gets the same headroom as on a CPU.
GPU_RUNTIME_MB = 8192


@dataclasses.dataclass
class Limits:
    part_seconds: float = 120.0  # all probes of one part, JAX compilation included
    load_seconds: float = 120.0  # running the submission's kept statements (imports)
    memory_mb: int = 4096
    output_bytes: int = 20_000
    # Convergence budget (genimg_kit.checks.convergence.PROFILES): "auto" takes
    # "gpu" when the sandbox's Keras backend sees a GPU, else "cpu".
    profile: str = "auto"


@dataclasses.dataclass
class GradeResult:
    submission: str
    backend: str
    parts: dict  # part id -> PartResult, in PART_ORDER
    notes: list  # what was skipped, what failed to load, what it printed
    seconds: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)  # stage -> seconds (benchmarks)
    profile: str = ""  # the convergence profile used ("" when no sandbox started)

    @property
    def score(self):
        return round(sum(p.points for p in self.parts.values()), 9)

    @property
    def max_score(self):
        return round(sum(p.max_points for p in self.parts.values()), 9)


def default_backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def grade(path, parts=None, backend=None, limits=None):
    """Grades the submission at `path`; always returns a GradeResult.

    Raises autograder.sandbox.GraderError only when the grader itself cannot
    run (the sandbox fails to start before any student code is loaded).
    """
    started = time.perf_counter()
    parts = [p for p in PART_ORDER if parts is None or p in parts]
    backend = backend or default_backend()
    limits = limits or Limits()
    if limits.profile not in ("auto", *PROFILES):
        raise ValueError(f"unknown profile {limits.profile!r}: choose auto, {', '.join(PROFILES)}")
    notes, results, profile = [], {}, ""
    try:
        submission = read_submission(path)
    except UnreadableSubmission as error:
        for part in parts:
            results[part] = failed_part(part, f"the submission could not be read: {error}")
        return GradeResult(str(path), backend, results, [str(error)], time.perf_counter() - started)
    notes.extend(submission.skipped)

    sandbox, defined, load_error = None, [], None
    timings = {"read": time.perf_counter() - started, "sandbox start": 0.0, "load": 0.0}
    try:
        for part in parts:
            if sandbox is None or sandbox.death:
                first_start = sandbox is None
                if sandbox is not None:
                    _close(sandbox, notes)
                stage = time.perf_counter()
                sandbox = Sandbox(backend, limits.memory_mb, limits.output_bytes)
                timings["sandbox start"] += time.perf_counter() - stage
                if sandbox.accelerator == "gpu":
                    sandbox.memory_mb = limits.memory_mb + GPU_RUNTIME_MB
                profile = sandbox.accelerator if limits.profile == "auto" else limits.profile
                stage = time.perf_counter()
                try:
                    defined, errors = sandbox.load(submission.units, limits.load_seconds)
                    timings["load"] += time.perf_counter() - stage
                    if first_start:
                        notes.extend(errors)
                except SubmissionDied as error:
                    load_error = f"the submission failed while loading: {error}"
            stage = time.perf_counter()
            if load_error is not None:
                results[part] = failed_part(part, load_error)
            elif missing := missing_names(part, defined):
                results[part] = failed_part(part, f"{', '.join(f'`{n}`' for n in missing)} not defined "
                                                  "at the top level of the submission")
            else:
                seconds = limits.part_seconds
                if "convergence" in PARTS[part].tags:
                    seconds = max(seconds, PROFILES[profile].part_seconds)
                subject = RemoteSubject(sandbox, time.monotonic() + seconds, profile=profile)
                results[part] = run_part(part, subject)
            timings[part] = time.perf_counter() - stage
    finally:
        if sandbox is not None:
            _close(sandbox, notes)
    return GradeResult(str(pathlib.Path(path)), backend, results, notes,
                       time.perf_counter() - started, timings, profile)


def _close(sandbox, notes):
    sandbox.close()
    printed = sandbox.stdout.text().strip()
    if printed:
        notes.append("the submission printed:\n" + printed[-2000:])
