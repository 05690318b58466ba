"""Regenerates the student release and the executed solutions from the source notebook.

    python assignments/build.py release --kit-source URL [--colab-repo OWNER/REPO@BRANCH] [--course DIR]
    python assignments/build.py release --repository-copy   # assignments/release/ch17/, this repository's
    python assignments/build.py solutions                   # solutions/ch17_image_generation.ipynb

The one source of truth is `assignments/source/ch17/ch17_image_generation.ipynb`
(the answer key's code in nbgrader solution cells, hidden tests in the locked
check cells). From it:

- **release**: `nbgrader generate_assignment ch17 --force`, run in a
  temporary copy of this course with a throw-away gradebook; only `release/`
  changes here. A release for students says where its install cell gets the
  student kit (`--kit-source`: a wheel's URL or
  `git+https://...#subdirectory=kit`; a bare name, which the public index
  would resolve, is refused) and may link to Colab (`--colab-repo`,
  `--colab-path`; a placeholder such as OWNER/REPO is refused). They are
  filled into the copy's source before nbgrader runs, so the release's
  checksums match its cells. The committed source has neither, and the
  committed release is its `--repository-copy`: its first cell tells a
  student to ask course staff for the notebook the course released. With
  `--course DIR` the release is built in the nbgrader course folder DIR
  instead (created if needed, with this folder's `nbgrader_config.py` and
  the filled-in source), for an instructor's own course.
- **solutions**: the source notebook executed top to bottom with nbclient,
  offline (`GENIMG_OFFLINE=1`: the offline MNIST digits, procedural flowers
  and the tiny Stable Diffusion 3 trained on drawn flowers), at a budget
  (`--budget`, default `cpu`: the latent grid shows digits and the flowers
  look like flowers; about 13 minutes on two cores with tensorflow), in a temporary folder,
  on the backend in `KERAS_BACKEND` (tensorflow when unset), recording each
  cell's timing. It refuses to write a notebook in which a cell failed or a
  check cell scored less than full points. `bench/notebook_budget.py` reads
  the times, quality numbers and figures back out of it for docs/GALLERY.md.

The tests (`tests/test_notebooks.py`) check that the committed release is
what `release` produces from the committed source.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from genimg_kit import parts
from genimg_kit.budget import BUDGETS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ASSIGNMENT = "ch17"
NOTEBOOK = "ch17_image_generation.ipynb"
SOURCE = os.path.join(HERE, "source", ASSIGNMENT, NOTEBOOK)
RELEASE = os.path.join(HERE, "release", ASSIGNMENT, NOTEBOOK)
SOLUTIONS = os.path.join(ROOT, "solutions", NOTEBOOK)

# The check cells and the points each must show in the solutions: the points table.
CHECK_POINTS = {f"check_{part}": parts.part_points(part) for part in parts.PARTS}

# The source notebook, and so the committed release (the repository's own copy, which
# no course released), says `KIT_SOURCE = None`: its install cell tells a student to ask
# course staff for the course's notebook. It has no Colab link either, only a sentence
# that a release's link replaces.
COLAB_SENTENCE = "open the notebook from the link your course gives you"
COLAB_PATH = os.path.relpath(RELEASE, ROOT)
# The install cell's one assignment of KIT_SOURCE.
KIT_SOURCE_LINE = re.compile(r"^KIT_SOURCE = .*$", re.MULTILINE)
# Where a kit source says the kit lives; a bare name would be looked up on the public
# index, where anybody may register it.
KIT_LOCATIONS = ("https://", "http://", "git+https://", "git+ssh://", "file:")


def nbgrader(args, course_dir, env=None, check=True, **kwargs):
    """Runs the real nbgrader CLI (this interpreter's) in `course_dir`."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_dir,
        env=env,
        check=check,
        text=True,
        capture_output=True,
        **kwargs,
    )


def make_course(course_dir):
    """A course folder with this folder's source, and its config unless it has one.

    A new folder gets this folder's `nbgrader_config.py`; an existing course
    keeps its own (an instructor's exchange settings, say), and its
    `source/ch17/` is replaced by this one.
    """
    os.makedirs(course_dir, exist_ok=True)
    if not os.path.exists(os.path.join(course_dir, "nbgrader_config.py")):
        shutil.copy2(os.path.join(HERE, "nbgrader_config.py"), course_dir)
    shutil.copytree(os.path.join(HERE, "source"), os.path.join(course_dir, "source"), dirs_exist_ok=True)
    return course_dir


def install_cell(nb):
    """The notebook's install cell: the one code cell that assigns KIT_SOURCE."""
    cells = [c for c in nb.cells if c.cell_type == "code" and KIT_SOURCE_LINE.search(c.source)]
    if len(cells) != 1:
        raise ValueError(f"expected one install cell (a line `KIT_SOURCE = ...`), found {len(cells)}")
    return cells[0]


def with_kit_source(code, kit_source):
    """`code` (the install cell's source) with KIT_SOURCE set to `kit_source`."""
    # json.dumps writes a double-quoted string literal that Python reads back unchanged.
    return KIT_SOURCE_LINE.sub(lambda _: f"KIT_SOURCE = {json.dumps(kit_source)}", code, count=1)


def check_kit_source(kit_source):
    """Raises ValueError unless `kit_source` says where the kit lives (a URL)."""
    if not kit_source:
        raise ValueError("a release for students needs --kit-source, the kit's address (a wheel's URL or "
                         "git+https://...#subdirectory=kit); --repository-copy writes this repository's own copy")
    if not kit_source.startswith(KIT_LOCATIONS):
        raise ValueError(
            f"--kit-source wants the kit's address, a wheel's URL or git+https://...#subdirectory=kit, "
            f"not {kit_source!r}: a bare name is looked up on the public index, where anybody may register "
            "it (docs/INSTRUCTORS.md, 'Hand out the kit')")


def colab_url(repo, path=COLAB_PATH):
    """Colab's address for the notebook at `path` in GitHub repository `OWNER/REPO[@BRANCH]`."""
    name, _, branch = repo.partition("@")
    if name.count("/") != 1 or not all(name.split("/")) or name.upper() == "OWNER/REPO":
        raise ValueError(f"--colab-repo wants your repository's OWNER/REPO or OWNER/REPO@BRANCH, not {repo!r}")
    return f"https://colab.research.google.com/github/{name}/blob/{branch or 'main'}/{path.lstrip('/')}"


def fill_in_release_options(nb, kit_source, colab_repo=None, colab_path=COLAB_PATH):
    """Sets the install cell's KIT_SOURCE and, given a repository, puts the Colab link in
    the first markdown cell, in place. Raises ValueError on a source or repository that
    is a placeholder."""
    check_kit_source(kit_source)
    cell = install_cell(nb)
    cell.source = with_kit_source(cell.source, kit_source)
    if colab_repo is not None:
        url = colab_url(colab_repo, colab_path)
        first = next(c for c in nb.cells if c.cell_type == "markdown")
        if COLAB_SENTENCE not in first.source:
            raise ValueError(f"the first markdown cell has no {COLAB_SENTENCE!r} for the Colab link")
        first.source = first.source.replace(COLAB_SENTENCE, f"[open this notebook in Colab]({url})", 1)
    return nb


def generate_release(course_dir=HERE, db_url=None, env=None):
    """`nbgrader generate_assignment ch17 --force` in `course_dir` (in environment `env`,
    default this process's); returns the release path."""
    args = ["generate_assignment", ASSIGNMENT, "--force"]
    if db_url:
        args.append(f"--CourseDirectory.db_url={db_url}")
    nbgrader(args, course_dir, env=env)
    return os.path.join(course_dir, "release", ASSIGNMENT, NOTEBOOK)


def build_release(kit_source, colab_repo=None, colab_path=COLAB_PATH, course=None):
    """Generates a release for students: the install cell's kit source filled in, and
    the Colab link when a repository is given. Into `assignments/release/` from a
    temporary copy of this course, or, with `course`, in that course folder (with its
    own gradebook). `kit_source` None: the repository's own copy, which tells a student
    to ask course staff for the course's notebook."""
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        course_dir = make_course(course or os.path.join(tmp, "course"))
        if kit_source is not None:
            source = os.path.join(course_dir, "source", ASSIGNMENT, NOTEBOOK)
            nb = nbformat.read(source, as_version=4)
            nbformat.write(fill_in_release_options(nb, kit_source, colab_repo, colab_path), source)
        if course:
            path = generate_release(course_dir)
        else:
            generated = generate_release(course_dir, db_url=f"sqlite:///{os.path.join(tmp, 'gradebook.db')}")
            shutil.copytree(os.path.dirname(generated), os.path.dirname(RELEASE), dirs_exist_ok=True)
            path = RELEASE
    link = f"Colab link {colab_url(colab_repo, colab_path)}" if colab_repo else "no Colab link"
    print(f"wrote {path} (kit from {kit_source}; {link})" if kit_source else
          f"wrote {path}: the repository's copy, with no kit source and no Colab link")


class _Config(dict):
    """Enough of traitlets' config object to read nbgrader_config.py."""

    def __getattr__(self, name):
        return self.setdefault(name, _Config())

    def __setattr__(self, name, value):
        self[name] = value


def course_config(path=os.path.join(HERE, "nbgrader_config.py")):
    """The settings of an nbgrader_config.py, as nested dicts: `config.Execute.timeout`."""
    namespace = {"get_config": _Config, "__file__": path}
    with open(path) as f:
        exec(f.read(), namespace)
    return namespace["c"]


def drop_stderr_noise(nb):
    """Removes the stderr outputs that nbgrader's IgnorePattern would remove."""
    import re

    pattern = re.compile(course_config().IgnorePattern.pattern)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs
                if not (o.output_type == "stream" and o.name == "stderr" and pattern.search(o.text))
            ]
    return nb


def fill_in_solutions(release, source):
    """A copy of the release notebook with every solution cell taken from the source.

    That is what a student who wrote exactly the answer key would submit: the
    release's cells and metadata (checksums included), the key's code.
    """
    import nbformat

    nb = nbformat.from_dict(copy.deepcopy(release))
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return nb


def notebook_env(budget, backend):
    """The environment a notebook runs in for `budget` on `backend`, offline."""
    return {"KERAS_BACKEND": backend, "GENIMG_BUDGET": budget, "GENIMG_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3"}


def stdout_of(cell):
    """What an executed code cell printed on stdout."""
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def budget_and_backend(nb):
    """(budget, backend) an executed notebook ran with, as its setup cell printed them."""
    import re

    for cell in nb.cells:
        if cell.cell_type == "code" and "select_budget(" in cell.source:
            text = stdout_of(cell)
            budget = re.search(r"Budget '(\w+)'", text)
            backend = re.search(r"backend (\w+)", text)
            if budget and backend:
                return budget.group(1), backend.group(1)
    raise ValueError("the notebook's setup cell printed no budget and backend: was it executed?")


def execute_notebook(nb, workdir, timeout=600, env=None, interrupt_on_timeout=False):
    """Executes `nb` in place with nbclient, in `workdir`; returns seconds taken.

    Each cell's start and end times go into its metadata (`execution`).
    `timeout`: seconds per cell, or None for no limit (long budgets). With
    `interrupt_on_timeout`, a cell past it is interrupted (as with Jupyter's
    stop button: a `fit` keeps the weights it reached) and the next one runs.
    """
    from nbclient import NotebookClient

    saved = os.environ.copy()
    os.environ.update(env or {})
    try:
        started = time.perf_counter()
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=True,
            interrupt_on_timeout=interrupt_on_timeout,
            allow_errors=True,
            resources={"metadata": {"path": workdir}},
        )
        client.execute()
        return time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_points(nb):
    """{check cell grade_id: the number it showed, or None}."""
    shown = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id not in CHECK_POINTS:
            continue
        value = None
        for output in cell.get("outputs", []):
            if output.output_type == "execute_result":
                try:
                    value = float(output.data["text/plain"])
                except (KeyError, ValueError):
                    pass
        shown[grade_id] = value
    return shown


def failures(nb):
    """Descriptions of every cell that raised, and of every check short of full points."""
    problems = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
    for grade_id, value in check_points(nb).items():
        if value != CHECK_POINTS[grade_id]:
            problems.append(f"{grade_id}: showed {value}, expected {CHECK_POINTS[grade_id]}")
    return problems


def build_solutions(backend=None, budget="cpu"):
    import nbformat

    backend = backend or os.environ.get("KERAS_BACKEND") or "tensorflow"
    nb = nbformat.read(SOURCE, as_version=4)
    with tempfile.TemporaryDirectory() as workdir:
        seconds = execute_notebook(nb, workdir, timeout=600 if budget == "fast" else None,
                                   env=notebook_env(budget, backend))
    drop_stderr_noise(nb)
    problems = failures(nb)
    if problems:
        raise SystemExit("solutions not written:\n  " + "\n  ".join(problems))
    note = nbformat.v4.new_markdown_cell(
        "**Answer key (instructors only).** The source notebook with its solutions, executed top to "
        f"bottom by `assignments/build.py` on the {backend} backend, offline, at the `{budget}` budget "
        f"({BUDGETS[budget].shows}), in {seconds / 60:.0f} minutes: the offline MNIST digits, procedural "
        "flowers, and the tiny Stable Diffusion 3 trained on captioned drawn flowers (it draws the "
        "flowers its prompts name). Every check cell shows full points. `docs/GALLERY.md` shows these figures and "
        "those of the other budgets."
    )
    nb.cells.insert(0, note)
    nb.metadata.pop("widgets", None)
    os.makedirs(os.path.dirname(SOLUTIONS), exist_ok=True)
    nbformat.write(nb, SOLUTIONS)
    print(f"wrote {os.path.relpath(SOLUTIONS, ROOT)} ({backend}, {budget} budget, executed in {seconds:.0f} s)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # No `choices` with nargs="*": argparse then rejects the empty default (Python 3.11).
    parser.add_argument("what", nargs="*", help="release, solutions, or both")
    parser.add_argument("--backend", help="Keras backend for the solutions (default: "
                        "$KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--budget", default="cpu", choices=list(BUDGETS),
                        help="budget the solutions are executed at (default: cpu)")
    parser.add_argument("--kit-source", metavar="URL",
                        help="where the release's install cell gets the student kit: a wheel's URL, or "
                        "git+https://...#subdirectory=kit (required for a release students get)")
    parser.add_argument("--repository-copy", action="store_true",
                        help="write the repository's own copy instead: no kit source (its first cell "
                        "tells a student to ask course staff for the course's notebook), no Colab link")
    parser.add_argument("--colab-repo", metavar="OWNER/REPO[@BRANCH]",
                        help="the GitHub repository the release's Colab link opens the notebook from "
                        "(branch main when not given; no link without it)")
    parser.add_argument("--colab-path", default=COLAB_PATH, metavar="PATH",
                        help=f"the notebook's path in that repository (default: {COLAB_PATH})")
    parser.add_argument("--course", metavar="DIR",
                        help="build the release in this nbgrader course folder (created if needed) "
                        "instead of assignments/release/")
    args = parser.parse_args(argv)
    what = args.what
    if not what:
        parser.error("say what to build: release (--kit-source URL, or --repository-copy), solutions, or both")
    unknown = set(what) - {"release", "solutions"}
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    if "release" in what and args.repository_copy:
        if args.kit_source or args.colab_repo:
            parser.error("--repository-copy has no kit source and no Colab link")
    elif "release" in what:
        try:
            check_kit_source(args.kit_source)
            if args.colab_repo is not None:
                colab_url(args.colab_repo, args.colab_path)
        except ValueError as error:
            parser.error(str(error))
    if "release" in what:
        build_release(args.kit_source, args.colab_repo, args.colab_path, args.course)
    if "solutions" in what:
        build_solutions(args.backend, args.budget)


if __name__ == "__main__":
    main()
