"""Where the batch pool's gradings run: on this machine, or on a Dask cluster.

    for outcome in LocalExecutor(2, "OUT/batch.log").run(jobs, (parts, backend, limits), timeout): ...
    for outcome in DaskExecutor("tcp://host:8786", "OUT/batch.log", limits).run(jobs, ...): ...

An executor is the swappable half of `autograder.pool`: it takes jobs
(student, path) and yields one `Outcome` per job as each ends, in any order.
The pool decides what to grade and turns every outcome into the record it
writes; an executor only grades, and enforces the whole-submission timeout.
Both run each grading the same way: in a *slot*, a one-process pool whose
worker imports the grader once and then calls `autograder.grade.grade` on one
submission after another (the sandbox is that worker's child). A slot can be
killed, sandbox and all, without touching anything else.

- `LocalExecutor(workers, log_path)`: `workers` slots here. The timeout is
  enforced from this process: past it, the slot is killed and replaced.
- `DaskExecutor(address, log_path, limits)`: one `Client.submit` of `grade_remote`
  per submission, as many in flight as the cluster has worker threads,
  collected with `as_completed`. The task runs on a Dask worker, which keeps warm slots of
  its own (one per thread that grades); the task waits at most `timeout` for
  its slot's answer, and past it kills the slot, so a hung sandbox never
  wedges a Dask worker: the worker takes its next task with a fresh slot.
  The submission travels *with the task*, as the bytes of the files the
  grader reads (`pack`): the workers need no access to the submissions
  folder, only the same grader installed. Records come back to this process,
  which writes them; the slot's output comes back with them and goes to
  `log_path`, after a line naming the student, the Dask worker and the
  grading process.
"""

import atexit
import collections
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import importlib
import json
import multiprocessing
import os
import pathlib
import signal
import tempfile
import threading
import time
import uuid

import psutil

class BatchError(Exception):
    """The batch cannot run at all (bad folder, duplicate student ids, broken grader, no cluster)."""


class WorkerSetupError(Exception):
    """A grading worker could not start (on a Dask worker: it cannot import the grader)."""


# How one job ended. kind "record": graded, value is the record's to_json();
# "timeout": stopped past the timeout; "died": the grading process died (killed
# from outside, out of memory); "failed": the grader raised, value its repr.
# seconds: the grading's, as the timeout counts them (from the hand-off to a
# warm worker); turnaround: from this process's hand-off to the outcome here
# (on Dask, also the transfers, and a worker's warm-up on its first task).
Outcome = collections.namedtuple("Outcome", "student path kind value seconds turnaround", defaults=(None,))


# --- a slot's worker (runs in the spawned process) ---------------------------


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
    importlib.import_module("autograder.grade")
    return os.getpid()


def _grade_one(path, parts, backend, limits):
    """Grades one submission; returns its record as `to_json()` (pickled back to the parent)."""
    from autograder.grade import failed_record, grade
    from autograder.grade import GraderError

    try:
        record = grade(path, parts=parts, backend=backend, limits=limits)
    except GraderError as error:
        record = failed_record(path, backend, parts, "error",
                               f"the grader could not run on this submission: {error}")
    return record.to_json()


# --- a slot (the parent side of one worker) ------------------------------------


class _Slot:
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
        _kill_all(processes)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self):
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- on this machine --------------------------------------------------------------


class LocalExecutor:
    """`workers` slots on this machine; the whole-submission timeout enforced from here."""

    def __init__(self, workers, log_path):
        self.workers, self.log_path, self.slots = max(1, workers), log_path, []

    def run(self, jobs, args, timeout):
        """Yields an Outcome per (student, path) in `jobs`; `args`: (parts, backend, limits)."""
        todo = collections.deque(jobs)
        self.slots = [_Slot(self.log_path) for _ in range(min(self.workers, len(todo)))]
        slots = self.slots
        while todo or any(slot.job for slot in slots):
            for slot in slots:
                try:
                    free = slot.ready
                except Exception as error:  # the grader cannot start in a worker
                    raise BatchError(f"a grading worker could not start: {error!r}") from error
                if free and todo:
                    student, path = todo.popleft()
                    future = slot.executor.submit(_grade_one, str(path), *args)
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
                        outcome = Outcome(student, path, "record", future.result(), seconds, seconds)
                    except BrokenProcessPool:
                        outcome = Outcome(student, path, "died", None, seconds, seconds)
                        slot.kill()
                        slots[index] = _Slot(self.log_path)
                    except Exception as error:  # a grader bug: recorded, the batch goes on
                        outcome = Outcome(student, path, "failed", repr(error), seconds, seconds)
                    yield outcome
                elif seconds > timeout:
                    slot.job = None
                    slot.kill()
                    slots[index] = _Slot(self.log_path)
                    yield Outcome(student, path, "timeout", None, seconds, seconds)

    def kill(self):
        """Stops every worker now (Ctrl-C, or a worker that cannot start)."""
        for slot in self.slots:
            slot.kill()
        self.slots = []

    def close(self):
        for slot in self.slots:
            slot.close()
        self.slots = []


# --- on a Dask cluster: the client side -----------------------------------------


def pack(path):
    """(is a folder, {relative name: bytes}): the files of a submission that the grader reads."""
    from autograder.submission import _files  # the one rule for which files a folder submission has

    path = pathlib.Path(path)
    if path.is_dir():
        return True, {file.relative_to(path).as_posix(): file.read_bytes() for file in _files(path)}
    return False, {path.name: path.read_bytes()}


class DaskExecutor:
    """Each submission a task on the Dask cluster whose scheduler is at `address`."""

    def __init__(self, address, log_path, limits):
        try:
            import distributed
        except ImportError as error:
            raise BatchError("--scheduler needs dask and distributed, which are not installed here "
                             "(pip install 'genimg[dask]', here and on every worker)") from error
        self.address, self.log_path, self.futures = address, pathlib.Path(log_path), {}
        connect_seconds = limits.dask_connect_seconds
        try:
            self.client = distributed.Client(address, timeout=connect_seconds, set_as_default=False)
        except Exception as error:  # refused, timed out, a bad address: nothing to grade with
            raise BatchError(f"cannot reach the Dask scheduler at {address} within {connect_seconds:g} s: "
                             f"{error}") from error
        self.workers_seconds = limits.dask_workers_seconds

    def wait_for_workers(self):
        try:
            self.client.wait_for_workers(1, timeout=self.workers_seconds)
        except (TimeoutError, OSError) as error:
            raise BatchError(f"the Dask scheduler at {self.address} has no workers after "
                             f"{self.workers_seconds:g} s; start some (`dask worker ADDRESS --nthreads 1`)") from error

    def in_flight(self):
        """Tasks handed to the scheduler at once: one per worker thread now (workers come and go).

        No task waits on a worker behind another (maybe hanging) one: each new
        task goes to a thread that is free, and only a few submissions' bytes
        are held by the scheduler at any time.
        """
        return max(1, sum(self.client.nthreads().values()))

    def run(self, jobs, args, timeout):
        """Yields an Outcome per (student, path) in `jobs`; `args`: (parts, backend, limits)."""
        from distributed import as_completed

        jobs = list(jobs)
        if jobs:  # nothing to grade needs no worker
            self.wait_for_workers()
        jobs, done, unread = iter(jobs), as_completed(loop=self.client.loop), collections.deque()

        def submit_next():
            for student, path in jobs:
                try:
                    packed = pack(path)
                except OSError as error:  # unreadable here: no worker could read it either
                    unread.append(Outcome(student, path, "failed", f"cannot read {path}: {error}", 0.0))
                    continue
                future = self.client.submit(grade_remote, str(path), packed, *args, timeout, pure=False,
                                            key=f"genimg-grade-{student}-{uuid.uuid4().hex[:8]}")
                self.futures[future] = (student, path, time.monotonic())
                done.add(future)
                return True
            return False

        while len(self.futures) < self.in_flight() and submit_next():
            pass
        yield from _drain(unread)
        for future in done:
            student, path, handed = self.futures.pop(future)
            outcome = self._outcome(future, student, path)._replace(turnaround=time.monotonic() - handed)
            while len(self.futures) < self.in_flight() and submit_next():
                pass
            yield outcome
            yield from _drain(unread)

    def _outcome(self, future, student, path):
        from distributed import KilledWorker

        try:
            result = future.result()
        except KilledWorker:  # every worker that took it died (Dask retries a few)
            return Outcome(student, path, "died", None, 0.0)
        except (WorkerSetupError, ImportError) as error:
            raise BatchError(f"a Dask worker cannot run the grader: {error} (install the same genimg "
                             "on every worker)") from error
        except Exception as error:
            return Outcome(student, path, "failed", repr(error), 0.0)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"--- {student}: {result['kind']} in {result['seconds']:.1f} s on Dask worker "
                      f"{result['worker']}, grading process {result['pid']} ---\n{result['log']}")
        return Outcome(student, path, result["kind"], result["value"], result["seconds"])

    def kill(self):
        """Cancels what is queued; a task already grading runs on to its end or its timeout."""
        self.client.cancel(list(self.futures))
        self.futures = {}

    def close(self):
        self.client.close()


def _drain(queue):
    while queue:
        yield queue.popleft()


# --- on a Dask cluster: the worker side -------------------------------------------

_idle = []  # warm slots of this Dask worker process, waiting for a task
_idle_lock = threading.Lock()


def grade_remote(path, packed, parts, backend, limits, timeout):
    """A Dask task: grades one packed submission in a slot of this worker, `timeout` at most.

    Returns {"kind", "value", "seconds", "log", "worker", "pid"}: an Outcome's
    kind, value and seconds, the slot's output meanwhile, and who graded.
    """
    with tempfile.TemporaryDirectory(prefix="genimg-submission-") as folder:
        local = _unpack(pathlib.Path(folder), pathlib.Path(path).name, packed)
        slot = _take_slot(timeout, limits.log_tail_bytes)
        started = time.monotonic()
        future = slot.executor.submit(_grade_one, str(local), parts, backend, limits)
        kind, value = "record", None
        try:
            value = _moved(future.result(timeout=timeout), str(local), path)
        except cf.TimeoutError:
            kind = "timeout"
        except BrokenProcessPool:
            kind = "died"
        except Exception as error:  # a grader bug: the slot is fine
            kind, value = "failed", repr(error)
        seconds = time.monotonic() - started
        if kind in ("timeout", "died"):
            slot.kill()
    result = {"kind": kind, "value": value, "seconds": seconds, "log": _new_output(slot, limits.log_tail_bytes),
              "worker": _worker_address(), "pid": slot.pid}
    if kind in ("timeout", "died"):
        _discard(slot)
    else:
        with _idle_lock:
            _idle.append(slot)
    return result


def _take_slot(timeout, log_tail_bytes):
    """An idle warm slot of this worker, or a new one once it is warm."""
    with _idle_lock:
        while _idle:
            slot = _idle.pop()
            if _alive(slot.pid):
                return slot
            slot.kill()  # died while idle (killed from outside): never blame a submission for it
            _discard(slot)
    _allow_children()
    # In the Dask worker's own folder, which Dask removes with the worker.
    fd, log_path = tempfile.mkstemp(prefix="genimg-grading-", suffix=".log", dir=_worker_folder())
    os.close(fd)
    slot = _Slot(log_path)
    try:
        slot.warm.result(timeout=max(timeout, 60.0))
        assert slot.ready
    except Exception as error:
        output = _new_output(slot, log_tail_bytes)
        slot.kill()
        _discard(slot)
        raise WorkerSetupError(f"the grader would not start on {_worker_address()}: {error!r}\n{output}") from None
    return slot


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _allow_children():
    """Lets this process start a slot even as a daemon (how a Dask nanny starts its worker).

    multiprocessing forbids a daemon to start children so that none outlives
    it; a slot's worker already leaves, sandbox and all, within a second of
    its parent's death (`_exit_with_parent`).
    """
    process = multiprocessing.current_process()
    if process.daemon:
        process.daemon = False


def _new_output(slot, tail_bytes):
    """What the slot's worker wrote since the last call (its last `tail_bytes`)."""
    try:
        with open(slot.log_path, "rb") as f:
            f.seek(slot.log_offset)
            data = f.read()
    except OSError:
        return ""
    slot.log_offset += len(data)
    return data[-tail_bytes:].decode("utf-8", errors="replace")


def _discard(slot):
    try:
        os.unlink(slot.log_path)
    except OSError:
        pass


@atexit.register
def _remove_idle_logs():
    for slot in _idle:
        _discard(slot)


def _dask_worker():
    """The Dask worker running this task; None when called directly."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _worker_folder():
    worker = _dask_worker()
    return worker.local_directory if worker else None


def _worker_address():
    worker = _dask_worker()
    return worker.address if worker else f"pid {os.getpid()}"


def _unpack(folder, name, packed):
    """Writes a packed submission as `folder/name`; returns that path."""
    is_dir, files = packed
    target = folder / name
    if is_dir:
        target.mkdir()
    for relative, data in files.items():
        file = target / relative if is_dir else target
        if not file.resolve().is_relative_to(target.resolve()):
            raise ValueError(f"a packed file outside its submission: {relative!r}")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
    return target


def _moved(record, local, original):
    """The record with the worker's copy of the submission named by its path on the client."""
    text = json.dumps(record)
    return json.loads(text.replace(json.dumps(local)[1:-1], json.dumps(original)[1:-1]))
