"""A slot: one warm grading process (a one-process pool, spawned) that imports
the grader once and grades one submission after another; the sandbox is its
child. A slot can be killed, sandbox and all, without touching anything else.
Both executors grade in slots (LocalExecutor here, the Dask worker side on a
cluster's workers).
"""

import concurrent.futures as cf
import importlib
import multiprocessing
import os
import signal
import threading
import time

import psutil


# --- the slot's process (runs in the spawned worker) -------------------------


def _init_worker(log_path):
    # The worker's own stdout/stderr (library notices) go to the log;
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
    kill_all(psutil.Process().children(recursive=True))
    os._exit(1)


def kill_all(processes):
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
    importlib.import_module("autograder.grade")
    return os.getpid()


def grade_one(path, parts, backend, limits, name=None):
    """Grades one submission; returns its record as `to_json()` (pickled back to the parent).
    `name`: what the record calls the submission (default `path`)."""
    from autograder.grade import GraderError, failed_record, grade

    try:
        record = grade(path, parts=parts, backend=backend, limits=limits, name=name)
    except GraderError as error:
        record = failed_record(name or path, backend, parts, "error",
                               f"the grader could not run on this submission: {error}")
    return record.to_json()


# --- a slot (the parent side of its process) ----------------------------------


class Slot:
    """One worker process (a one-process pool) and the submission it is grading."""

    def __init__(self, log_path, context=None):
        self.log_path = str(log_path)
        self.executor = cf.ProcessPoolExecutor(
            max_workers=1, mp_context=context or multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(self.log_path,))
        self.warm = self.executor.submit(_warm)
        self.pid = None
        self.job = None  # (future, student, path, started)
        self.log_offset = 0  # what of the log a Dask task has sent back

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
        kill_all(processes)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)
