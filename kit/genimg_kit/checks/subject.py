"""Subjects: how a check reaches the student's code, and how that can fail.

A subject has one method, `probe(probe, **arrays) -> arrays`: it calls a
probe function (`genimg_kit.probes`) on the student's definitions with numpy
inputs and hands back numpy arrays. `LocalSubject` calls it in this process
(notebook self-checks); the grader's `RemoteSubject` calls it in a sandboxed
child process. Both raise the exceptions below, which the runner turns into
verdicts (and genimg_kit.parts.MissingName, for a graded name not defined).
"""

from genimg_kit.parts import MissingName


class SubmissionError(Exception):
    """The student's code raised, or returned something that is not numbers."""


class SubmissionDied(Exception):
    """The submission crashed, hung or ran out of memory: the part stops here."""


class LocalSubject:
    """Runs probes against a namespace in this very process (self-checks)."""

    profile = "cpu"  # convergence budget: notebooks keep to the small one

    def __init__(self, namespace):
        self.namespace = namespace

    def probe(self, probe, **arrays):
        from genimg_kit.probes import describe_exception

        try:
            return probe(self.namespace, **arrays)
        except MissingName:
            raise
        except Exception as error:  # the student's code raised
            raise SubmissionError(describe_exception(error)) from None
