"""The machinery shared by every check: declarations, subjects, the runner, results.

A *check* is a small named function `check(subject, *drawn)` that probes one
graded part through a *subject* and raises `AssertionError` when the part
misbehaves. Declared with `given=` strategies, it runs as a Hypothesis
property: the strategies draw its remaining arguments, and a failure shrinks
to a minimal counterexample. The subject is how a check reaches the student's
code: `LocalSubject` calls it in this process (notebook self-checks), the
grader's remote subject calls it in a sandboxed child process. Either way a
probe returns only numpy arrays, and the verdict is computed by the check.

Which checks a part runs, and in what order, is its battery
(`genimg_kit.checks.battery`): `@check` only declares.
"""

import dataclasses
import hashlib
import inspect
import time

import hypothesis
import numpy as np
from hypothesis import HealthCheck, Verbosity, settings

from genimg_kit import parts as parts_table

# Derandomised, no example database: grading the same code twice gives the
# same verdicts and the same counterexamples.
GRADING_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=20,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    # Hypothesis's own report (its notes) is not shown: the drawn inputs are (see Check).
    verbosity=Verbosity.quiet,
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
    description: str
    function: object  # function(subject, *drawn)
    weight: float = 1.0
    hint: str = ""
    given: tuple = ()  # Hypothesis strategies drawing the function's arguments after `subject`
    hidden: bool = False  # set by the battery that lists it, never by the declaration

    @property
    def id(self):
        """Stable across releases: `part.function_name`."""
        return f"{self.part}.{self.function.__name__}"

    def __call__(self, subject):
        if not self.given:
            return self.function(subject)
        try:
            return self._property(subject)()
        except BaseExceptionGroup as group:
            # A dead submission or a missing name ends the part, however many
            # distinct failures Hypothesis saw while it kept shrinking.
            stop = [e for e in _failures(group) if isinstance(e, (MissingName, SubmissionDied))]
            if stop:
                raise stop[0] from None
            raise

    def _property(self, subject):
        function = self.function

        names = list(inspect.signature(function).parameters)[1:]

        def prop(*drawn):
            try:
                function(subject, *drawn)
            except Exception as error:
                # Hypothesis replays the minimal failing example last: the inputs
                # that travel with its error are that counterexample.
                error.drawn = dict(zip(names, drawn))
                raise

        # Hypothesis reads the drawn arguments' names from the signature, and
        # seeds each check from its id, not from its source.
        prop.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
        prop.__name__ = prop.__qualname__ = function.__name__
        seed = int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")
        return hypothesis.seed(seed)(GRADING_SETTINGS(hypothesis.given(*self.given)(prop)))


def check(part, description, weight=1.0, hint="", given=()):
    """Declares a check of `part`: `given` is a strategy, or a tuple of them, per drawn argument."""
    strategies = tuple(given) if isinstance(given, (tuple, list)) else (given,)

    def declare(function):
        return Check(part, description, function, weight, hint, strategies)

    return declare


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


class LocalSubject:
    """Runs probes against a namespace in this very process (self-checks)."""

    profile = "cpu"  # convergence budget: notebooks keep to the small one

    def __init__(self, namespace):
        self.namespace = namespace

    def probe(self, probe, **arrays):
        from genimg_kit.probes import NameNotDefined, describe_exception

        try:
            return probe(self.namespace, **arrays)
        except NameNotDefined as error:
            raise MissingName(str(error)) from None
        except Exception as error:  # the student's code raised
            raise SubmissionError(describe_exception(error)) from None


def _failures(error):
    """The distinct failures one check found: Hypothesis groups them when there are several."""
    if isinstance(error, BaseExceptionGroup):
        return [f for sub in error.exceptions for f in _failures(sub)]
    return [error]


def format_value(value):
    """A drawn input as a student would write it: numbers rounded, arrays as nested lists."""
    if isinstance(value, np.ndarray):
        if value.size <= 24:
            return str(np.round(value.astype(np.float64), 4).tolist())
        head = ", ".join(format_value(v) for v in value.ravel()[:6])
        return f"array of shape {value.shape} starting [{head}, ...]"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(format_value(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (float, np.floating)):
        return repr(round(float(value), 6))
    return repr(value)


def _message_of(error):
    if isinstance(error, SubmissionError):
        return f"your code raised {error}"
    text = str(error).strip()
    return text or f"{type(error).__name__} without a message"


def _named_inputs(drawn):
    """Drawn arguments by name; a drawn named tuple stands for its fields."""
    for name, value in drawn.items():
        if hasattr(value, "_asdict"):
            yield from value._asdict().items()
        else:
            yield name, value


def _counterexample_of(error):
    drawn = getattr(error, "drawn", None)
    return ", ".join(f"{name}={format_value(v)}" for name, v in _named_inputs(drawn)) if drawn else ""


def _verdict(error):
    """(message, counterexample) of a failed check, every distinct failure included."""
    failures = _failures(error)
    if len(failures) == 1:
        return _message_of(failures[0]), _counterexample_of(failures[0])
    messages = [f"failure {i}: {_message_of(f)}" for i, f in enumerate(failures, 1)]
    examples = [f"failure {i}: {_counterexample_of(f)}" for i, f in enumerate(failures, 1)
                if _counterexample_of(f)]
    return (f"{len(failures)} distinct failures\n" + "\n".join(messages)), "\n".join(examples)


def _shares(part, checks):
    """Each check's points, in quarter points that add up exactly (parts.apportion).

    The part's points are shared by weight over its whole battery: the public
    checks and one pot for the hidden ones, whose weight the points table
    holds, whether they run here or not; at grading the pot is shared among
    the hidden checks. So a public check is worth the same in a notebook as
    at grading, and a part passed in full scores exactly its points.
    """
    table = parts_table.PARTS[part]
    public = [c.weight for c in checks if not c.hidden]
    *public_shares, pot = parts_table.apportion(table.points, public + [table.hidden_weight])
    hidden = [c.weight for c in checks if c.hidden]
    hidden_shares = parts_table.apportion(pot, hidden) if hidden else []
    shares = iter(public_shares), iter(hidden_shares)
    return [next(shares[c.hidden]) for c in checks]


def _result(c, share, **verdict):
    return CheckResult(c.id, c.part, c.description, 0.0, share, False, c.hidden, hint=c.hint, **verdict)


def failed_checks(part, checks, message):
    """`part` with every one of `checks` failed for one reason, without running any."""
    return PartResult(part, [_result(c, s, message=message) for c, s in zip(checks, _shares(part, checks))])


def run_checks(part, checks, subject):
    """Runs `checks` (a part's battery) against `subject`; always returns a PartResult.

    Points of the part are shared by weight among the checks. A missing name
    fails every check at once; a dead submission fails the check that killed
    it and every later one, with the same message.
    """
    results, stop_message = [], None
    for c, share in zip(checks, _shares(part, checks)):
        result = _result(c, share)
        started = time.perf_counter()
        if stop_message is None:
            try:
                c(subject)
            except (MissingName, SubmissionDied) as error:
                stop_message = str(error)
                result.message = stop_message
            except Exception as error:  # AssertionError, SubmissionError, a group of them, ...
                result.message, result.counterexample = _verdict(error)
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


def assert_flows(out, key, what):
    """Asserts the gradient probe returned `key`: a missing key means no gradient flowed."""
    assert key in out, (
        f"{what}: expected a gradient, got none at all (the tape returned None: the value was "
        "detached with ops.stop_gradient, or computed outside the backend, e.g. with numpy)"
    )


def assert_gradient(out, key, expected, what, rtol=1e-4, atol=1e-5):
    """Asserts the gradient probe's `key` is `expected`."""
    assert_flows(out, key, what)
    assert_close(out[key], expected, what, rtol=rtol, atol=atol)
