"""The Dask executor, the worker's side: `grade_remote`, the task each
submission becomes. A Dask worker keeps warm slots of its own (one per thread
that grades); a task waits at most its timeout for its slot's answer, and past
it kills the slot, so a hung sandbox never wedges a Dask worker: the worker
takes its next task with a fresh slot.
"""

import atexit
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import multiprocessing
import os
import pathlib
import tempfile
import threading
import time

import psutil

from autograder.batch.outcome import DIED, FAILED, TIMEOUT, WorkerSetupError, unrecorded
from autograder.batch.slot import Slot, grade_one

_idle = []  # warm slots of this Dask worker process, waiting for a task
_idle_lock = threading.Lock()


def grade_remote(path, packed, parts, backend, limits, timeout):
    """A Dask task: grades one packed submission in a slot of this worker, `timeout` at most.

    Returns {"record", "ending", "seconds", "log", "worker", "pid"}: the record
    (to_json(), naming the submission by the client's `path`), how the job
    ended (None when graded, else an outcome ending), the grading's seconds,
    the slot's output meanwhile, and who graded.
    """
    args = (parts, backend, limits)
    with tempfile.TemporaryDirectory(prefix="genimg-submission-") as folder:
        local = _unpack(pathlib.Path(folder), pathlib.Path(path).name, packed)
        slot = _take_slot(timeout, limits.log_tail_bytes)
        started = time.monotonic()
        future = slot.executor.submit(grade_one, str(local), *args, name=path)
        record, ending, detail = None, None, None
        try:
            record = future.result(timeout=timeout)
        except cf.TimeoutError:
            ending = TIMEOUT
        except BrokenProcessPool:
            ending = DIED
        except Exception as error:  # a grader bug: the slot is fine
            ending, detail = FAILED, repr(error)
        seconds = time.monotonic() - started
        if ending in (TIMEOUT, DIED):
            slot.kill()
    if ending is not None:
        record = unrecorded(path, args, ending, seconds, timeout, detail)
    result = {"record": record, "ending": ending, "seconds": seconds,
              "log": _new_output(slot, limits.log_tail_bytes), "worker": _worker_address(), "pid": slot.pid}
    if ending in (TIMEOUT, DIED):
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
    slot = Slot(log_path)
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
