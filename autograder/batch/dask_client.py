"""The Dask executor, the client's side: one `Client.submit` of
`dask_worker.grade_remote` per submission, as many in flight as the cluster
has worker threads, collected with `as_completed`. The submission travels
*with the task*, as the bytes of the files the grader reads (`pack`): the
workers need no access to the submissions folder, only the same grader
installed. Records come back to this process, which writes them; the slot's
output comes back with them and goes to the batch's log, after a line naming
the student, the Dask worker and the grading process.
"""

import collections
import pathlib
import time
import uuid

from autograder.batch.dask_worker import grade_remote
from autograder.batch.outcome import DIED, FAILED, UNREADABLE, BatchError, Outcome, WorkerSetupError, unrecorded
from autograder.submission_files import UnreadableSubmission
from genimg_kit.text import shown


def pack(path):
    """(is a folder, {relative name: bytes}): the files of a submission that the grader reads
    (the reader's own rule: no links, regular files only, within its bounds)."""
    from autograder.submission_files import submission_files

    files, _ = submission_files(path)
    return pathlib.Path(path).is_dir(), dict(files)


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
                except (OSError, UnreadableSubmission) as error:  # no worker could read it either
                    unread.append(Outcome(student, path, unrecorded(path, args, UNREADABLE, 0.0, timeout,
                                                                     error), 0.0))
                    continue
                future = self.client.submit(grade_remote, str(path), packed, *args, timeout, pure=False,
                                            key=f"genimg-grade-{shown(student)}-{uuid.uuid4().hex[:8]}")
                self.futures[future] = (student, path, time.monotonic())
                done.add(future)
                return True
            return False

        while len(self.futures) < self.in_flight() and submit_next():
            pass
        yield from _drain(unread)
        for future in done:
            student, path, handed = self.futures.pop(future)
            outcome = self._outcome(future, student, path, args, timeout)._replace(turnaround=time.monotonic() - handed)
            while len(self.futures) < self.in_flight() and submit_next():
                pass
            yield outcome
            yield from _drain(unread)

    def _outcome(self, future, student, path, args, timeout):
        from distributed import KilledWorker

        try:
            result = future.result()
        except KilledWorker:  # every worker that took it died (Dask retries a few)
            return Outcome(student, path, unrecorded(path, args, DIED, 0.0, timeout), 0.0)
        except (WorkerSetupError, ImportError) as error:
            raise BatchError(f"a Dask worker cannot run the grader: {error} (install the same genimg "
                             "on every worker)") from error
        except Exception as error:
            return Outcome(student, path, unrecorded(path, args, FAILED, 0.0, timeout, repr(error)), 0.0)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"--- {shown(student)}: {result['ending'] or 'graded'} in {result['seconds']:.1f} s on Dask worker "
                      f"{result['worker']}, grading process {result['pid']} ---\n{result['log']}")
        return Outcome(student, path, result["record"], result["seconds"])

    def kill(self):
        """Cancels what is queued; a task already grading runs on to its end or its timeout."""
        self.client.cancel(list(self.futures))
        self.futures = {}

    def close(self):
        self.client.close()


def _drain(queue):
    while queue:
        yield queue.popleft()


