"""`genimg-grade gradescope-bundle`: the zip, unpacked as Gradescope does, grades.

The zip is unpacked into a temporary folder laid out like /autograder
(source/, submission/, results/) and its run_autograder is run there, with
GENIMG_AUTOGRADER_ROOT pointing at it. setup.sh is not run (it needs the
network); this venv already holds what it would install. The real grader
runs on the cheap kl_loss part only (GENIMG_PARTS).

The project's two wheels in the zip are checked apart: they install and
import, and the bundle builds the same way after a regular, non-editable
install as after this venv's editable one.
"""

import base64
import csv
import hashlib
import importlib.metadata as metadata
import io
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BROKEN_NOTEBOOK, BUGGY, CORRECT, write  # noqa: E402
from autograder import bundle, cli  # noqa: E402
from autograder.limits import DEADLINE_MARGIN_S, gradescope_time_limit  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
VENV_BIN = pathlib.Path(sys.executable).parent
PROJECT = pathlib.Path(__file__).resolve().parent.parent
# The project's distributions as wheels: {distribution: the wheel's path in the zip}.
WHEELS = {name: f"wheels/{name.replace('-', '_')}-{metadata.version(name)}-py3-none-any.whl"
          for name in bundle.PROJECT_DISTRIBUTIONS}


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
        manifest = json.loads(archive.read("BUNDLE.json"))
        packaged = {name: set(wheel_entries(archive.read(path))) for name, path in WHEELS.items()}
    assert names == {"setup.sh", "run_autograder", "requirements.txt", "BUNDLE.json", *WHEELS.values()}
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & 0o111, script
    assert {"genimg_kit/parts.py", "genimg_kit/checks/kl_loss.py"} <= packaged["genimg-kit"]
    assert {"autograder/grade.py", "autograder/hidden/kl_loss.py", "autograder/templates/run_autograder",
            "genimg_ref/vae.py"} <= packaged["genimg"]
    assert not [n for files in packaged.values() for n in files if "__pycache__" in n or n.endswith(".pyc")]
    pins = dict(line.split("==") for line in requirements.splitlines() if line and not line.startswith("#"))
    for package in ("keras", "tensorflow", "jax", "jaxlib", "keras-hub", "numpy", "hypothesis", "nbgrader", "tqdm"):
        assert pins[package] == metadata.version(package), package
    assert "genimg" not in pins and "genimg-kit" not in pins  # installed from the bundled wheels
    assert 'install --no-cache-dir -r "$SOURCE/requirements.txt"' in setup
    assert 'install --no-cache-dir --no-deps "$SOURCE"/wheels/*.whl' in setup
    # Pins too new for the image's Python fall back to "at most the pinned version".
    assert "sed -E 's/==/<=/'" in setup and 'install --no-cache-dir -r "$ROOT/requirements-upto.txt"' in setup
    # The answer key is graded under run_autograder's own deadline, and must score 100.
    assert f'--deadline "$(({gradescope_time_limit()} - {DEADLINE_MARGIN_S}))"' in setup
    assert "--fail-under 100" in setup
    assert manifest["backend"] == "tensorflow" and manifest["pinned"] == len(pins)
    assert manifest["wheels"] == sorted(WHEELS.values())
    for script in ("setup.sh", "run_autograder"):  # both parse as bash
        subprocess.run(["bash", "-n", "/dev/stdin"], input=zipfile.ZipFile(bundle_zip).read(script),
                       check=True)


def test_bundle_is_reproducible(bundle_zip, tmp_path):
    again = tmp_path / "again.zip"
    bundle.build_bundle(again)
    assert again.read_bytes() == bundle_zip.read_bytes()


# --- the project's wheels ------------------------------------------------------

# Run by the Python a test installed the wheels for: where the project comes from.
WHERE = """
import importlib.metadata, json, autograder, genimg_kit, genimg_ref
print(json.dumps({
    "modules": [module.__file__ for module in (autograder, genimg_kit, genimg_ref)],
    "metadata": [str(importlib.metadata.distribution(name).locate_file(""))
                 for name in ("genimg", "genimg-kit")],
    "scripts": {entry.name: entry.value for entry in importlib.metadata.distribution("genimg").entry_points
                if entry.group == "console_scripts"},
}))
"""


def wheel_entries(data):
    """{path: bytes} of the files in wheel `data`, after checking them against its RECORD."""
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        files = {name: wheel.read(name) for name in wheel.namelist()}
    (record,) = [name for name in files if name.endswith(".dist-info/RECORD")]
    rows = {path: fields for path, *fields in csv.reader(io.StringIO(files[record].decode()))}
    assert rows.pop(record) == ["", ""]
    assert rows == {
        name: ["sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(),
               str(len(data))]
        for name, data in files.items() if name != record
    }
    return files


def clean_env(**extra):
    """This environment without pip's settings or a PYTHONPATH, and pip barred from every index."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONNOUSERSITE="1", **extra)
    return env


def run(command, cwd, **env):
    completed = subprocess.run([str(part) for part in command], cwd=cwd, env=clean_env(**env),
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def imported_from(python, folder, cwd, **env):
    """Runs WHERE with `python`; asserts the project's modules and metadata all come from `folder`."""
    report = json.loads(run([python, "-c", WHERE], cwd, **env))
    for path in report["modules"] + report["metadata"]:
        assert pathlib.Path(path).resolve().is_relative_to(folder.resolve()), (path, folder)
    return report


def test_wheels_install_with_pip_alone(bundle_zip, tmp_path):
    """pip installs the two wheels, offline and without their dependencies: they import, genimg-grade runs."""
    with zipfile.ZipFile(bundle_zip) as archive:
        archive.extractall(tmp_path, members=WHEELS.values())
    target = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target,
         *(tmp_path / path for path in WHEELS.values())], tmp_path)
    report = imported_from(sys.executable, target, tmp_path, PYTHONPATH=str(target))
    assert report["scripts"] == {"genimg-grade": "autograder.cli:main"}
    usage = run([target / "bin" / "genimg-grade", "--help"], tmp_path, PYTHONPATH=str(target))
    assert all(name in usage for name in cli.SUBCOMMANDS)


def test_bundle_builds_after_a_regular_install(bundle_zip, tmp_path):
    """`pip install ./kit .` (not editable), then `genimg-grade gradescope-bundle` from elsewhere.

    The throwaway venv must see this venv's third-party packages without a
    network, yet import the project only from its own regular install.
    `--system-site-packages` would not do: it shows the base interpreter's
    packages, not this venv's. Instead a .pth file in the throwaway venv names
    this venv's site-packages as a plain path: Python appends it to sys.path,
    after the venv's own site-packages, without running the .pth files in it,
    which hold the editable finders of genimg and genimg-kit. pip there is
    this venv's pip, told --ignore-installed so that it neither counts nor
    uninstalls this venv's editable genimg. It builds from a copy of the
    working tree, since setuptools writes build/ and .egg-info beside the
    sources. The assertions check where autograder, genimg_kit, genimg_ref
    and their metadata really come from.
    """
    source = tmp_path / "source"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    purelib = pathlib.Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               tmp_path).strip())
    (purelib / "host-packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--ignore-installed",
         source / "kit", source], tmp_path)
    imported_from(python, venv, tmp_path)

    out = tmp_path / "elsewhere" / "autograder.zip"
    run([venv / "bin" / "genimg-grade", "gradescope-bundle", out], tmp_path)
    with zipfile.ZipFile(out) as archive:
        assert {"setup.sh", "run_autograder", *WHEELS.values()} <= set(archive.namelist())
        assert json.loads(archive.read("BUNDLE.json"))["commit"] is None  # site-packages: no checkout
        packaged = {path: set(wheel_entries(archive.read(path))) for path in WHEELS.values()}
    with zipfile.ZipFile(bundle_zip) as archive:  # the same files as from the editable install
        editable = {path: set(wheel_entries(archive.read(path))) for path in WHEELS.values()}
    assert packaged == editable


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
