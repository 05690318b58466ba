"""PrairieLearn: genimg's results.json is what its external-grading docs ask for.

`schema_errors` applies what PrairieLearn/PrairieLearn's docs/externalGrading.md
says of /grade/results/results.json (and what its grader host and
`processGradingResult` enforce): at most 1 MB; a gradable result has a finite
`score` in [0, 1]; a not-gradable one says `gradable: false`; tests carry
`name`, and `points` and `max_points` on every test (or no test shows its
points), with `message` and `output` as text. The writer is checked on graded
records of every kind (tests/synthetic_records.py), and `genimg-grade
prairielearn` on a job folder laid out as PrairieLearn mounts it.
"""

import json
import math
import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BROKEN_NOTEBOOK, CORRECT, SYNTAX_ERROR, write  # noqa: E402
from synthetic_records import record  # noqa: E402
from autograder import cli, prairielearn  # noqa: E402
from autograder.grade import GraderError  # noqa: E402
from genimg_kit.parts import PARTS  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
MAX_BYTES = 1024 * 1024


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _test_errors(i, test):
    errors = [] if isinstance(test.get("name"), str) and test["name"] else [f"tests[{i}].name"]
    if not (_number(test.get("points")) and _number(test.get("max_points"))):
        return errors + [f"tests[{i}] lacks points or max_points (no test would show its points)"]
    if not 0 <= test["points"] <= test["max_points"]:
        errors.append(f"tests[{i}].points out of [0, max_points]")
    return errors + [f"tests[{i}].{key} is not text" for key in ("message", "output", "description")
                     if key in test and not isinstance(test[key], str)]


def schema_errors(results):
    """Why PrairieLearn would not take `results` as a grade (empty: it does)."""
    if len(json.dumps(results).encode()) > MAX_BYTES:
        return ["larger than 1 MB"]
    if not isinstance(results, dict):
        return ["not a JSON object"]
    if results.get("gradable", True) is False:
        return [] if isinstance(results.get("message"), str) and results["message"] else ["no message"]
    errors = [] if results.get("gradable", True) is True else ["gradable is not a boolean"]
    if not _number(results.get("score")) or not 0 <= results["score"] <= 1:
        errors.append("score is not a number in [0, 1]")
    tests = results.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        return errors + ["tests is not a list of objects"]
    return errors + [e for i, t in enumerate(tests) for e in _test_errors(i, t)]


@pytest.mark.parametrize("kind", ["correct", "buggy", "broken"])
def test_a_graded_record_is_gradable_with_its_points(kind):
    graded = record("alice", kind, bug_part="kl_loss" if kind == "buggy" else None)
    results = prairielearn.results(graded)
    assert schema_errors(results) == []
    assert results["gradable"] is True  # a submission that does not load is the student's doing
    assert results["score"] == graded.score / graded.max_score
    assert [t["name"] for t in results["tests"]] == list(PARTS)
    assert sum(t["points"] for t in results["tests"]) == graded.score
    for test, part in zip(results["tests"], graded.parts.values()):
        assert (test["points"], test["max_points"]) == (part.points, part.max_points)
    assert (results["score"] == 1) == (kind == "correct")


def test_an_environment_failure_is_not_gradable():
    graded = record("alice", "environment")
    results = prairielearn.results(graded)
    assert schema_errors(results) == [] and results["gradable"] is False
    assert graded.message in results["message"] and "not your fault" in results["message"]
    assert "score" not in results and "tests" not in results


def test_hidden_checks_never_reach_the_student():
    graded = record("alice", "buggy", bug_part="kl_loss")
    shown = json.dumps(prairielearn.results(graded))  # PrairieLearn may show any of it
    hidden = [c for c in graded.checks() if c.hidden and not c.passed]
    assert hidden
    for c in hidden:
        assert c.id not in shown and c.description not in shown and c.message not in shown
    (kl,) = [t for t in prairielearn.results(graded)["tests"] if t["name"] == "kl_loss"]
    public = [c for c in graded.parts["kl_loss"].checks if not c.hidden]
    assert all(c.message in kl["output"] for c in public)
    assert kl["message"] == f"{len(public)} public checks failed; checks run only at grading lost points too"


@pytest.mark.parametrize("results, why", [
    ({"score": 1.5}, "score is not a number in [0, 1]"),
    ({"score": 0.5, "tests": [{"name": "a", "points": 1}]}, "tests[0] lacks points or max_points"),
    ({"gradable": False}, "no message"),
    ({"score": 0.5, "output": "x" * MAX_BYTES}, "larger than 1 MB"),
])
def test_the_validation_refuses_what_prairielearn_refuses(results, why):
    assert any(error.startswith(why) for error in schema_errors(results))


def job(folder, name, text):
    """A job folder as PrairieLearn mounts it at /grade: the student's files under student/."""
    write(folder / prairielearn.STUDENT, name, text)
    (folder / "data").mkdir()
    (folder / "data" / "data.json").write_text("{}")
    return folder


@pytest.mark.parametrize("name, text, score", [("genimg.py", CORRECT, 1.0), ("genimg.py", SYNTAX_ERROR, 0.0),
                                               ("genimg.ipynb", BROKEN_NOTEBOOK, 0.0)])
def test_the_entrypoint_grades_a_job(tmp_path, name, text, score):
    folder = job(tmp_path / "grade", name, text)
    assert cli.main(["prairielearn", str(folder), "--parts", "kl_loss", "--backend", BACKEND]) == 0
    results = json.loads((folder / prairielearn.RESULTS).read_text())
    assert schema_errors(results) == [] and results["gradable"] is True
    assert results["score"] == score and [t["name"] for t in results["tests"]] == ["kl_loss"]


def test_a_grader_that_cannot_run_leaves_a_not_gradable_result(tmp_path, monkeypatch):
    def cannot_run(*args, **kwargs):
        raise GraderError("the sandbox did not start")

    monkeypatch.setattr(prairielearn, "grade", cannot_run)
    folder = job(tmp_path / "grade", "genimg.py", CORRECT)
    assert cli.main(["prairielearn", str(folder)]) == 0  # PrairieLearn reads results only after exit 0
    results = json.loads((folder / prairielearn.RESULTS).read_text())
    assert schema_errors(results) == [] and results["gradable"] is False
    assert "the sandbox did not start" in results["message"]
