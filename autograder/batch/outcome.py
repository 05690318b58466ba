"""What an executor hands back to the pool for each job, and the batch's errors."""

import collections


class BatchError(Exception):
    """The batch cannot run at all (bad folder, duplicate student ids, broken grader, no cluster)."""


class WorkerSetupError(Exception):
    """A grading worker could not start (on a Dask worker: it cannot import the grader)."""


# How one job ended: `record`, the submission's GradeRecord as to_json() (the
# grader's, or `unrecorded`'s when the job ended without one). seconds: the
# grading's, as the timeout counts them (from the hand-off to a warm worker);
# turnaround: from this process's hand-off to the outcome here (on Dask, also
# the transfers, and a worker's warm-up on its first task).
Outcome = collections.namedtuple("Outcome", "student path record seconds turnaround", defaults=(None,))

# The ways a job can end without the grader's record.
TIMEOUT, DIED, FAILED, UNREADABLE = "timeout", "died", "failed", "unreadable"


def unrecorded(path, args, ending, seconds, timeout, detail=None):
    """The record of a job that ended without one: past `timeout` (TIMEOUT), its
    grading process died (DIED), the grader raised `detail` (FAILED), or the
    submission could not be read to be sent (UNREADABLE, `detail` says why).
    `args`: the job's (parts, backend, limits)."""
    from autograder.grade import failed_record, unreadable_record

    parts, backend, _ = args
    if ending == UNREADABLE:
        return unreadable_record(path, backend, parts, detail, seconds).to_json()
    status, message = {
        TIMEOUT: ("timeout", f"grading took longer than {timeout:g} s and was stopped; look for an "
                             "endless loop or very slow code"),
        DIED: ("error", "the grading worker died while grading this submission (killed from outside, "
                        "or out of memory)"),
        FAILED: ("error", f"the grader failed on this submission: {detail}"),
    }[ending]
    return failed_record(path, backend, parts, status, message, seconds).to_json()
