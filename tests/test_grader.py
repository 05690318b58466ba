"""The grader end to end: sandbox, submission reading, writers, CLI."""

import base64
import json

import nbformat
import pytest

from autograder import cli, writers
from autograder.grade import grade
from genimg_kit.parts import PARTS, part_points
from tests.mutants import REFERENCE, reference_source

CORRECT_KL = reference_source("vae.py")
CORRECT_SLERP = reference_source("text_to_image.py")


@pytest.fixture(scope="module")
def reference_result():
    return grade(REFERENCE)


def test_reference_package_scores_100(reference_result):
    assert reference_result.score == pytest.approx(100.0)
    assert list(reference_result.parts) == list(PARTS)


def test_the_sandbox_holds_every_guarantee_on_this_backend(reference_result):
    assert reference_result.isolation["level"] == "full", reference_result.isolation


def test_the_stages_timed_add_up_to_no_more_than_the_grade(reference_result):
    # Each second is one stage's: the first part's time leaves out the sandbox it started.
    timings = reference_result.timings
    assert set(PARTS) | {"sandbox start", "load", "read"} == set(timings)
    assert timings["sandbox start"] > 0
    assert sum(timings.values()) <= reference_result.seconds, timings


def test_gradescope_json_follows_the_contract(reference_result):
    data = writers.gradescope(reference_result)
    assert data["max_score"] == pytest.approx(100.0)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))
    for test in data["tests"]:
        part = test["name"].split(":")[0]
        expected = ["convergence", part.split("_")[0]] if part.endswith("_convergence") else [part]
        assert test["tags"] == expected
        assert test["status"] == "passed"
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
    per_part = {p: sum(t["max_score"] for t in data["tests"] if t["name"].startswith(p + ":")) for p in PARTS}
    assert per_part == pytest.approx({p: part_points(p) for p in PARTS})
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_published"}


def write_py(tmp_path, source, name="submission.py"):
    path = tmp_path / name
    path.write_text(source)
    return path


def test_missing_names_cost_their_parts_only(tmp_path):
    result = grade(write_py(tmp_path, CORRECT_KL), parts=["kl_loss", "slerp"])
    assert result.parts["kl_loss"].points == pytest.approx(part_points("kl_loss"))
    slerp = result.parts["slerp"]
    assert slerp.points == 0 and slerp.max_points == pytest.approx(part_points("slerp"))
    assert all("`slerp` not defined" in c.message for c in slerp.checks)


def test_same_submission_graded_twice_gives_identical_json(tmp_path):
    buggy = CORRECT_KL.replace("-0.5 * (", "0.5 * (") + CORRECT_SLERP.replace("if float(", "if False and float(")
    path = write_py(tmp_path, buggy)

    def without_timings(data):
        data = dict(data, execution_time=None)
        data["output"] = data["output"].rsplit("graded in", 1)[0]
        return data

    first = without_timings(writers.gradescope(grade(path, parts=["kl_loss", "slerp"])))
    second = without_timings(writers.gradescope(grade(path, parts=["kl_loss", "slerp"])))
    assert first["score"] < 35
    assert first == second


@pytest.mark.parametrize("course_flags, seen", [
    (None, "--xla_backend_optimization_level=2"),
    ("--xla_backend_optimization_level=3", "--xla_backend_optimization_level=2 --xla_backend_optimization_level=3"),
])
def test_graded_code_is_compiled_at_o2_unless_the_course_says_otherwise(tmp_path, monkeypatch, course_flags, seen):
    # XLA reads its flags left to right, the last one wins: a course's own XLA_FLAGS come last.
    if course_flags is None:
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    else:
        monkeypatch.setenv("XLA_FLAGS", course_flags)
    telling = CORRECT_SLERP.replace("def slerp(t, v1, v2):\n", "def slerp(t, v1, v2):\n"
                                    "    print('XLA_FLAGS=' + __import__('os').environ.get('XLA_FLAGS', ''))\n", 1)
    assert telling != CORRECT_SLERP
    result = grade(write_py(tmp_path, telling), parts=["slerp"])
    assert result.parts["slerp"].points == pytest.approx(part_points("slerp"))
    printed = next(n.text for n in result.notes if n.kind == "printed")
    assert f"XLA_FLAGS={seen}\n" in printed


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# My VAE")] + [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def test_notebook_grades_definitions_without_running_training_or_plots(tmp_path):
    source = notebook(
        "%matplotlib inline\n!pip install nothing\nimport keras\nfrom keras import ops",
        CORRECT_KL,
        "digits = load_mnist_digits()\nhistory = vae.fit(digits, epochs=30)",  # would fail if run
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
        "def broken(:\n    pass",
        "latent_dim = 2\nseed_generator = keras.random.SeedGenerator(1337)\nraise RuntimeError('top level')",
    )
    path = write_py(tmp_path, source, "student.ipynb")
    result = grade(path, parts=["kl_loss", "sampler"])
    assert result.score == pytest.approx(part_points("kl_loss") + part_points("sampler"))
    notes = "\n".join(n.text for n in result.notes)
    assert "syntax error" in notes and "vae.fit" in notes and "plt.show" in notes


def test_corrupt_notebook_is_reported_not_fatal(tmp_path, capsys):
    path = write_py(tmp_path, '{"cells": [', "broken.ipynb")
    out = tmp_path / "results.json"
    assert cli.main([str(path), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["score"] == 0 and data["max_score"] == pytest.approx(100.0)
    assert "not a readable notebook" in data["tests"][0]["output"]
    assert "not a readable notebook" in capsys.readouterr().out


def test_cli_writes_json_and_classroom_from_one_run(tmp_path):
    path = write_py(tmp_path, CORRECT_KL)
    out, classroom = tmp_path / "results.json", tmp_path / "classroom.txt"
    code = cli.main([str(path), "--parts", "kl_loss,denoise", "--json", str(out),
                     "--classroom", str(classroom), "--fail-under", "20"])
    assert code == 1  # kl_loss's points < 20
    data = json.loads(out.read_text())
    decoded = json.loads(base64.b64decode(classroom.read_text()))
    assert decoded["version"] == 1 and decoded["status"] == "fail"
    assert decoded["max_score"] == pytest.approx(data["max_score"])
    assert sum(t["score"] for t in decoded["tests"]) == pytest.approx(data["score"]) == pytest.approx(part_points("kl_loss"))
    assert cli.main([str(path), "--parts", "kl_loss", "--fail-under", str(part_points("kl_loss"))]) == 0
