"""GitHub Classroom: the workflow template, and what its grading step hands the reporter.

The grading step's shell script is taken from .github/classroom/genimg.yml and
run here as GitHub Actions would run it (bash, $GITHUB_OUTPUT set), with
`--json` added through GENIMG_GRADE_ARGS, so the Classroom result and the
Gradescope result come from the same grading run and can be compared.
"""

import base64
import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BUGGY, CORRECT, write  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
WORKFLOW = pathlib.Path(__file__).resolve().parent.parent / ".github" / "classroom" / "genimg.yml"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
VENV_BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow):
    return workflow["jobs"]["run-autograding-tests"]["steps"]


def grading_step(workflow):
    (step,) = [s for s in steps(workflow) if "genimg-grade" in s.get("run", "") and "--classroom" in s["run"]]
    return step


def test_workflow_parses_and_follows_the_reporters_conventions(workflow):
    # The reporter only uploads scores for this workflow name and this single job.
    assert workflow["name"] == "Autograding Tests"
    assert list(workflow["jobs"]) == ["run-autograding-tests"]
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads a bare `on` as True
    assert "push" in triggers
    step = grading_step(workflow)
    step_id = step["id"]
    assert "--classroom result.txt" in step["run"] and 'result=' in step["run"] and "$GITHUB_OUTPUT" in step["run"]
    (reporter,) = [s for s in steps(workflow) if s.get("uses") == REPORTER]
    assert reporter["with"]["runners"].split(",") == [step_id]
    key = f"{step_id.upper()}_RESULTS"
    assert reporter["env"][key].replace(" ", "") == "${{steps.%s.outputs.result}}" % step_id
    assert steps(workflow).index(reporter) > steps(workflow).index(step)
    assert reporter.get("if") == "always()"


def test_workflow_time_limits_are_the_graders(workflow):
    from autograder.limits import (DEADLINE_MARGIN_S, Limits, classroom_job_minutes, classroom_step_minutes,
                                   classroom_time_limit)

    job = workflow["jobs"]["run-autograding-tests"]
    limits = Limits()
    assert grading_step(workflow)["timeout-minutes"] == classroom_step_minutes(limits)
    assert job["timeout-minutes"] == classroom_job_minutes(limits)
    # The grader's own deadline (the limit less the margin) is the cpu profile's: runners have no GPU.
    assert classroom_time_limit(limits) - DEADLINE_MARGIN_S == limits.deadline_for("cpu")
    assert grading_step(workflow)["timeout-minutes"] * 60 >= classroom_time_limit(limits) + 60
    assert int(grading_step(workflow)["env"]["GENIMG_TIME_LIMIT"]) == classroom_time_limit(limits)
    assert int(grading_step(workflow)["env"]["GENIMG_DEADLINE_MARGIN"]) == DEADLINE_MARGIN_S
    assert grading_step(workflow)["if"] == "always()"  # a failed install still gets a result


def run_grading_step(workflow, tmp_path, submission, path=None):
    """Runs the step's script like Actions does; returns (decoded output, gradescope json or None)."""
    output = tmp_path / "github_output"
    env = dict(os.environ, **workflow["env"], **grading_step(workflow)["env"])
    env.update(GITHUB_OUTPUT=str(output), GENIMG_SUBMISSION=str(submission), GENIMG_BACKEND=BACKEND,
               KERAS_BACKEND=BACKEND,
               GENIMG_GRADE_ARGS="--parts kl_loss --json results.json",
               PATH=path or f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    completed = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", grading_step(workflow)["run"]], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (line,) = output.read_text().splitlines()
    name, value = line.split("=", 1)
    assert name == "result"
    assert value == (tmp_path / "result.txt").read_text().strip()
    decoded = json.loads(base64.b64decode(value))
    gradescope = tmp_path / "results.json"
    return decoded, json.loads(gradescope.read_text()) if gradescope.exists() else None


def check_against_gradescope(classroom, gradescope):
    assert classroom["version"] == 1
    assert classroom["max_score"] == gradescope["max_score"]
    # What the reporter posts: the sum of the tests' scores out of max_score, exactly Gradescope's.
    assert sum(t["score"] for t in classroom["tests"]) == gradescope["score"]
    assert [t["name"] for t in classroom["tests"]] == [t["name"] for t in gradescope["tests"]]
    for mine, theirs in zip(classroom["tests"], gradescope["tests"]):
        assert mine["score"] == theirs["score"]
        assert (mine["status"] == "pass") == (theirs["status"] == "passed")
        assert {"message", "test_code", "filename", "line_no", "execution_time"} <= set(mine)


def test_correct_submission_passes_with_full_points(workflow, tmp_path):
    submission = write(tmp_path / "repo", "genimg.py", CORRECT)
    classroom, gradescope = run_grading_step(workflow, tmp_path, submission)
    check_against_gradescope(classroom, gradescope)
    assert classroom["status"] == "pass"
    assert sum(t["score"] for t in classroom["tests"]) == pytest.approx(part_points("kl_loss"), abs=1e-3)


def test_buggy_submission_fails_with_partial_points(workflow, tmp_path):
    submission = write(tmp_path / "repo", "genimg.py", BUGGY)
    classroom, gradescope = run_grading_step(workflow, tmp_path, submission)
    check_against_gradescope(classroom, gradescope)
    assert classroom["status"] == "fail"
    assert sum(t["score"] for t in classroom["tests"]) < part_points("kl_loss")


def test_missing_grader_reports_an_error_result(workflow, tmp_path):
    # No genimg-grade on PATH (the install step failed): the step still sets `result`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    submission = write(tmp_path / "repo", "genimg.py", CORRECT)
    classroom, gradescope = run_grading_step(workflow, tmp_path, submission, path=f"{bin_dir}:/usr/bin:/bin")
    assert gradescope is None
    assert classroom["status"] == "error" and classroom["tests"][0]["status"] == "error"
    assert "exit status 127" in classroom["tests"][0]["message"]
