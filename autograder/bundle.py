"""The Gradescope autograder zip (`genimg-grade gradescope-bundle OUT.zip` builds it).

The zip holds, at its root (Gradescope unpacks it into /autograder/source):

- `setup.sh`: builds the grading environment once, when Gradescope builds
  the image: a venv, the third-party packages pinned in requirements.txt,
  then the project from genimg/;
- `run_autograder`: grades /autograder/submission into
  /autograder/results/results.json with `genimg-grade ... --json`, and
  writes a score-0 results.json with the reason if grading fails entirely;
- `requirements.txt`: every third-party distribution the project needs,
  transitively, pinned to the version installed where the bundle is built
  (the environment the tests ran in);
- `genimg/`: the project's source (pyproject.toml, kit/, autograder/,
  genimg_ref/), which setup.sh pip-installs;
- `genimg/BUNDLE.json`: what was bundled, from where, with which Python.

Both scripts are templates in autograder/templates/; the zip is byte-for-byte
reproducible from the same tree and environment (fixed timestamps, sorted).
"""

import importlib.metadata as metadata
import io
import json
import pathlib
import platform
import re
import subprocess
import sys
import zipfile

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograder.limits import gradescope_time_limit

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
# The project's own distributions: installed from the bundled source, not pinned.
PROJECT_DISTRIBUTIONS = {"genimg", "genimg-kit"}
# What of the source tree goes into the zip (relative to the project root).
SOURCE_ITEMS = ["pyproject.toml", "README.md", "kit/pyproject.toml", "kit/genimg_kit", "autograder", "genimg_ref"]
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", ".hypothesis"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


class BundleError(Exception):
    pass


# --- pinned requirements ------------------------------------------------------


def _requirements_of(distribution, extras):
    """The requirements of an installed distribution that apply here, with `extras`."""
    applicable = []
    for line in distribution.requires or []:
        requirement = Requirement(line)
        if requirement.marker is None:
            applicable.append(requirement)
            continue
        environments = [{"extra": extra} for extra in sorted(extras)] or [{"extra": ""}]
        if any(requirement.marker.evaluate(env) for env in environments):
            applicable.append(requirement)
    return applicable


def pinned_requirements(roots=("genimg",)):
    """`name==version` for the installed transitive dependencies of `roots`.

    Walks the installed distributions' metadata (what `pip freeze` would list,
    restricted to what the project actually needs), evaluating environment
    markers for this interpreter and the extras asked for. The project's own
    distributions are left out (they are installed from the bundled source).
    """
    pins, seen, queue = {}, set(), [(Requirement(root), True) for root in roots]
    while queue:
        requirement, is_root = queue.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            if is_root:
                raise BundleError(f"{requirement.name} is not installed here: install the project "
                                  "(pip install ./kit .) before building the bundle") from None
            raise BundleError(f"{requirement.name} is required (by the project's dependencies) "
                              "but not installed here: run `pip check`") from None
        if name not in PROJECT_DISTRIBUTIONS:
            pins[name] = (distribution.metadata["Name"], distribution.version)
        for dependency in _requirements_of(distribution, requirement.extras):
            queue.append((dependency, False))
    return [f"{display}=={version}" for _, (display, version) in sorted(pins.items())]


# --- the zip ------------------------------------------------------------------


def _render(template, **values):
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise BundleError(f"template {template} has unfilled placeholders {sorted(set(leftover))}")
    return text


def _source_files(root):
    for item in SOURCE_ITEMS:
        path = root / item
        if path.is_file():
            yield path
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(root).parts
                if (file.is_file() and not EXCLUDED_PARTS.intersection(relative)
                        and not any(part.endswith(EXCLUDED_SUFFIXES) for part in relative)):
                    yield file
        elif item != "README.md":
            raise BundleError(f"{path} is missing: build the bundle from a source checkout of genimg")


def _git_commit(root):
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+local-changes" if dirty else "")) if commit else None


def _add(archive, name, data, executable=False):
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    archive.writestr(info, data)


def build_bundle(out, backend="tensorflow", time_limit=None, parts=None, root=PROJECT_ROOT):
    """Writes the Gradescope autograder zip to `out`; returns the names it holds.

    `time_limit`: seconds run_autograder allows one submission (default:
    autograder.limits.gradescope_time_limit()). `parts`: grade only these parts
    (say, an assignment made of the VAE half); None grades every part.
    """
    time_limit = gradescope_time_limit() if time_limit is None else time_limit
    from genimg_kit.parts import PARTS

    root = pathlib.Path(root)
    unknown = [p for p in parts or [] if p not in PARTS]
    if unknown:
        raise BundleError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if not (root / "pyproject.toml").is_file():
        raise BundleError(f"no pyproject.toml in {root}: build the bundle from a source checkout")
    python_version = "%d.%d" % sys.version_info[:2]
    pins = pinned_requirements()
    requirements = (
        f"# Pinned by `genimg-grade gradescope-bundle` on Python {platform.python_version()} "
        f"({sys.platform}, {platform.machine()}).\n"
        "# Every third-party distribution genimg needs, transitively, at the version the grader "
        "was tested with.\n" + "\n".join(pins) + "\n"
    )
    manifest = {
        "project": "genimg",
        "commit": _git_commit(root),
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "backend": backend,
        "time_limit_s": time_limit,
        "parts": list(parts) if parts else list(PARTS),
        "pinned": len(pins),
    }
    entries = {
        "setup.sh": (_render("setup.sh", PYTHON_VERSION=python_version), True),
        "run_autograder": (_render("run_autograder", BACKEND=backend, TIME_LIMIT=int(time_limit),
                                     PARTS=",".join(parts or [])), True),
        "requirements.txt": (requirements, False),
        "genimg/BUNDLE.json": (json.dumps(manifest, indent=2) + "\n", False),
    }
    for file in _source_files(root):
        entries["genimg/" + file.relative_to(root).as_posix()] = (file.read_bytes(), False)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            data, executable = entries[name]
            _add(archive, name, data, executable)
    out.write_bytes(buffer.getvalue())
    return sorted(entries)
