"""Classroom 50: genimg's result.json passes the checks its runner and collector apply.

`collector_errors` applies, re-written here from reading them (never copied
into the project), the checks foundation50/classroom50 makes on a result:
`collect_scores.py::validate_result` and `runner.py::validate_result`
(cli/gh-teacher/skeleton/dotgithub/scripts/), the collector's 10 MiB ceiling
(`MAX_RESULT_BYTES`), the structural schema (schemas/result-v1.schema.json:
no top-level key beyond its list, `datetime` as YYYY-MM-DDTHH:MM:SSZ) and the
wiki's "Advanced Autograding" rule that `score` and `max-score` are the sums
of the tests'. The writer is checked on graded records of every kind
(tests/synthetic_records.py); the bundle's autograder.py is run as the
runner runs it: with the runner's Python, in a student's checkout, in a
clean environment holding only PATH, HOME and what the runner adds.
"""

import dataclasses
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py, as_users.py
from _submissions import BROKEN_NOTEBOOK, BUGGY, CORRECT, SYNTAX_ERROR, write  # noqa: E402
from as_users import shell_environment  # noqa: E402
from synthetic_records import record  # noqa: E402
from autograder import classroom50, cli  # noqa: E402
from autograder.grade import grade  # noqa: E402
from autograder.isolation.confine import describe as describe_isolation  # noqa: E402
from genimg_kit.parts import PARTS, format_points, part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
REFERENCE = pathlib.Path(cli.DEFAULT_SUBMISSION)  # the answer key, genimg_ref/
# What the runner hands an autograder.py (runner.py's main and run_entrypoint).
RUNNER_ENV = {"CLASSROOM": "ml-2027", "ASSIGNMENT": "ch17", "USERNAME": "alice", "OWNER": "alice",
              "ASSIGNMENT_TYPE": "individual", "SUBMISSION_TAG": "submit/2027-01-20T10-00-00Z-a1b2c3d",
              "COMMIT_URL": "https://github.com/ml-org/ml-2027-ch17-alice/commit/a1b2c3d",
              "RELEASE_URL": "https://github.com/ml-org/ml-2027-ch17-alice/releases/tag/submit%2F2027",
              "REVIEW_URL": "https://github.com/ml-org/ml-2027-ch17-alice/compare/0f0f...a1b2c3d"}

TOP_LEVEL = {"schema", "classroom", "assignment", "assignment_type", "owner", "submission", "commit", "release",
             "review", "datetime", "graded_at", "score", "max-score", "tests", "submitted_by"}
REQUIRED = TOP_LEVEL - {"graded_at", "submitted_by"}
UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$")
MAX_RESULT_BYTES = 10 * 1024 * 1024


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _test_errors(i, test):
    if not isinstance(test, dict):
        return [f"tests[{i}] is not an object"]
    errors = []
    if not isinstance(test.get("test-name"), str) or not test["test-name"]:
        errors.append(f"tests[{i}].test-name must be a non-empty string")
    if not isinstance(test.get("passed"), bool):
        errors.append(f"tests[{i}].passed must be a boolean")
    if not (_whole(test.get("score")) and _whole(test.get("max-score"))):
        return errors + [f"tests[{i}] score and max-score must be non-negative integers"]
    if test["score"] > test["max-score"]:
        errors.append(f"tests[{i}].score > max-score")
    return errors


def collector_errors(data, classroom, assignment, owner, assignment_type="individual"):
    """Why Classroom 50 would refuse `data` as a result.json (empty: it accepts it)."""
    if len(json.dumps(data, indent=2).encode()) > MAX_RESULT_BYTES:
        return ["over the collector's 10 MiB ceiling"]
    if not isinstance(data, dict):
        return ["not a JSON object"]
    errors = [f"unknown key {key!r}" for key in sorted(set(data) - TOP_LEVEL)]
    errors += [f"missing key {key!r}" for key in sorted(REQUIRED - set(data))]
    expected = {"schema": "classroom50/result/v1", "classroom": classroom, "assignment": assignment,
                "assignment_type": assignment_type}
    errors += [f"{key} = {data.get(key)!r}, want {want!r}" for key, want in expected.items() if data.get(key) != want]
    if not isinstance(data.get("owner"), str) or data["owner"].lower() != owner.lower():
        errors.append(f"owner = {data.get('owner')!r}, want {owner!r}")
    if not str(data.get("submission", "")).startswith("submit/"):
        errors.append("submission must start with 'submit/'")
    errors += [f"{key} must be a non-empty string" for key in ("commit", "release", "review", "datetime")
               if not isinstance(data.get(key), str) or not data[key]]
    if not UTC.match(str(data.get("datetime", ""))):
        errors.append("datetime is not YYYY-MM-DDTHH:MM:SSZ")
    if not (_whole(data.get("score")) and _whole(data.get("max-score"))):
        return errors + ["score and max-score must be non-negative integers"]
    if data["score"] > data["max-score"]:
        errors.append("score > max-score")
    tests = data.get("tests")
    if not isinstance(tests, list):
        return errors + ["tests is not a list"]
    errors += [e for i, t in enumerate(tests) for e in _test_errors(i, t)]
    if not errors and (data["score"], data["max-score"]) != (sum(t["score"] for t in tests),
                                                              sum(t["max-score"] for t in tests)):
        errors.append("score / max-score are not the sums of the tests'")
    return errors


def accepted(data):
    return collector_errors(data, RUNNER_ENV["CLASSROOM"], RUNNER_ENV["ASSIGNMENT"], RUNNER_ENV["OWNER"]) == []


# --- the writer ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["correct", "buggy", "broken"])
def test_collector_accepts_the_result_with_the_records_points(kind):
    graded = record("alice", kind, bug_part="kl_loss" if kind == "buggy" else None)
    result = classroom50.result(graded, RUNNER_ENV)
    assert collector_errors(result, "ml-2027", "ch17", "alice") == []
    # Whole quarter points: exactly the record's points times four, part by part.
    assert result["score"] == graded.score * 4 and result["max-score"] == graded.max_score * 4 == 400
    assert [t["test-name"] for t in result["tests"]] == list(PARTS)
    for test, part in zip(result["tests"], graded.parts.values()):
        assert (test["score"], test["max-score"]) == (part.points * 4, part.max_points * 4)
        assert test["passed"] == all(c.passed for c in part.checks)
    assert (result["score"] == 400) == (kind == "correct")


def test_an_environment_failure_is_the_contracts_error_result_not_a_zero():
    graded = record("alice", "environment")
    result = classroom50.result(graded, RUNNER_ENV)
    assert accepted(result)
    assert result["tests"] == [] and result["score"] == result["max-score"] == 0  # "submitted, error"
    body = classroom50.release_body(graded)
    assert "not graded" in body and graded.message in body and "grade this submission again" in body
    assert "| Part |" not in body  # no points that read as a grade


def test_the_release_body_shows_public_checks_and_never_hidden_ones():
    graded = record("alice", "buggy", bug_part="kl_loss")
    body = classroom50.release_body(graded)
    shown = body + json.dumps(classroom50.result(graded, RUNNER_ENV))
    hidden = [c for c in graded.checks() if c.hidden and not c.passed]
    public = [c for c in graded.checks() if not c.hidden and not c.passed]
    assert hidden and public
    for c in hidden:
        assert c.id not in shown and c.description not in shown and c.message not in shown
    for c in public:
        assert c.id in body and c.message in body
    assert f"### genimg: {int(graded.score * 4)}/400 ({format_points(graded.score)}/100 points" in body
    assert "| kl_loss | FAIL | 0 / 48 |" in body and "| slerp | PASS | 64 / 64 |" in body


def test_the_release_body_says_how_isolated_the_grade_was():
    partial = {"level": "partial", "held": {"writes": "landlock-fs"},
               "missing": {"network": "this container refuses new namespaces"}}
    graded = dataclasses.replace(record("alice", "correct"), isolation=partial)
    assert describe_isolation(partial) in classroom50.release_body(graded)


def test_what_a_submission_printed_cannot_close_the_release_bodys_code_block():
    fence = classroom50.fenced("before\n````\n``` not a fence\nafter")
    first, *_, last = fence.split("\n")
    assert first == "`````text" and last == "`````"


def test_points_are_counted_in_quanta_never_rounded():
    assert classroom50.quanta(11.75) == 47
    with pytest.raises(ValueError):
        classroom50.quanta(0.1)


@pytest.mark.parametrize("change, why", [
    (lambda r: r.update(score=r["score"] + 0.5), "score and max-score must be non-negative integers"),
    (lambda r: r.update(score=r["score"] - 4), "score / max-score are not the sums of the tests'"),
    (lambda r: r.update(isolation="full"), "unknown key 'isolation'"),
    (lambda r: r.pop("review"), "missing key 'review'"),
    (lambda r: r.update(datetime="2027-01-20 10:00:00"), "datetime is not YYYY-MM-DDTHH:MM:SSZ"),
    (lambda r: r["tests"][0].update(passed="yes"), "tests[0].passed must be a boolean"),
    (lambda r: r.update(owner="mallory"), "owner = 'mallory', want 'alice'"),
    (lambda r: r.update(padding="x" * MAX_RESULT_BYTES), "over the collector's 10 MiB ceiling"),
])
def test_the_validation_refuses_what_classroom50_refuses(change, why):
    result = classroom50.result(record("alice", "correct"), RUNNER_ENV)
    change(result)
    assert why in collector_errors(result, "ml-2027", "ch17", "alice")


# --- the bundle, run as the runner runs it ------------------------------------------


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("classroom50") / "ch17"
    assert cli.main(["classroom50-bundle", str(out)]) == 0
    return out


def test_bundle_layout(bundle_dir):
    names = {p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file()}
    assert {"autograder.py", "requirements.txt", "BUNDLE.json"} <= names
    assert {n.split("-")[0] for n in names if n.startswith("wheels/")} == {"wheels/genimg", "wheels/genimg_kit"}
    source = (bundle_dir / "autograder.py").read_text()
    compile(source, "autograder.py", "exec")
    assert "@" + "BACKEND@" not in source
    imported = set(re.findall(r"^import (\w+)", source, re.MULTILINE))
    assert imported <= set(sys.stdlib_module_names)  # the runner's Python has nothing else
    assert json.loads((bundle_dir / "BUNDLE.json").read_text())["parts"] == list(PARTS)


def run_like_the_runner(bundle_dir, checkout, home, path=None, parts="kl_loss"):
    """Runs autograder.py as runner.py's run_entrypoint does, grading `parts` (the cheap
    kl_loss unless told; "" for all); returns (exit status, GITHUB_OUTPUT text)."""
    output = home / "github_output"
    env = dict(shell_environment(str(home), BACKEND), **RUNNER_ENV, GITHUB_OUTPUT=str(output),
               CLASSROOM50_BUNDLE_DIR=str(bundle_dir), GENIMG_BACKEND=BACKEND, GENIMG_PARTS=parts)
    if path:
        env["PATH"] = path
    completed = subprocess.run([sys.executable, str(bundle_dir / "autograder.py")], cwd=checkout, env=env,
                               capture_output=True, text=True, timeout=600)
    print(completed.stdout, completed.stderr)
    return completed.returncode, output.read_text() if output.exists() else ""


def student_checkout(folder, name, text):
    """A student's repository as the runner checks it out: the work, and Classroom 50's files."""
    write(folder, name, text)
    write(folder, ".classroom50.yaml", "classroom: ml-2027\nassignment: ch17\n")
    write(folder, ".github/workflows/autograde.yaml", "name: autograde\n")
    return folder


def graded_checkout(bundle_dir, tmp_path, name, text):
    """(result.json, release-body.md) that autograder.py leaves in a checkout of `name` holding `text`."""
    checkout = student_checkout(tmp_path / "checkout", name, text)
    status, _ = run_like_the_runner(bundle_dir, checkout, tmp_path)
    assert status == 0
    result = json.loads((checkout / classroom50.RESULT).read_text())
    assert accepted(result)
    return result, (checkout / classroom50.RELEASE_BODY).read_text()


@pytest.mark.parametrize("name, text, points", [("genimg.py", CORRECT, part_points("kl_loss")),
                                                ("genimg.py", SYNTAX_ERROR, 0), ("genimg.ipynb", BROKEN_NOTEBOOK, 0)])
def test_autograder_py_grades_a_checkout_into_an_accepted_result(bundle_dir, tmp_path, name, text, points):
    result, body = graded_checkout(bundle_dir, tmp_path, name, text)
    assert result["score"] == points * 4 and result["max-score"] == part_points("kl_loss") * 4
    assert f"### genimg: {int(points * 4)}/48 ({format_points(points)}/12 points" in body
    if name.endswith(".ipynb"):
        assert "not a readable notebook" in body


def test_a_wrong_submission_gets_its_records_points(bundle_dir, tmp_path):
    result, body = graded_checkout(bundle_dir, tmp_path, "genimg.py", BUGGY)
    graded = grade(tmp_path / "checkout", parts=["kl_loss"], backend=BACKEND)  # the same checkout, here
    assert result["tests"] == classroom50.tests(graded) and result["score"] == graded.score * 4 < 48
    assert f"### genimg: {result['score']}/48 ({format_points(graded.score)}/12 points" in body


@pytest.mark.slow
def test_the_reference_scores_every_quantum(bundle_dir, tmp_path):
    """The answer key, every part graded (a minute or two): 400/400, and the release says 100."""
    checkout = tmp_path / "checkout"
    for module in REFERENCE.glob("*.py"):
        write(checkout, module.name, module.read_text())
    status, _ = run_like_the_runner(bundle_dir, student_checkout(checkout, "README.md", "# ch17\n"), tmp_path,
                                    parts="")
    assert status == 0
    result = json.loads((checkout / classroom50.RESULT).read_text())
    assert accepted(result) and result["score"] == result["max-score"] == 400
    assert all(t["passed"] for t in result["tests"]) and len(result["tests"]) == len(PARTS)
    assert "(100/100 points" in (checkout / classroom50.RELEASE_BODY).read_text()


def fake_grader(bin_dir, script):
    """A `genimg-grade` in `bin_dir` that runs `script`; returns a PATH that finds it first."""
    write(bin_dir, "genimg-grade", "#!/bin/sh\n" + script).chmod(0o755)
    return f"{bin_dir}{os.pathsep}/usr/bin:/bin"


def test_the_grader_a_previous_run_installed_comes_first(bundle_dir, tmp_path):
    """The venv autograder.py installs under ~/.cache (named by the bundle's hash) is used
    before any genimg-grade on PATH: here one that reports a failed machine, so it shows."""
    spec = importlib.util.spec_from_file_location("classroom50_autograder", bundle_dir / "autograder.py")
    autograder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(autograder)
    cached = tmp_path / ".cache" / "genimg-classroom50" / autograder.bundle_digest() / "bin"
    fake_grader(cached, "exit 3\n")
    checkout = student_checkout(tmp_path / "checkout", "genimg.py", CORRECT)
    status, output = run_like_the_runner(bundle_dir, checkout, tmp_path)  # the real grader on PATH too
    assert status == 0 and "status=error\n" in output


def test_a_failed_grading_machine_sets_the_runners_error_status(bundle_dir, tmp_path):
    checkout = student_checkout(tmp_path / "checkout", "genimg.py", CORRECT)
    grader = fake_grader(tmp_path / "bin", "exit 3\n")
    status, output = run_like_the_runner(bundle_dir, checkout, tmp_path, path=grader)
    assert status == 0 and "status=error\n" in output


def test_a_grader_that_cannot_run_is_an_infrastructure_error(bundle_dir, tmp_path):
    checkout = student_checkout(tmp_path / "checkout", "genimg.py", CORRECT)
    grader = fake_grader(tmp_path / "bin", "exit 2\n")
    status, output = run_like_the_runner(bundle_dir, checkout, tmp_path, path=grader)
    assert status == 2 and output == ""  # the runner then records "submitted, error"
