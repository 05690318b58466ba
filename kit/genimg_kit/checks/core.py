"""The machinery shared by every check: registry, subjects, runner, results.

A *check* is a small named function `check(subject)` that probes one graded
part through a *subject* and raises `AssertionError` (usually from inside a
Hypothesis property, which shrinks the input to a minimal counterexample) when
the part misbehaves. The subject is how a check reaches the student's code:
`LocalSubject` calls it in this process (notebook self-checks), the grader's
remote subject calls it in a sandboxed child process. Either way a probe
returns only numpy arrays, and the verdict is computed by the check.
"""

import dataclasses
import time

import numpy as np
from hypothesis import HealthCheck, settings

from genimg_kit import parts as parts_table
from genimg_kit import probes

# Derandomised, no example database: grading the same code twice gives the
# same verdicts and the same counterexamples.
GRADING_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=20,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


class MissingName(Exception):
    """The submission does not define the graded name at top level."""


class SubmissionError(Exception):
    """The student's code raised, or returned something that is not numbers."""


class SubmissionDied(Exception):
    """The submission crashed, hung or ran out of memory: the part stops here."""


@dataclasses.dataclass(frozen=True)
class Check:
    part: str
    name: str
    function: object
    weight: float
    hint: str
    hidden: bool


REGISTRY = {part: [] for part in parts_table.PARTS}


def check(part, name, weight=1.0, hint="", hidden=False):
    """Registers a check of `part`; `hidden` ones never ship to students."""

    def register(function):
        REGISTRY[part].append(Check(part, name, function, weight, hint, hidden))
        return function

    return register


def checks_for(part, include_hidden=True):
    return [c for c in REGISTRY[part] if include_hidden or not c.hidden]


@dataclasses.dataclass
class CheckResult:
    part: str
    name: str
    points: float
    max_points: float
    passed: bool
    hidden: bool
    message: str = ""
    counterexample: str = ""
    hint: str = ""
    seconds: float = 0.0


@dataclasses.dataclass
class PartResult:
    part: str
    checks: list

    # Rounded so that a part passed in full shows exactly its points (the
    # shares are weight fractions, whose float sum may fall short by 1e-15).
    @property
    def points(self):
        return round(sum(c.points for c in self.checks), 9)

    @property
    def max_points(self):
        return round(sum(c.max_points for c in self.checks), 9)


class LocalSubject:
    """Runs probes against a namespace in this very process (self-checks)."""

    profile = "cpu"  # convergence budget: notebooks keep to the small one

    def __init__(self, namespace):
        self.namespace = namespace

    def probe(self, probe_name, **arrays):
        try:
            return probes.run_probe(self.namespace, probe_name, arrays)
        except probes.NameNotDefined as error:
            raise MissingName(str(error)) from None
        except Exception as error:  # the student's code raised
            raise SubmissionError(probes.describe_exception(error)) from None


def _counterexample(error):
    notes = getattr(error, "__notes__", None) or []
    return "\n".join(n for n in notes if "Falsifying" in n or "Failing" in n or "Draw" in n)


def _message(error):
    if isinstance(error, SubmissionError):
        return f"your code raised {error}"
    text = str(error).strip()
    return text or f"{type(error).__name__} without a message"


def failed_part(part, message, include_hidden=True):
    """`part` with every check failed for one reason, without running any."""
    checks = checks_for(part, include_hidden)
    total_weight = sum(c.weight for c in checks)
    points = parts_table.part_points(part)
    return PartResult(part, [
        CheckResult(part, c.name, 0.0, points * c.weight / total_weight, False, c.hidden,
                    message=message, hint=c.hint)
        for c in checks
    ])


def run_part(part, subject, include_hidden=True):
    """Runs every check of `part` against `subject`; always returns a PartResult.

    Points of the part are shared by weight among the checks run. A missing
    name fails every check at once; a dead submission fails the check that
    killed it and every later one, with the same message.
    """
    checks = checks_for(part, include_hidden)
    total_weight = sum(c.weight for c in checks)
    points = parts_table.part_points(part)
    results, stop_message = [], None
    for c in checks:
        share = points * c.weight / total_weight
        result = CheckResult(part, c.name, 0.0, share, False, c.hidden, hint=c.hint)
        started = time.perf_counter()
        if stop_message is None:
            try:
                c.function(subject)
            except (MissingName, SubmissionDied) as error:
                stop_message = str(error)
                result.message = stop_message
            except Exception as error:  # AssertionError, SubmissionError, ...
                result.message = _message(error)
                result.counterexample = _counterexample(error)
            else:
                result.passed, result.points = True, share
        else:
            result.message = stop_message
        result.seconds = time.perf_counter() - started
        results.append(result)
    return PartResult(part, results)


def assert_close(actual, expected, what, rtol=1e-4, atol=1e-5):
    """Asserts two arrays agree, saying where and by how much they differ."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{what}: expected shape {expected.shape}, got {actual.shape}"
    )
    assert np.all(np.isfinite(actual)), f"{what}: got non-finite values {actual.ravel()[:6]}"
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        index = np.unravel_index(np.argmax(np.abs(actual - expected)), actual.shape)
        raise AssertionError(
            f"{what}: expected {expected[index]:.6g} at index {tuple(int(i) for i in index)}, "
            f"got {actual[index]:.6g}"
        )
