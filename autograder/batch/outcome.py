"""What an executor hands back to the pool for each job, and the batch's errors."""

import collections


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


