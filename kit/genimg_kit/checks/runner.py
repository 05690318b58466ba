"""Running a part's battery against a subject, and sharing out its points.

Each check's share of the part's points is its weight over the battery's
(in whole quarter points, `genimg_kit.parts.apportion`); a passed check
scores its share, a failed one scores nothing and says why.
"""

import time

from genimg_kit import parts as parts_table
from genimg_kit.checks.diagnosis import diagnose
from genimg_kit.checks.results import CheckResult, PartResult
from genimg_kit.checks.subject import SubmissionDied
from genimg_kit.parts import MissingName
from genimg_kit.checks.verdicts import verdict


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


def _result(c, share, message=""):
    """A check's result before it runs; one given a `message` failed for a reason that is not
    about what the check tests (a missing name, a dead submission), so it carries no hint."""
    if not message:
        return CheckResult(c.id, c.part, c.description, 0.0, share, False, c.hidden, hint=c.hint)
    return CheckResult(c.id, c.part, c.description, 0.0, share, False, c.hidden, message=message)


def failed_checks(part, checks, message):
    """`part` with every one of `checks` failed for one reason, without running any."""
    return PartResult(part, [_result(c, s, message) for c, s in zip(checks, _shares(part, checks))])


def run_checks(part, checks, subject):
    """Runs `checks` (a part's battery) against `subject`; always returns a PartResult.

    Points of the part are shared by weight among the checks. A missing name
    fails every check at once; a dead submission fails the check that killed
    it and every later one, with the same message. A part that failed checks
    and is still standing is diagnosed (genimg_kit.checks.diagnosis).
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
                result = _result(c, share, stop_message)
            except Exception as error:  # AssertionError, SubmissionError, a group of them, ...
                result.message, result.counterexample = verdict(error)
            else:
                result.passed, result.points = True, share
        else:
            result = _result(c, share, stop_message)
        result.seconds = time.perf_counter() - started
        results.append(result)
    failed = [r for r in results if not r.passed]
    if failed and stop_message is None and (found := diagnose(part, subject)) is not None:
        failed[0].diagnosis, failed[0].misconception = found.sentence, found.label
    return PartResult(part, results)
