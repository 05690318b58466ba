"""The local executor: `workers` slots on this machine, the whole-submission
timeout enforced from here (past it, the slot is killed and replaced)."""

import collections
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import time

from autograder.batch.outcome import DIED, FAILED, TIMEOUT, BatchError, Outcome, unrecorded
from autograder.batch.slot import Slot, grade_one


class LocalExecutor:
    """`workers` slots on this machine; the whole-submission timeout enforced from here."""

    def __init__(self, workers, log_path):
        self.workers, self.log_path, self.slots = max(1, workers), log_path, []

    def run(self, jobs, args, timeout):
        """Yields an Outcome per (student, path) in `jobs`; `args`: (parts, backend, limits)."""
        todo = collections.deque(jobs)
        self.slots = [Slot(self.log_path) for _ in range(min(self.workers, len(todo)))]
        slots = self.slots
        while todo or any(slot.job for slot in slots):
            for slot in slots:
                try:
                    free = slot.ready
                except Exception as error:  # the grader cannot start in a worker
                    raise BatchError(f"a grading worker could not start: {error!r}") from error
                if free and todo:
                    student, path = todo.popleft()
                    future = slot.executor.submit(grade_one, str(path), *args)
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
                        record = future.result()
                    except BrokenProcessPool:
                        record = unrecorded(path, args, DIED, seconds, timeout)
                        slot.kill()
                        slots[index] = Slot(self.log_path)
                    except Exception as error:  # a grader bug: recorded, the batch goes on
                        record = unrecorded(path, args, FAILED, seconds, timeout, repr(error))
                    yield Outcome(student, path, record, seconds, seconds)
                elif seconds > timeout:
                    slot.job = None
                    slot.kill()
                    slots[index] = Slot(self.log_path)
                    yield Outcome(student, path, unrecorded(path, args, TIMEOUT, seconds, timeout), seconds, seconds)

    def kill(self):
        """Stops every worker now (Ctrl-C, or a worker that cannot start)."""
        for slot in self.slots:
            slot.kill()
        self.slots = []

    def close(self):
        for slot in self.slots:
            slot.close()
        self.slots = []


