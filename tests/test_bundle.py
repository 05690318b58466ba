"""`genimg-grade gradescope-bundle`: the zip, unpacked as Gradescope does, grades.

The zip is unpacked into a temporary folder laid out like /autograder
(source/, submission/, results/) and its run_autograder is run there, with
GENIMG_AUTOGRADER_ROOT pointing at it. setup.sh is not run (it needs the
network); this venv already holds what it would install. The real grader
runs on the cheap kl_loss part only (GENIMG_PARTS).
"""

import importlib.metadata as metadata
import json
import os
import pathlib
import stat
import subprocess
import sys
import zipfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BROKEN_NOTEBOOK, BUGGY, CORRECT, write  # noqa: E402
from autograder import bundle, cli  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
VENV_BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert cli.main(["gradescope-bundle", str(path)]) == 0
    return path


def unpack(zip_path, root):
    """Unpacks like Gradescope (and `unzip`): files keep their Unix modes."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            mode = info.external_attr >> 16
            if mode:
                target.chmod(stat.S_IMODE(mode))
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root, path=None, **env):
    environment = dict(os.environ, GENIMG_AUTOGRADER_ROOT=str(root), GENIMG_BACKEND=BACKEND,
                       GENIMG_PARTS="kl_loss", PATH=path or f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    environment.update(env)
    completed = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=environment,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_zip_layout_scripts_and_pins(bundle_zip):
    with zipfile.ZipFile(bundle_zip) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        requirements = archive.read("requirements.txt").decode()
        setup = archive.read("setup.sh").decode()
        manifest = json.loads(archive.read("genimg/BUNDLE.json"))
    for script in ("setup.sh", "run_autograder"):
        assert script in names and modes[script] & 0o111, script
    for source in ("genimg/pyproject.toml", "genimg/kit/pyproject.toml", "genimg/kit/genimg_kit/parts.py",
                   "genimg/autograder/grade.py", "genimg/autograder/hidden/kl_loss.py",
                   "genimg/autograder/templates/run_autograder", "genimg/genimg_ref/vae.py"):
        assert source in names, source
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    pins = dict(line.split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    for package in ("keras", "tensorflow", "jax", "jaxlib", "keras-hub", "numpy", "hypothesis", "nbgrader", "tqdm"):
        assert pins[package] == metadata.version(package), package
    assert "genimg" not in pins and "genimg-kit" not in pins  # installed from the bundled source
    assert 'install --no-cache-dir -r "$SOURCE/requirements.txt"' in setup
    assert '"$SOURCE/genimg/kit" "$SOURCE/genimg"' in setup
    assert manifest["backend"] == "tensorflow" and manifest["pinned"] == len(pins)
    for script in ("setup.sh", "run_autograder"):  # both parse as bash
        subprocess.run(["bash", "-n", "/dev/stdin"], input=zipfile.ZipFile(bundle_zip).read(script),
                       check=True)


def test_bundle_is_reproducible(bundle_zip, tmp_path):
    again = tmp_path / "again.zip"
    bundle.build_bundle(again)
    assert again.read_bytes() == bundle_zip.read_bytes()


@pytest.fixture(scope="module")
def correct_results(bundle_zip, tmp_path_factory):
    root = unpack(bundle_zip, tmp_path_factory.mktemp("autograder"))
    write(root / "submission", "vae.py", CORRECT)
    return run_autograder(root)


def test_correct_submission(correct_results):
    assert correct_results["score"] == pytest.approx(part_points("kl_loss"), abs=1e-3)
    assert all(t["status"] == "passed" for t in correct_results["tests"])
    hidden = [t for t in correct_results["tests"] if "(hidden)" in t["name"] or t["visibility"] != "visible"]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)


def test_buggy_submission(bundle_zip, tmp_path, correct_results):
    root = unpack(bundle_zip, tmp_path)
    write(root / "submission", "genimg.py", BUGGY)
    results = run_autograder(root)
    assert results["score"] < correct_results["score"]
    assert any(t["status"] == "failed" for t in results["tests"])


def test_broken_submission(bundle_zip, tmp_path):
    root = unpack(bundle_zip, tmp_path)
    write(root / "submission", "genimg.ipynb", BROKEN_NOTEBOOK)
    results = run_autograder(root)
    assert results["score"] == 0
    assert "not a readable notebook" in results["output"]


# --- when grading fails entirely, a results.json says why -----------------------


def fake_grader(root, script):
    """A venv in the autograder root whose genimg-grade is `script`."""
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    write(bin_dir, "genimg-grade", "#!/bin/sh\n" + script).chmod(0o755)


def test_grader_that_cannot_run_still_writes_results(bundle_zip, tmp_path):
    root = unpack(bundle_zip, tmp_path)
    fake_grader(root, "echo 'sandbox did not start: boom' >&2\nexit 2\n")
    results = run_autograder(root)
    assert results["score"] == 0
    assert "could not run" in results["output"] and "boom" in results["output"]


def test_grader_out_of_time_still_writes_results(bundle_zip, tmp_path):
    root = unpack(bundle_zip, tmp_path)
    fake_grader(root, "sleep 60\n")
    results = run_autograder(root, GENIMG_TIME_LIMIT="1")
    assert results["score"] == 0 and "longer than 1 s" in results["output"]


def test_grader_not_installed_still_writes_results(bundle_zip, tmp_path):
    root = unpack(bundle_zip, tmp_path)
    results = run_autograder(root, path="/usr/bin:/bin")
    assert results["score"] == 0 and "not installed" in results["output"]
