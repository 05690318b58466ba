"""Exact points, and what a student sees before grades are published.

Check points are whole quarter points (genimg_kit.parts.QUANTUM), shared by
largest-remainder rounding, so a part's checks add up to the part's points
and the parts to the total, exactly, in every writer, and in the sums that
the platforms do themselves (GitHub Classroom's reporter adds the tests'
scores in JavaScript). Before publication, Gradescope shows students the
visible tests and the top-level output: no hidden check's name, message or
hint, and no total.
"""

import json
import os
import shutil
import subprocess
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import writers
from autograder.hidden import HIDDEN
from autograder.record import GradeRecord
from genimg_kit.checks.battery import failed_part
from genimg_kit.parts import PARTS, QUANTUM, apportion, format_points

REPORTER = os.path.join(os.path.dirname(__file__), "reporter", "reporter.js")


@settings(derandomize=True, database=None, max_examples=200)
@given(st.integers(0, 400), st.lists(st.sampled_from([0.5, 1, 1.5, 2, 3, 4]), min_size=1, max_size=9))
def test_apportion_adds_up_exactly_in_quanta_close_to_the_weights(quanta, weights):
    points = quanta * QUANTUM
    shares = apportion(points, weights)
    assert sum(Fraction(s) for s in shares) == Fraction(points)
    assert all(Fraction(s) / Fraction(QUANTUM) == int(s / QUANTUM) for s in shares)
    for share, weight in zip(shares, weights):
        exact = points * weight / sum(weights)
        assert abs(share - exact) < QUANTUM, (share, exact)


@pytest.mark.parametrize("part", list(PARTS))
def test_a_parts_checks_add_up_to_its_points_with_and_without_hidden_ones(part):
    graded = failed_part(part, "x", HIDDEN).checks
    public = failed_part(part, "x").checks
    assert sum(c.max_points for c in graded) == PARTS[part].points  # exact, no tolerance
    assert [c.max_points for c in graded if not c.hidden] == [c.max_points for c in public]
    assert all((c.max_points / QUANTUM).is_integer() for c in graded)


def mixed_record():
    """A grade with every third check failed, and each part's first hidden one, with telltale texts."""
    parts = {}
    for part in PARTS:
        result = failed_part(part, "", HIDDEN)
        first_hidden = next((c for c in result.checks if c.hidden), None)
        for i, c in enumerate(result.checks):
            if i % 3 and c is not first_hidden:
                c.passed, c.points = True, c.max_points
            else:
                c.message = f"SECRET-MESSAGE-{c.id}" if c.hidden else f"public message {c.id}"
                c.hint = f"SECRET-HINT-{c.id}" if c.hidden else c.hint
        parts[part] = result
    return GradeRecord("s.ipynb", "tensorflow", parts)


def test_the_total_is_exact_in_every_writer():
    record = mixed_record()
    exact = sum(Fraction(c.points) for c in record.checks())
    assert Fraction(record.score) == exact and 0 < record.score < 100
    gradescope = writers.gradescope(record)
    assert gradescope["score"] == record.score == sum(t["score"] for t in gradescope["tests"])
    total = 0.0
    for t in writers.classroom(record)["tests"]:  # summed in order, as the reporter does
        total += t["score"]
    assert total == record.score
    assert f"score: {format_points(record.score)}/100" in writers.text_report(record)
    for part in record.parts.values():
        assert sum(c.points for c in part.checks) == part.points


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the reporter is JavaScript")
def test_classroom_reporter_posts_the_exact_points():
    record = mixed_record()
    encoded = writers.encode_classroom(writers.classroom(record))
    run = subprocess.run(["node", REPORTER, "genimg"], env=dict(os.environ, GENIMG_RESULTS=encoded),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"Points {format_points(record.score)}/100\n" in run.stdout
    assert f"passed {sum(c.passed for c in record.checks())}" in run.stdout
    assert "::error::Some tests failed." in run.stdout  # a failed check fails the job


def visible_text(results):
    """Everything of a results.json a student can see before grades are published."""
    visible = {k: v for k, v in results.items() if k not in ("tests", "score", "max_score")}
    tests = [t for t in results["tests"] if t.get("visibility", "visible") == "visible"]
    return json.dumps(visible) + json.dumps(tests)


def test_nothing_hidden_is_visible_before_publication():
    record = mixed_record()
    results = writers.gradescope(record)
    text = visible_text(results)
    hidden = [c for c in record.checks() if c.hidden]
    assert hidden and all(c.id not in text and c.description not in text for c in hidden)
    assert "SECRET" not in text
    assert "score:" not in results["output"] and format_points(record.score) + "/100" not in text
    # ... while the public checks' verdicts are all there, and the hidden tests are kept for later.
    assert all(f"public message {c.id}" in results["output"] for c in record.checks()
               if not c.hidden and not c.passed)
    later = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert len(later) == len(hidden) and any("SECRET-MESSAGE" in t["output"] for t in later)
