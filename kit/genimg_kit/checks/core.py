"""A check: its declaration (`@check`) and how it runs, as a Hypothesis property.

A *check* is a small named function `check(subject, *drawn)` that probes one
graded part through a *subject* (`genimg_kit.checks.subject`) and raises
`AssertionError` when the part misbehaves. Declared with `given=`
strategies, it runs as a Hypothesis property: the strategies draw its
remaining arguments, and a failure shrinks to a minimal counterexample.
A probe returns only numpy arrays: the verdict is computed by the check.

Which checks a part runs, and in what order, is its battery
(`genimg_kit.checks.battery`): `@check` only declares. Running a battery
and sharing out its points is `genimg_kit.checks.runner`'s job.
"""

import dataclasses
import hashlib
import inspect

import hypothesis
from hypothesis import HealthCheck, Verbosity, settings

from genimg_kit.checks.subject import SubmissionDied
from genimg_kit.parts import MissingName

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
            stop = [e for e in failures_of(group) if isinstance(e, (MissingName, SubmissionDied))]
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


def failures_of(error):
    """The distinct failures one check found: Hypothesis groups them when there are several."""
    if isinstance(error, BaseExceptionGroup):
        return [f for sub in error.exceptions for f in failures_of(sub)]
    return [error]
