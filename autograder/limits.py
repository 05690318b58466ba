"""Every time and memory bound of the grader, in one place.

`Limits` holds the bounds of one grade; every other bound is computed from
it: the whole-submission deadline that `batch` and `reconcile` enforce from
outside, the time limit a Gradescope bundle gets, the GitHub Classroom step's
`timeout-minutes`. `genimg-grade limits` prints the table.
"""

import dataclasses
import math
import os

from genimg_kit.parts import PARTS

# Gradescope's default autograder timeout (its documented default; an
# assignment can raise it).
GRADESCOPE_TIMEOUT_S = 600
# What run_autograder keeps for itself inside that timeout: the venv's start
# and writing results.json after `timeout` stops the grader.
GRADESCOPE_MARGIN_S = 60
# What a Classroom job spends outside the grading step: checkouts, the pip install.
CLASSROOM_SETUP_MINUTES = 10
# What a platform's wrapper keeps between genimg-grade's own deadline and its
# hard stop: the sandbox's last kill and the last write of the results.
DEADLINE_MARGIN_S = 30


@dataclasses.dataclass(frozen=True)
class Limits:
    part_seconds: float = 120.0  # all probes of one property part, JAX compilation included
    # A convergence part trains models: it gets the larger of part_seconds and its profile's.
    convergence_seconds: tuple = (("cpu", 240.0), ("gpu", 600.0))
    load_seconds: float = 120.0  # running the submission's kept statements (imports)
    start_seconds: float = 180.0  # a sandbox's start-up: the interpreter, Keras and its backend
    memory_mb: int = 4096  # private memory (not RSS) of the sandbox's process tree
    # A process that computes on a GPU maps the CUDA runtime and libraries (GBs of
    # resident memory before any student code runs): the cap grows by this much
    # there, so a student gets the same headroom as on a CPU.
    gpu_runtime_mb: int = 8192
    output_bytes: int = 20_000  # of the submission's stdout, and of its stderr
    # What the submission may start and write (autograder.isolation.confine): processes beyond
    # the child's own threads (RLIMIT_NPROC, and the watchdog's count of its tree),
    # and MiB of files, in one file (RLIMIT_FSIZE) and in its scratch folder as a whole.
    processes: int = 256
    scratch_mb: int = 256
    # The confined kernel of an nbgrader course (autograder.isolation.kernel) runs a
    # whole notebook, not one probe: more memory than a sandbox (the chapter's
    # notebook trains two models), a larger scratch folder, CPU time for an hour
    # on every core, and nbgrader's limit on one cell (the course's Execute.timeout).
    kernel_memory_mb: int = 8192
    kernel_scratch_mb: int = 1024
    kernel_cpu_seconds_per_core: int = 3600
    notebook_cell_seconds: int = 600
    # A Dask cluster (batch --scheduler): seconds to reach its scheduler, and to
    # wait for its first worker; the most of a grading's output one task sends
    # back to the batch's log.
    dask_connect_seconds: float = 20.0
    dask_workers_seconds: float = 300.0
    log_tail_bytes: int = 100_000
    # What the grader's process reads of a submission, before any sandbox: bytes of
    # one file (a notebook with its outputs) and of all its files together; bytes
    # of source it parses, in one cell or .py file and in all of them (the
    # chapter's whole notebook has ~40 KB; parsing costs up to ~250 bytes of
    # memory per byte of source); and top-level statements not run that the
    # record lists one by one.
    file_bytes: int = 64 << 20
    submission_bytes: int = 128 << 20
    source_bytes: int = 256 << 10
    sources_bytes: int = 2 << 20
    skipped_listed: int = 200
    # The smallest container memory in which the reference grades 100 (the grader
    # and its sandbox together), per backend: bench/container_fit.py, measured
    # on 2026-12-01 for tensorflow (640 MB fails, 768 passes) and on 2026-12-04
    # for jax (768 MB at 0.5 CPU: peak 690 MB; 704 MB passes too, with 679 MB).
    container_need_mb: tuple = (("tensorflow", 768), ("jax", 768))
    # Kept free below a container's limit for the grader itself when the sandbox's cap is cut to fit.
    container_margin_mb: int = 32
    # A whole grade of `genimg-grade SUBMISSION`, per profile: the part limits are
    # shared out within it (share_of), so a submission whose every piece hangs
    # is still graded, each part explicitly timed out, within it. Gradescope and
    # Classroom pass their own (their time limit less DEADLINE_MARGIN_S).
    deadline_seconds: tuple = (("cpu", 240.0), ("gpu", 900.0))
    # Convergence budget (genimg_kit.checks.convergence.PROFILES): "auto" takes
    # "gpu" when the sandbox's Keras backend sees a GPU, else "cpu".
    profile: str = "auto"

    def __post_init__(self):
        profiles = dict(self.convergence_seconds)
        if self.profile not in ("auto", *profiles):
            raise ValueError(f"unknown profile {self.profile!r}: choose auto, {', '.join(profiles)}")

    def seconds_for(self, part, profile):
        """What all probes of `part` may take under `profile` (cpu or gpu)."""
        if "convergence" in PARTS[part].tags:
            return max(self.part_seconds, dict(self.convergence_seconds)[profile])
        return self.part_seconds

    def share_of(self, part, remaining_parts, profile, seconds_left):
        """What `part` may take when `seconds_left` remain for it and the parts after it
        (`remaining_parts`, itself first): its own limit, or its limit's share of the
        time left, whichever is less. Time a part leaves unused goes to the next ones."""
        weights = [self.seconds_for(p, profile) for p in remaining_parts]
        return min(weights[0], seconds_left * weights[0] / sum(weights))

    def memory_for(self, accelerator):
        return self.memory_mb + (self.gpu_runtime_mb if accelerator == "gpu" else 0)

    def container_need(self, backend):
        return dict(self.container_need_mb).get(backend, max(dict(self.container_need_mb).values()))

    def container_message(self, container, backend):
        """What a grade that `container` could not hold says, to the course staff."""
        need = self.container_need(backend)
        return (f"the grading container ran out of memory: it has {container.memory_mb} MB, and grading "
                f"on {backend} needs about {need} MB. This is not the submission's fault and not a grade: "
                "course staff, raise the container's memory (Gradescope: Autograder Settings) and regrade")

    def container_fits(self, container, backend):
        return not container.memory_limited or container.memory_mb >= self.container_need(backend)

    def deadline_for(self, profile):
        """The whole grade's default deadline under `profile` (cpu or gpu)."""
        return dict(self.deadline_seconds)[profile]

    def submission_seconds(self):
        """The longest a whole grade may take, seen from outside (batch's and
        reconcile's --timeout): its deadline (with profile "auto", the longer
        profile's), one sandbox start past it (a restart begun just before the
        deadline: the start runs no student code), and the margin for the last
        kill and write. A grade that hangs in every part stays within it."""
        profiles = dict(self.deadline_seconds) if self.profile == "auto" else {self.profile: None}
        return max(self.deadline_for(p) for p in profiles) + self.start_seconds + DEADLINE_MARGIN_S

    def sandbox_bounds(self):
        """The sandbox child's confinement bounds (autograder.isolation.confine.Plan):
        CPU time for a whole grade on every core."""
        return dict(processes=self.processes, cpu_seconds=int(self.submission_seconds() * _cores()),
                    file_mb=self.scratch_mb, memory_mb=self.memory_mb)

    def kernel_bounds(self):
        """The confined kernel's (autograder.isolation.kernel)."""
        return dict(processes=self.processes, cpu_seconds=self.kernel_cpu_seconds_per_core * _cores(),
                    file_mb=self.kernel_scratch_mb, memory_mb=self.kernel_memory_mb)

    def rows(self):
        """(what, value, where it applies) for `genimg-grade limits`."""
        rows = [
            ("part_seconds", f"{self.part_seconds:g} s", "all probes of one property part"),
            *[(f"convergence_seconds[{p}]", f"{s:g} s", f"a convergence part, {p} profile")
              for p, s in self.convergence_seconds],
            ("load_seconds", f"{self.load_seconds:g} s", "the submission's kept statements"),
            ("start_seconds", f"{self.start_seconds:g} s", "a sandbox's start-up"),
            ("memory_mb", f"{self.memory_mb} MiB", "private memory of the sandbox's process tree"),
            ("gpu_runtime_mb", f"+{self.gpu_runtime_mb} MiB", "added to memory_mb when the sandbox computes on a GPU"),
            ("output_bytes", f"{self.output_bytes}", "kept of the submission's stdout and of its stderr"),
            ("processes", f"{self.processes}", "processes the submission may start"),
            ("scratch_mb", f"{self.scratch_mb} MiB", "files the submission may write (its scratch folder)"),
            ("kernel_memory_mb", f"{self.kernel_memory_mb} MiB", "the confined kernel of an nbgrader course"),
            ("kernel_scratch_mb", f"{self.kernel_scratch_mb} MiB", "files the confined kernel may write"),
            ("kernel_cpu_seconds_per_core", f"{self.kernel_cpu_seconds_per_core} s",
             "CPU time of the confined kernel, per core"),
            ("notebook_cell_seconds", f"{self.notebook_cell_seconds} s", "one notebook cell under nbgrader"),
            ("dask_connect_seconds", f"{self.dask_connect_seconds:g} s", "reaching a Dask scheduler"),
            ("dask_workers_seconds", f"{self.dask_workers_seconds:g} s", "waiting for a Dask cluster's first worker"),
            ("log_tail_bytes", f"{self.log_tail_bytes}", "of a grading's output kept in the batch's log"),
            *[(f"container_need_mb[{b}]", f"{mb} MB", f"the smallest grading container on {b} (measured)")
              for b, mb in self.container_need_mb],
            ("profile", self.profile, "convergence budget"),
            *[(f"deadline_seconds[{p}]", f"{d:g} s", f"a whole `genimg-grade SUBMISSION`, {p} profile")
              for p, d in self.deadline_seconds],
            ("submission_seconds", f"{self.submission_seconds():g} s",
             "a whole grade at most (batch and reconcile --timeout)"),
            ("gradescope_time_limit", f"{gradescope_time_limit()} s",
             f"run_autograder's limit (Gradescope's default timeout {GRADESCOPE_TIMEOUT_S} s)"),
            ("classroom_step_minutes", f"{classroom_step_minutes(self)}",
             "the Classroom grading step's timeout-minutes"),
            ("classroom_time_limit", f"{classroom_time_limit(self)} s",
             "genimg-grade's limit inside the Classroom step"),
            ("classroom_job_minutes", f"{classroom_job_minutes(self)}", "the Classroom job's timeout-minutes"),
        ]
        return rows


def _cores():
    return os.cpu_count() or 1


def gradescope_time_limit():
    return GRADESCOPE_TIMEOUT_S - GRADESCOPE_MARGIN_S


def classroom_time_limit(limits):
    """Seconds the Classroom step gives genimg-grade (`timeout`): the cpu profile's
    deadline (GitHub's runners have no GPU) and the margin after it."""
    return int(limits.deadline_for("cpu")) + DEADLINE_MARGIN_S


def classroom_step_minutes(limits):
    """The Classroom grading step's timeout: a minute past classroom_time_limit, so
    that the step is never killed before it hands the reporter a result."""
    return math.ceil((classroom_time_limit(limits) + 60) / 60)


def classroom_job_minutes(limits):
    return classroom_step_minutes(limits) + CLASSROOM_SETUP_MINUTES


def table(limits=None):
    """The limits as a text table."""
    rows = (limits or Limits()).rows()
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:>{value_width}}  {where}" for name, value, where in rows)
