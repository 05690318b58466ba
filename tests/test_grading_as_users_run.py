"""`genimg-grade` as its users run it: the installed command, from an ordinary shell.

A course's CI, a Gradescope script or an instructor types `genimg-grade ...`
in a shell that has PATH and HOME and nothing a test suite sets
(tests/as_users.py; the backend comes from `~/.keras/keras.json`). Each of the
grader's user paths runs here that way, on the two cheapest parts
(`kl_loss`, `slerp`: 28 points) so that the path, not the battery, is what
costs time: a notebook (the committed solutions), a folder of `.py` files
(the answer key's modules, copied as a student's folder), and a class as
`batch` grades it with the `report` page over it.
"""

import csv
import json
import os
import shutil
import subprocess

import pytest

from tests.as_users import shell_environment

pytestmark = [pytest.mark.slow, pytest.mark.one_backend]  # the shell, not the backend, is under test
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = ["--parts", "kl_loss,slerp"]
POINTS = 28.0  # kl_loss 12 + slerp 16


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    env = shell_environment(str(tmp_path_factory.mktemp("home")), os.environ.get("KERAS_BACKEND", "tensorflow"))
    if shutil.which("genimg-grade", path=env["PATH"]) is None:
        pytest.skip("genimg-grade is not installed beside this Python")
    return env


def genimg_grade(shell, cwd, *args):
    return subprocess.run(["genimg-grade", *args], cwd=cwd, env=shell, capture_output=True, text=True, timeout=900)


def student_folder(folder, wrong=False):
    """The answer key's vae and text_to_image modules, as a student's folder of .py files."""
    os.makedirs(folder)
    for name in ("vae.py", "text_to_image.py"):
        shutil.copy(os.path.join(ROOT, "genimg_ref", name), folder)
    if wrong:  # kl_loss's sign flipped
        path = os.path.join(folder, "vae.py")
        source = open(path).read()
        assert source.count("-0.5 *") == 1
        open(path, "w").write(source.replace("-0.5 *", "0.5 *"))
    return folder


def test_a_notebook_is_graded_from_an_ordinary_shell(shell, tmp_path):
    done = genimg_grade(shell, tmp_path, os.path.join(ROOT, "solutions", "ch17_image_generation.ipynb"),
                        *PARTS, "--json", "results.json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == POINTS, done.stdout[-3000:]
    assert "isolation: full" in done.stdout, done.stdout[:1000]


def test_a_folder_is_graded_from_an_ordinary_shell(shell, tmp_path):
    folder = student_folder(str(tmp_path / "submission"))
    done = genimg_grade(shell, tmp_path, folder, *PARTS, "--json", "results.json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == POINTS, done.stdout[-3000:]


def test_a_class_is_batch_graded_and_reported_from_an_ordinary_shell(shell, tmp_path):
    student_folder(str(tmp_path / "class" / "right"))
    student_folder(str(tmp_path / "class" / "wrong"), wrong=True)
    batch = genimg_grade(shell, tmp_path, "batch", "class", "--out", "out", *PARTS, "--no-progress")
    assert batch.returncode == 0, batch.stdout[-3000:] + batch.stderr[-3000:]
    with open(tmp_path / "out" / "summary.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"right", "wrong"}, rows
    assert float(rows["right"]["score"]) == POINTS and float(rows["wrong"]["score"]) < POINTS, rows
    report = genimg_grade(shell, tmp_path, "report", "out", "--no-similarity")
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "right" in page and "wrong" in page
