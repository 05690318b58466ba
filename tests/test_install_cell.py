"""The install cell's decisions, offline, on small packages of our own (issue 29).

tests/test_install.py installs the real kit into a Python that has the real
frameworks. Here every package is a few bytes, built by the test, so that each
case a student meets can be staged in a fresh venv in seconds:

- a local "index" (a folder pip may read, nothing else) with two TensorFlow
  releases and two tensorflow-text releases, each requiring its own
  TensorFlow minor version, as the real ones do;
- the kit's wheel served on 127.0.0.1, as an instructor's wheel URL is;
- a venv with TensorFlow 2.20.0 preinstalled, as Colab's is.

The cell is the source notebook's (the committed release's for a student
with no kit source), with KIT_SOURCE set as `assignments/build.py` sets it.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import zipfile

import nbformat
import pytest

from tests.test_install import CountingServer, build, pip_env

SOURCE_CELL = build.install_cell(nbformat.read(build.SOURCE, as_version=4)).source
RELEASE_CELL = build.install_cell(nbformat.read(build.RELEASE, as_version=4)).source
_namespace = {}
exec(next(line for line in SOURCE_CELL.splitlines() if line.startswith("KIT_VERSION")), _namespace)
KIT_VERSION = _namespace["KIT_VERSION"]
ASK_STAFF = "ask your course staff for the notebook your course released"
pytestmark = pytest.mark.one_backend  # pip and packages of our own: no Keras in it


def wheel(folder, name, version, requires=()):
    """A wheel of distribution `name` at `version` with one module, requiring `requires`."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                            + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: genimg-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(text.encode())}\n" for path, text in files.items()) + f"{info}/RECORD,,\n"
    path = os.path.join(folder, f"{module}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_wheel, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(name_in_wheel, text)
    return os.path.basename(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The index folder, the served kit wheels and a server counting requests."""
    index = str(tmp_path_factory.mktemp("index"))
    served = str(tmp_path_factory.mktemp("served"))
    for version in ("2.20.0", "2.21.0"):
        wheel(index, "tensorflow", version)
    wheel(index, "tensorflow-text", "2.20.1", ["tensorflow>=2.20,<2.21"])
    wheel(index, "tensorflow-text", "2.21.1", ["tensorflow>=2.21,<2.22"])
    kits = {
        "current": wheel(served, "genimg-kit", KIT_VERSION, ["tensorflow>=2.20", "tensorflow-text>=2.20.1"]),
        "older": wheel(index, "genimg-kit", "0.0.1"),
    }
    needs_newer = os.path.join(served, "newer")
    os.mkdir(needs_newer)
    kits["needs newer tensorflow"] = "newer/" + wheel(needs_newer, "genimg-kit", KIT_VERSION, ["tensorflow>=2.21"])
    server = CountingServer(served)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"index": index, "kits": kits, "server": server, "folder": tmp_path_factory.mktemp("venvs")}
    server.shutdown()
    server.server_close()


def environment(site):
    return dict(pip_env(), PIP_FIND_LINKS=site["index"])


def fresh_python(site, name, *preinstalled):
    """A new venv (with pip) holding `preinstalled` requirements from the index."""
    venv = str(site["folder"] / name)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, capture_output=True)
    python = os.path.join(venv, "bin", "python")
    if preinstalled:
        subprocess.run([python, "-m", "pip", "install", "--quiet", *preinstalled], check=True,
                       capture_output=True, env=environment(site))
    return python


def versions(site, python):
    listing = subprocess.run([python, "-m", "pip", "list", "--format", "json"], check=True, capture_output=True,
                             text=True, env=environment(site)).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(listing)}


def run_cell(site, python, kit, cell=SOURCE_CELL, prelude=""):
    code = cell if kit is None else build.with_kit_source(cell, site["server"].url(site["kits"][kit]))
    return subprocess.run([python, "-c", prelude + code], capture_output=True, text=True, env=environment(site),
                          timeout=300)


def test_the_notebook_knows_the_kit_version_it_needs():
    import importlib.metadata

    assert KIT_VERSION == importlib.metadata.version("genimg-kit")


def test_the_cell_installs_the_kit_and_keeps_the_installed_tensorflow(site):
    python = fresh_python(site, "colab", "tensorflow==2.20.0")
    # Without the cell's constraints pip would take the newest tensorflow-text, and with it
    # a new TensorFlow: the case has teeth.
    plain = fresh_python(site, "plain", "tensorflow==2.20.0")
    subprocess.run([plain, "-m", "pip", "install", "--quiet", site["server"].url(site["kits"]["current"])],
                   check=True, capture_output=True, env=environment(site))
    assert versions(site, plain)["tensorflow"] == "2.21.0"

    done = run_cell(site, python, "current")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""  # nbgrader zeroes a cell that writes to stderr
    installed = versions(site, python)
    assert installed["tensorflow"] == "2.20.0" and installed["tensorflow-text"] == "2.20.1", installed
    assert installed["genimg-kit"] == KIT_VERSION
    assert f"genimg_kit {KIT_VERSION} installed." in done.stdout


def test_where_the_kit_cannot_stay_beside_the_platform_the_cell_says_so_and_changes_nothing(site):
    python = fresh_python(site, "too-old-platform", "tensorflow==2.20.0")
    done = run_cell(site, python, "needs newer tensorflow")
    assert done.returncode == 1
    assert "this platform's tensorflow 2.20.0 cannot stay beside" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    installed = versions(site, python)
    assert installed["tensorflow"] == "2.20.0" and "genimg-kit" not in installed


def test_an_older_kit_is_upgraded(site):
    python = fresh_python(site, "older-kit", "genimg-kit==0.0.1", "tensorflow==2.20.0")
    done = run_cell(site, python, "current")
    assert done.returncode == 0, done.stdout + done.stderr
    assert versions(site, python)["genimg-kit"] == KIT_VERSION


def test_a_second_run_asks_for_nothing(site):
    python = fresh_python(site, "second-run", "tensorflow==2.20.0")
    assert run_cell(site, python, "current").returncode == 0
    requests = len(site["server"].requests)
    done = run_cell(site, python, "current")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip() == f"genimg_kit {KIT_VERSION} is installed: nothing to do."
    assert len(site["server"].requests) == requests


@pytest.mark.parametrize("preinstalled", [(), ("genimg-kit==0.0.1",)], ids=["no kit", "an older kit"])
def test_the_released_repository_copy_tells_a_student_to_ask_course_staff(site, preinstalled):
    python = fresh_python(site, "no-source-" + str(len(preinstalled)), *preinstalled)
    requests = len(site["server"].requests)
    done = run_cell(site, python, None, cell=RELEASE_CELL)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()  # one sentence, no traceback
    assert line.endswith(ASK_STAFF + "."), line
    assert len(site["server"].requests) == requests
    assert versions(site, python).get("genimg-kit") == ("0.0.1" if preinstalled else None)


def test_a_python_older_than_3_11_is_told_so(site):
    python = fresh_python(site, "old-python")
    requests = len(site["server"].requests)
    done = run_cell(site, python, "current", prelude="import sys\nsys.version_info = (3, 10, 12, 'final', 0)\n")
    assert done.returncode == 1
    assert done.stderr.startswith("This notebook needs Python 3.11 or newer, and this is Python 3.10"), done.stderr
    assert len(site["server"].requests) == requests and "genimg-kit" not in versions(site, python)
