"""The notebook's install cell, run where students run it: a Python that already has the frameworks.

On Colab, TensorFlow, JAX and Keras come preinstalled (GPU builds); the
student's notebook must add the kit without replacing them. This test builds
that situation offline:

- the kit's wheel, built from `kit/` without a network, served by a local
  HTTP server on 127.0.0.1 that counts its requests (the instructor's
  "wheel URL");
- a fresh venv whose `.pth` file adds a folder of symbolic links to every
  entry of this venv's site-packages except the project's own (the kit,
  the grader, the answer key and their editable finders). Its pip sees
  TensorFlow, JAX, Keras and the rest as installed, *outside* its
  environment (so it could never uninstall them), and the kit as missing:
  Colab's situation. It uses that folder's pip too, as Colab's pip sits
  beside its packages;
- pip kept away from every index (`PIP_NO_INDEX=1`, no cache, no config,
  no find-links): it can fetch the wheel URL and nothing else.

The install cell is taken from the source notebook, with KIT_SOURCE set to
the served wheel the way `assignments/build.py release --kit-source` sets it.
"""

import copy
import functools
import http.server
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading

import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_spec = importlib.util.spec_from_file_location("genimg_build", os.path.join(ROOT, "assignments", "build.py"))
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

# The project's own entries in site-packages: what a student's Python lacks.
PROJECT_ENTRIES = ("genimg", "autograder", "__editable__")
# The platform packages whose versions the install must leave as they are.
PLATFORM = ("tensorflow", "jax", "jaxlib", "keras", "keras-hub")

# Run inside the fresh venv after the install: where its packages come from.
REPORT = f"""
import importlib.metadata, json, sys
import genimg_kit, genimg_kit.parts
print(json.dumps({{
    "kit_file": genimg_kit.__file__,
    "kit_version": importlib.metadata.version("genimg-kit"),
    "platform": {{
        name: [importlib.metadata.version(name),
               str(importlib.metadata.distribution(name).locate_file(""))]
        for name in {PLATFORM!r}
    }},
}}))
"""


class CountingServer(http.server.ThreadingHTTPServer):
    """Serves a folder on 127.0.0.1 and records the path of every request."""

    def __init__(self, directory):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def send_head(self):
                server.requests.append(self.path)
                return super().send_head()

            def log_message(self, *args):  # no access log on stderr
                pass

        super().__init__(("127.0.0.1", 0), functools.partial(Handler, directory=directory))

    def url(self, name):
        return f"http://127.0.0.1:{self.server_address[1]}/{name}"


def build_kit_wheel(folder):
    """The kit's wheel, built offline from a copy of `kit/` (the repository stays untouched)."""
    kit = os.path.join(folder, "kit")
    shutil.copytree(os.path.join(ROOT, "kit"), kit,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    wheels = os.path.join(folder, "wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", kit, "-w", wheels],
        check=True, capture_output=True, env=pip_env(),
    )
    (name,) = os.listdir(wheels)
    return wheels, name


def pip_env():
    """This environment without pip's own settings, then pip barred from every index."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_CONFIG_FILE=os.devnull, PYTHONNOUSERSITE="1",
               NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    return env


def platform_python(folder):
    """A fresh venv that sees this venv's packages, minus the project's, as preinstalled."""
    ours = sysconfig.get_path("purelib")
    links = os.path.join(folder, "preinstalled")
    os.makedirs(links)
    for entry in os.listdir(ours):
        if entry.startswith(PROJECT_ENTRIES) or entry == "__pycache__" or entry.endswith(".pth"):
            continue
        os.symlink(os.path.join(ours, entry), os.path.join(links, entry))
    venv = os.path.join(folder, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = os.path.join(venv, "bin", "python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    with open(os.path.join(site_packages, "preinstalled.pth"), "w") as f:
        f.write(links + "\n")
    return python, site_packages, links


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("install"))
    wheels, wheel = build_kit_wheel(folder)
    python, site_packages, links = platform_python(folder)
    server = CountingServer(wheels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    source = nbformat.read(build.SOURCE, as_version=4)
    cell = os.path.join(folder, "install_cell.py")
    with open(cell, "w") as f:
        f.write(build.with_kit_source(build.install_cell(source).source, server.url(wheel)))
    yield {"python": python, "site_packages": site_packages, "links": links, "server": server,
           "cell": cell, "wheel": wheel}
    server.shutdown()
    server.server_close()


def run(setup, *args):
    return subprocess.run([setup["python"], *args], capture_output=True, text=True,
                          env=pip_env(), timeout=300)


@pytest.fixture(scope="module")
def first_run(setup):
    """Runs the install cell once; what the venv held before and after, and what it printed."""
    before = set(os.listdir(setup["site_packages"]))
    result = run(setup, setup["cell"])
    after = set(os.listdir(setup["site_packages"]))
    return {"before": before, "after": after, "result": result,
            "requests": list(setup["server"].requests)}


def test_install_cell_installs_the_kit_from_the_wheel_url(setup, first_run):
    result = first_run["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"from {setup['server'].url(setup['wheel'])} ..." in result.stdout
    assert "Successfully installed genimg-kit-" in result.stdout
    # Everything, pip's own messages included, is on stdout: nbgrader zeroes a cell with stderr.
    assert result.stderr == ""
    assert first_run["requests"] == [f"/{setup['wheel']}"]


def test_install_adds_the_kit_and_nothing_else(first_run):
    assert first_run["before"] - first_run["after"] == set()
    added = first_run["after"] - first_run["before"]
    assert {entry.split("-")[0] for entry in added} == {"genimg_kit"}, added
    assert "Uninstalling" not in first_run["result"].stdout


def test_platform_packages_are_kept_and_the_kit_imports(setup, first_run):
    report = run(setup, "-c", REPORT)
    assert report.returncode == 0, report.stderr
    seen = json.loads(report.stdout.strip().splitlines()[-1])
    assert seen["kit_file"].startswith(setup["site_packages"] + os.sep)
    assert seen["kit_version"] == importlib.metadata.version("genimg-kit")
    for name, (version, location) in seen["platform"].items():
        assert version == importlib.metadata.version(name), name
        # Still the preinstalled copy, not a new one in the venv.
        assert os.path.normpath(location) == os.path.normpath(setup["links"]), name


def test_second_run_does_nothing(setup, first_run):
    requests = len(setup["server"].requests)
    result = run(setup, setup["cell"])
    assert result.returncode == 0, result.stderr
    version = importlib.metadata.version("genimg-kit")
    assert result.stdout.strip() == f"genimg_kit {version} is installed: nothing to do."
    assert result.stderr == ""
    assert len(setup["server"].requests) == requests
    assert set(os.listdir(setup["site_packages"])) == first_run["after"]


def test_release_options_fill_the_install_cell_and_the_colab_link():
    source = nbformat.read(build.SOURCE, as_version=4)
    namespace = {}
    exec(build.KIT_SOURCE_LINE.search(build.install_cell(source).source).group(0), namespace)
    assert namespace["KIT_SOURCE"] is None  # the repository's copy installs nothing by name
    nb = build.fill_in_release_options(
        copy.deepcopy(source), "git+https://github.com/alice/dlp.git@fall#subdirectory=kit",
        "alice/dlp@fall")
    exec(build.KIT_SOURCE_LINE.search(build.install_cell(nb).source).group(0), namespace)
    assert namespace["KIT_SOURCE"] == "git+https://github.com/alice/dlp.git@fall#subdirectory=kit"
    assert ("[open this notebook in Colab](https://colab.research.google.com/github/alice/dlp/blob/fall/"
            "assignments/release/ch17/ch17_image_generation.ipynb)") in nb.cells[0].source
    assert build.COLAB_SENTENCE not in nb.cells[0].source
    changed = [i for i, (a, b) in enumerate(zip(nb.cells, source.cells)) if a.source != b.source]
    assert changed == [0, source.cells.index(build.install_cell(source))]
    without_link = build.fill_in_release_options(copy.deepcopy(source), "https://course.example.org/kit.whl")
    assert without_link.cells[0].source == source.cells[0].source


@pytest.mark.parametrize("kit_source, colab_repo", [
    (None, "alice/dlp"), ("", "alice/dlp"), ("genimg-kit", "alice/dlp"),
    ("https://course.example.org/kit.whl", "OWNER/REPO"), ("https://course.example.org/kit.whl", "owner/repo@main"),
    ("https://course.example.org/kit.whl", "alice"),
], ids=["no source", "empty source", "a bare name", "placeholder repository", "placeholder, any case",
        "no owner"])
def test_a_release_with_a_placeholder_is_refused(kit_source, colab_repo):
    source = nbformat.read(build.SOURCE, as_version=4)
    with pytest.raises(ValueError):
        build.fill_in_release_options(source, kit_source, colab_repo)
    release = open(build.RELEASE, "rb").read()
    command = [sys.executable, os.path.join(ROOT, "assignments", "build.py"), "release", "--colab-repo", colab_repo]
    refused = subprocess.run(command + (["--kit-source", kit_source] if kit_source is not None else []),
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert ("--kit-source" if "kit.whl" not in str(kit_source) else "--colab-repo") in refused.stderr
    assert open(build.RELEASE, "rb").read() == release
