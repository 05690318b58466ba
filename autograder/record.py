"""The grade record: what one grading of one submission found.

Every consumer passes a `GradeRecord`: `grade` makes it, the batch pool
carries it back from its workers (as `to_json()`), `reconcile` scores the
gradebook from it, and every writer (text, Gradescope, Classroom, the batch
summary) formats it. `to_json` / `from_json` round-trip exactly; a file is
only ever written from a record, never parsed to score one.

A record holds only plain text: every text in it (the submission's name,
the message, each note, each check's message, counterexample and the rest)
passes through `genimg_kit.text` when the record or note is made, however it
is made (by `grade`, `failed_record`, `from_json`, `dataclasses.replace`),
so every writer shows what a submission printed, raised or is called
without a control character or escape sequence in it (a record of an older
release is cleaned as it is read).
"""

import dataclasses

from genimg_kit.checks.results import CheckResult, PartResult
from genimg_kit.text import one_line, plain

# How a grading ended. "ok": graded, whatever the score. "error": the
# submission could not be read, or the grader could not run on it.
# "timeout": stopped from outside past the whole-submission deadline.
# "missing": nothing was submitted (nbgrader courses). "environment": the
# grading machine failed (its container ran out of memory): the record is not
# a valid grade, whatever it scores, and the submission is to be graded again.
STATUSES = ("ok", "error", "timeout", "missing", "environment")

# What a note is about: a top-level statement the grader did not run; a
# statement that raised while loading (or a cell that did not parse); what the
# submission printed; tampering with the probes or the answer pipe, detected
# in the sandbox (the part it happened in scores 0); a part graded again with
# more time because the reference solution itself needs more than its planned
# share on this machine (grade._reference_seconds).
NOTE_KINDS = ("skipped", "load_error", "printed", "tampered", "slow_machine")
# What a "printed" note keeps of what the submission printed: its end.
PRINTED_CHARS = 2000


@dataclasses.dataclass(frozen=True)
class Note:
    kind: str  # one of NOTE_KINDS
    text: str

    def __post_init__(self):
        if self.kind not in NOTE_KINDS:
            raise ValueError(f"unknown note kind {self.kind!r}")
        object.__setattr__(self, "text", plain(self.text))


def _plain_check(result):
    """A CheckResult whose every text is plain (names on one line)."""
    return dataclasses.replace(
        result, id=one_line(result.id), part=one_line(result.part), description=one_line(result.description),
        message=plain(result.message), counterexample=plain(result.counterexample), hint=plain(result.hint),
        diagnosis=plain(result.diagnosis), misconception=one_line(result.misconception))


@dataclasses.dataclass
class GradeRecord:
    submission: str
    backend: str
    parts: dict  # part id -> PartResult, in the points table's order
    status: str = "ok"  # one of STATUSES
    message: str = ""  # why the status is not "ok"
    profile: str = ""  # the convergence profile used ("" when no sandbox started)
    notes: list = dataclasses.field(default_factory=list)  # Note
    seconds: float = 0.0
    timings: dict = dataclasses.field(default_factory=dict)  # stage -> seconds (benchmarks)
    # What the kernel enforced on the submission's code (autograder.isolation.confine.mechanisms.isolation):
    # {"level": full|partial|none, "held": {guarantee: mechanisms}, "missing": {guarantee: why}};
    # empty when no sandbox started.
    isolation: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        self.submission, self.message = one_line(self.submission), plain(self.message)
        self.backend, self.profile = one_line(self.backend), one_line(self.profile)
        self.parts = {part: PartResult(result.part, [_plain_check(c) for c in result.checks])
                      for part, result in self.parts.items()}

    @property
    def score(self):
        return sum(p.points for p in self.parts.values())  # exact: quarter points

    @property
    def max_score(self):
        return sum(p.max_points for p in self.parts.values())

    def checks(self):
        for part in self.parts.values():
            yield from part.checks

    def to_json(self):
        """A dict of plain JSON values."""
        data = dataclasses.asdict(self)
        data["parts"] = {part: [dataclasses.asdict(c) for c in result.checks]
                         for part, result in self.parts.items()}
        return data

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["parts"] = {part: PartResult(part, [CheckResult(**c) for c in checks])
                         for part, checks in data["parts"].items()}
        data["notes"] = [Note(**n) for n in data["notes"]]
        return cls(**data)
