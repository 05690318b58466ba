"""What running checks produces: a `CheckResult` per check, a `PartResult` per part.

The grader's record (`autograder.record`), its writers and the notebook's
report (`genimg_kit.checks.report`) all read these.
"""

import dataclasses


@dataclasses.dataclass
class CheckResult:
    id: str  # part.function_name
    part: str
    description: str
    points: float
    max_points: float
    passed: bool
    hidden: bool
    message: str = ""
    counterexample: str = ""
    hint: str = ""
    seconds: float = 0.0
    # On a part's first failed check: the catalogued mistake its numbers match
    # (genimg_kit.checks.diagnosis), in a sentence, and the label the class counts.
    diagnosis: str = ""
    misconception: str = ""


@dataclasses.dataclass
class PartResult:
    part: str
    checks: list

    # Check points are whole quarter points (parts.QUANTUM): their float sums are exact.
    @property
    def points(self):
        return sum(c.points for c in self.checks)

    @property
    def max_points(self):
        return sum(c.max_points for c in self.checks)
