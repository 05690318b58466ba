"""The text of a failed check: its message and the counterexample that broke it.

Drawn inputs are written as a student would write them (`format_value`);
when Hypothesis found several distinct failures, each is numbered.
"""

import numpy as np

from genimg_kit.checks.core import failures_of
from genimg_kit.checks.subject import SubmissionError
from genimg_kit.text import one_line


def format_value(value):
    """A drawn input as a student would write it: numbers rounded, arrays as nested lists,
    or as the NumPy call that makes them (`np.full` for one value repeated, a reshape for
    rates shaped (batch, 1, 1, 1))."""
    if isinstance(value, np.ndarray):
        rounded = np.round(value.astype(np.float64), 4)
        if value.size > 1 and np.all(rounded == rounded.flat[0]):
            return f"np.full({value.shape}, {float(rounded.flat[0])!r})"
        if value.ndim > 2 and value.size <= 24 and sum(d > 1 for d in value.shape) <= 1:
            return f"np.array({rounded.ravel().tolist()}).reshape{value.shape}"
        if value.size <= 24:
            return str(rounded.tolist())
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
    if isinstance(error, SubmissionError):  # what the student's code raised: on one line, behind ours
        return f"your code raised {one_line(error)}"
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


def verdict(error):
    """(message, counterexample) of a failed check, every distinct failure included."""
    failures = failures_of(error)
    if len(failures) == 1:
        return _message_of(failures[0]), _counterexample_of(failures[0])
    messages = [f"failure {i}: {_message_of(f)}" for i, f in enumerate(failures, 1)]
    examples = [f"failure {i}: {_counterexample_of(f)}" for i, f in enumerate(failures, 1)
                if _counterexample_of(f)]
    return (f"{len(failures)} distinct failures\n" + "\n".join(messages)), "\n".join(examples)
