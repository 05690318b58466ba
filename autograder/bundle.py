"""The Gradescope autograder zip (`genimg-grade gradescope-bundle OUT.zip` builds it).

The zip holds, at its root (Gradescope unpacks it into /autograder/source):

- `setup.sh`: builds the grading environment once, when Gradescope builds
  the image: a venv, the third-party packages pinned in requirements.txt,
  then the project's two wheels;
- `run_autograder`: grades /autograder/submission into
  /autograder/results/results.json with `genimg-grade ... --json`, and
  writes a score-0 results.json with the reason if grading fails entirely;
- `requirements.txt`: every third-party distribution the project needs,
  transitively, pinned to the version installed where the bundle is built
  (the environment the tests ran in);
- `wheels/`: one wheel per project distribution, `genimg` (the grader with
  its hidden checks, and the answer key) and `genimg-kit` (the student kit);
- `BUNDLE.json`: what was bundled, from which commit, with which Python.

The wheels are made from the running grader, not from a source tree: each
holds its packages' files as Python imports them here, plus a .dist-info
made from the distribution's installed metadata (so pip installs the
`genimg-grade` script). The bundle therefore builds the same way after an
editable install in a checkout (`pip install -e ./kit -e .`) and after a
regular one (`pip install ./kit .`), and Gradescope grades with the very
files the tests ran.

Both scripts are templates in autograder/templates/; the zip is byte-for-byte
reproducible from the same files and environment (fixed timestamps, sorted).
"""

import base64
import csv
import hashlib
import importlib.metadata as metadata
import importlib.util
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

from autograder.limits import DEADLINE_MARGIN_S, gradescope_time_limit

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
# The project's own distributions: bundled as wheels, not pinned.
PROJECT_DISTRIBUTIONS = ("genimg-kit", "genimg")
# Pure Python: one wheel installs on any Python >= 3.11 and platform.
WHEEL_TAG = "py3-none-any"
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
    distributions are left out (they are installed from the bundled wheels).
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


# --- the project's wheels -----------------------------------------------------


def _add(archive, name, data, executable=False):
    """Adds one file to a zip (a wheel, the bundle) with a fixed timestamp and mode: same files, same bytes."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    archive.writestr(info, data)


def _package_files(package):
    """{path in a wheel: bytes} of every file of import package `package`, where Python imports it from.

    That is the checkout for an editable install and site-packages for a
    regular one. Package data (autograder/templates/) comes along; byte-code
    does not (pip compiles its own).
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or pathlib.Path(spec.origin).name != "__init__.py":
        raise BundleError(f"{package} is not an importable package here: reinstall the project "
                          "(pip install ./kit .)")
    directory = pathlib.Path(spec.origin).parent
    files = {}
    for file in sorted(directory.rglob("*")):
        relative = file.relative_to(directory)
        if file.is_file() and "__pycache__" not in relative.parts and file.suffix != ".pyc":
            files[f"{package}/{relative.as_posix()}"] = file.read_bytes()
    return files


def _dist_info(distribution):
    """{file name: bytes} of a fresh .dist-info for installed `distribution` (RECORD aside).

    Its metadata is the installed one: METADATA (a checkout's setuptools
    .egg-info calls it PKG-INFO), entry_points.txt (the `genimg-grade`
    script) and top_level.txt. What pip wrote at install time (its RECORD,
    INSTALLER, direct_url.json) is left out; WHEEL describes this wheel.
    """
    text = distribution.read_text("METADATA") or distribution.read_text("PKG-INFO")
    if text is None:
        raise BundleError(f"{distribution.metadata['Name']} has no METADATA: reinstall the project")
    files = {"METADATA": text.encode()}
    for name in ("entry_points.txt", "top_level.txt"):
        text = distribution.read_text(name)
        if text is not None:
            files[name] = text.encode()
    files["WHEEL"] = ("Wheel-Version: 1.0\nGenerator: genimg-grade gradescope-bundle\n"
                      f"Root-Is-Purelib: true\nTag: {WHEEL_TAG}\n").encode()
    return files


def _record(files, record_name):
    """The wheel's RECORD: path, sha256 (urlsafe base64, unpadded) and size of each file; its own line last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([record_name, "", ""])
    return out.getvalue().encode()


def build_wheel(name):
    """(file name, bytes) of a wheel of the installed distribution `name`.

    Which import packages belong to the distribution comes from its
    top_level.txt, which setuptools writes for editable and regular installs
    alike (an editable install's own file list names only its import hook).
    """
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise BundleError(f"{name} is not installed here: install the project "
                          "(pip install ./kit .) before building the bundle") from None
    packages = (distribution.read_text("top_level.txt") or "").split()
    if not packages:
        raise BundleError(f"{name}'s installed metadata names no packages (no top_level.txt): "
                          "reinstall the project (pip install ./kit .)")
    stem = f"{canonicalize_name(name).replace('-', '_')}-{distribution.version}"
    files = {}
    for package in sorted(packages):
        files.update(_package_files(package))
    # The .dist-info goes last, as the wheel format recommends, RECORD at its end.
    dist_info = f"{stem}.dist-info"
    files.update({f"{dist_info}/{file}": data for file, data in sorted(_dist_info(distribution).items())})
    files[f"{dist_info}/RECORD"] = _record(files, f"{dist_info}/RECORD")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            _add(archive, path, data)
    return f"{stem}-{WHEEL_TAG}.whl", buffer.getvalue()


# --- the zip ------------------------------------------------------------------


def render(template, **values):
    """autograder/templates/TEMPLATE with each @KEY@ replaced by its value; every one must be."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise BundleError(f"template {template} has unfilled placeholders {sorted(set(leftover))}")
    return text


def _git_commit(package_dir):
    """The commit of the git checkout that tracks `package_dir` ("+local-changes" if edited), else None.

    An editable install imports the grader from its checkout. A regular one
    imports it from site-packages, which no commit describes, even when the
    venv sits inside a checkout (git ignores it there): None.
    """
    def git(*args):
        return subprocess.run(["git", *args], cwd=package_dir, capture_output=True, text=True, timeout=10)

    try:
        if git("ls-files", "--error-unmatch", "__init__.py").returncode != 0:
            return None
        commit = git("rev-parse", "HEAD").stdout.strip()
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ("+local-changes" if dirty else "")) if commit else None


def requirements_file(command):
    """(text, number of pins) of the requirements.txt that `genimg-grade COMMAND` bundles:
    every third-party distribution genimg needs, pinned as installed here."""
    pins = pinned_requirements()
    text = (
        f"# Pinned by `genimg-grade {command}` on Python {platform.python_version()} "
        f"({sys.platform}, {platform.machine()}).\n"
        "# Every third-party distribution genimg needs, transitively, at the version the grader "
        "was tested with.\n" + "\n".join(pins) + "\n"
    )
    return text, len(pins)


def project_wheels():
    """{"wheels/<file>.whl": bytes}: the project's distributions, as a bundle holds them."""
    return {f"wheels/{file}": data for file, data in map(build_wheel, PROJECT_DISTRIBUTIONS)}


def bundle_manifest(backend, time_limit, parts, pinned, wheels):
    """BUNDLE.json's content: what was bundled, from which commit, with which Python;
    BundleError if `parts` names a part that does not exist."""
    from genimg_kit.parts import PARTS

    unknown = [p for p in parts or [] if p not in PARTS]
    if unknown:
        raise BundleError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return {
        "project": "genimg",
        "commit": _git_commit(pathlib.Path(__file__).resolve().parent),
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "backend": backend,
        "time_limit_s": time_limit,
        "parts": list(parts) if parts else list(PARTS),
        "pinned": pinned,
        "wheels": sorted(wheels),
    }


def build_bundle(out, backend="tensorflow", time_limit=None, parts=None):
    """Writes the Gradescope autograder zip to `out`; returns the names it holds.

    `time_limit`: seconds run_autograder allows one submission (default:
    autograder.limits.gradescope_time_limit()). `parts`: grade only these parts
    (say, an assignment made of the VAE half); None grades every part.
    """
    time_limit = gradescope_time_limit() if time_limit is None else time_limit
    python_version = "%d.%d" % sys.version_info[:2]
    requirements, pinned = requirements_file("gradescope-bundle")
    wheels = project_wheels()
    manifest = bundle_manifest(backend, time_limit, parts, pinned, wheels)
    entries = {
        "setup.sh": (render("setup.sh", PYTHON_VERSION=python_version, BACKEND=backend,
                            TIME_LIMIT=int(time_limit), DEADLINE_MARGIN=DEADLINE_MARGIN_S), True),
        "run_autograder": (render("run_autograder", BACKEND=backend, TIME_LIMIT=int(time_limit),
                                    DEADLINE_MARGIN=DEADLINE_MARGIN_S,
                                    PARTS=",".join(parts or [])), True),
        "requirements.txt": (requirements, False),
        "BUNDLE.json": (json.dumps(manifest, indent=2) + "\n", False),
        **{name: (data, False) for name, data in wheels.items()},
    }
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            data, executable = entries[name]
            _add(archive, name, data, executable)
    out.write_bytes(buffer.getvalue())
    return sorted(entries)
