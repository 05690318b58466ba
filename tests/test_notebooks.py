"""The nbgrader course: release, autograde, feedback and export, with the real nbgrader.

One temporary course per test module (and per pytest session under xdist:
the first worker builds it, the others wait for it): the release is
generated from the committed source, four students submit, and
`nbgrader autograde` runs once for all of them, since every notebook
execution costs tens of seconds. The students:

- `solution`: the release with the answer key's code in the solution cells;
- `untouched`: the release as handed out;
- `mixed`: the solution with three changes: `kl_loss` has its sign flipped,
  the locked `check_kl_loss` cell is replaced by `15` (trying to claim the
  points), and `Sampler` (still correct) writes TensorFlow-style log lines
  and a Python warning to stderr whenever it is called, as libraries do;
- `corrupt`: a file that is not JSON.

Passes with KERAS_BACKEND=jax and =tensorflow.
"""

import ast
import csv
import fcntl
import importlib.util
import json
import os
import re

import nbformat
import pytest

from autograder.isolation.kernel import KERNEL_NAME
from genimg_kit.parts import PARTS as POINTS_TABLE
from genimg_kit.parts import part_points
from tests.as_users import shell_environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSIGNMENTS = os.path.join(ROOT, "assignments")

_spec = importlib.util.spec_from_file_location("genimg_build", os.path.join(ASSIGNMENTS, "build.py"))
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

# Every check cell's points, from the one points table; the six stubs are the parts named alone.
PARTS = {part: part_points(part) for part in POINTS_TABLE}
STUBS = [part for part in POINTS_TABLE if len(POINTS_TABLE[part].names) == 1]
STUDENTS = ("solution", "untouched", "mixed", "corrupt")
NOISE_MARKER = "noisy sampler: writing to stderr"


# --- building the submissions ------------------------------------------------------------


def _cells_by_id(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "grade_id" in c.metadata.get("nbgrader", {})}


def solution_submission(release, source):
    """The release with every solution cell filled in from the source (the answer key)."""
    return build.fill_in_solutions(release, source)


NOISY_CALL = '''    def call(self, z_mean, z_log_var):
        import os, sys, warnings
        print("%s")
        # What TensorFlow's C++ logging writes, straight to file descriptor 2 ...
        os.write(2, b"I0000 00:00:1795872602.516185   13996 cudart_stub.cc:31] Could not find "
                    b"cuda drivers on your machine, GPU will not be used.\\n")
        # ... and the Python side: a logger line and a Keras-style UserWarning.
        sys.stderr.write("WARNING:tensorflow:5 out of the last 5 calls to <function> triggered "
                         "tf.function retracing.\\n")
        warnings.warn("`build()` was called on layer 'sampler', however the layer does not have "
                      "a `build()` method implemented.", UserWarning)
''' % NOISE_MARKER


def mixed_submission(release, source):
    nb = solution_submission(release, source)
    cells = _cells_by_id(nb)
    kl = cells["kl_loss"]
    assert "per_dimension = -0.5 * (" in kl.source
    kl.source = kl.source.replace("per_dimension = -0.5 * (", "per_dimension = 0.5 * (")
    cells["check_kl_loss"].source = "15"
    sampler = cells["sampler"]
    assert "    def call(self, z_mean, z_log_var):\n" in sampler.source
    sampler.source = sampler.source.replace("    def call(self, z_mean, z_log_var):\n", NOISY_CALL)
    return nb


def _submit(course, student, write):
    folder = os.path.join(course, "submitted", student, build.ASSIGNMENT)
    os.makedirs(folder, exist_ok=True)
    write(os.path.join(folder, build.NOTEBOOK))


def _build_course(course, env):
    build.make_course(course)
    release_path = build.generate_release(course, env=env)
    release = nbformat.read(release_path, as_version=4)
    source = nbformat.read(build.SOURCE, as_version=4)
    _submit(course, "solution", lambda p: nbformat.write(solution_submission(release, source), p))
    _submit(course, "untouched", lambda p: nbformat.write(release, p))
    _submit(course, "mixed", lambda p: nbformat.write(mixed_submission(release, source), p))
    _submit(course, "corrupt", lambda p: open(p, "w").write('{"cells": [ this is not JSON'))
    autograde = build.nbgrader(["autograde", build.ASSIGNMENT, "--force"], course, env=env, check=False)
    feedback = build.nbgrader(["generate_feedback", build.ASSIGNMENT, "--force"], course, env=env, check=False)
    export = build.nbgrader(["export"], course, env=env, check=False)
    return {
        name: {"returncode": run.returncode, "log": run.stdout + run.stderr}
        for name, run in (("autograde", autograde), ("feedback", feedback), ("export", export))
    }


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The graded course folder and what each nbgrader command returned and logged.

    nbgrader runs as root from an ordinary shell (tests/as_users.py: PATH, and a HOME
    whose keras.json picks the backend; nothing else). Under xdist the workers of one
    session share the session's base folder: the first to take the lock builds the
    course, the others reuse it.
    """
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    course = str(base / f"nbgrader_course_{backend}")
    with open(str(base / f"nbgrader_course_{backend}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = os.path.join(course, "runs.json")
        if not os.path.exists(done):
            runs = _build_course(course, shell_environment(str(base / f"home_{backend}"), backend))
            with open(done, "w") as f:
                json.dump(runs, f)
        with open(done) as f:
            runs = json.load(f)
    return course, runs


@pytest.fixture(scope="module")
def scores(course):
    return gradebook_scores(course[0], STUDENTS)


def gradebook_scores(path, students):
    """{student: {grade_id: auto score}}, and the totals, read from nbgrader's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    table = {}
    with Gradebook(f"sqlite:///{os.path.join(path, 'gradebook.db')}", "genimg") as gb:
        for student in students:
            try:
                notebook = gb.find_submission_notebook(build.NOTEBOOK[:-6], build.ASSIGNMENT, student)
            except MissingEntry:
                continue
            table[student] = {g.name: g.auto_score for g in notebook.grades}
            table[student]["total"] = notebook.score
    return table


def autograded(course, student):
    path, _ = course
    return nbformat.read(
        os.path.join(path, "autograded", student, build.ASSIGNMENT, build.NOTEBOOK), as_version=4
    )


# --- the release -------------------------------------------------------------------------


def _comparable(nb):
    return nb.metadata, [(c.cell_type, c.source, c.metadata) for c in nb.cells]


def test_committed_release_is_generated_from_the_committed_source(course):
    path, _ = course
    generated = nbformat.read(os.path.join(path, "release", build.ASSIGNMENT, build.NOTEBOOK), 4)
    committed = nbformat.read(build.RELEASE, as_version=4)
    assert len(generated.cells) == len(committed.cells)
    for index, (a, b) in enumerate(zip(_comparable(generated)[1], _comparable(committed)[1])):
        assert a == b, f"release cell {index} drifted from the source: run `python assignments/build.py release --repository-copy`"
    assert generated.metadata == committed.metadata


def _solution_lines(source):
    """Every code line between BEGIN and END SOLUTION in the source notebook."""
    lines = []
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_release_contains_no_solution_code():
    source = nbformat.read(build.SOURCE, as_version=4)
    release = nbformat.read(build.RELEASE, as_version=4)
    given = {line.strip() for c in release.cells for line in c.source.splitlines()}
    key_lines = [line for line in _solution_lines(source) if len(line) > 12]
    assert len(key_lines) >= 30
    leaked = [line for line in key_lines if line in given]
    assert not leaked, f"solution lines in the release: {leaked}"
    text = "\n".join(c.source for c in release.cells)
    for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "autograder", "genimg_ref",
                   "ops.exp(0.5 * z_log_var)", "ops.arccos(max_signal_rate)",
                   "noise_rates * pred_noise_masks) / signal_rates",
                   "next_signal_rates * pred_images", "ops.sin(theta_0 - theta_t)"):
        assert secret not in text, secret
    stubs = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert sorted(c.metadata.nbgrader.grade_id for c in stubs) == sorted(STUBS)
    assert all("raise NotImplementedError()" in c.source for c in stubs)


def test_source_cells_follow_the_points_table_and_the_answer_key():
    from genimg_kit import parts

    source = nbformat.read(build.SOURCE, as_version=4)
    cells = _cells_by_id(source)
    for part, spec in parts.PARTS.items():
        check = cells[f"check_{part}"]
        assert check.metadata.nbgrader == {"schema_version": 3, "grade": True, "solution": False,
                                           "locked": True, "grade_id": f"check_{part}",
                                           "points": spec.points}
        assert check.source == (
            "from genimg_kit.checks import self_check\n\n"
            "hidden_checks = None  # when the notebook is graded, the grader's hidden checks join in here\n"
            "### BEGIN HIDDEN TESTS\n"
            "from autograder.hidden import HIDDEN as hidden_checks\n"
            f'### END HIDDEN TESTS\nself_check("{part}", globals(), hidden_checks)'
        )
        if part not in STUBS:
            continue  # a convergence check: no stub of its own
        (name,) = spec.names
        stub = cells[part]
        assert stub.metadata.nbgrader == {"schema_version": 3, "grade": False, "solution": True,
                                          "locked": False, "grade_id": part}
        # The solution is the answer key's definition, docstring included.
        from genimg_ref import diffusion, text_to_image, vae

        module = {"sampler": vae, "kl_loss": vae, "slerp": text_to_image}.get(part, diffusion)
        reference = ast.parse(open(module.__file__).read())
        (want,) = [n for n in reference.body if getattr(n, "name", None) == name]
        (got,) = [n for n in ast.parse(stub.source).body if getattr(n, "name", None) == name]
        assert ast.dump(got) == ast.dump(want), f"{part}: the notebook's {name} is not the answer key's"


# --- autograde ---------------------------------------------------------------------------


def test_the_shipped_course_autogrades_in_the_confined_kernel(course, scores):
    _, runs = course
    assert f"[{KERNEL_NAME} kernel] isolation: full" in runs["autograde"]["log"], runs["autograde"]["log"][-3000:]


def test_solution_scores_100(scores):
    assert scores["solution"]["total"] == pytest.approx(100)
    for part, points in PARTS.items():
        assert scores["solution"][f"check_{part}"] == pytest.approx(points), part


def test_untouched_release_scores_0_and_still_runs(scores, course):
    assert scores["untouched"]["total"] == 0
    for part in PARTS:
        assert scores["untouched"][f"check_{part}"] == 0, part
    nb = autograded(course, "untouched")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "a cell was not executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert "CellTimeoutError" not in [o.ename for o in errors]
    # Errors come only from the stubs, and from the cells that use them: on JAX,
    # Keras reports a model whose call() raised while building as a RuntimeError.
    for error in errors:
        assert error.ename in ("NotImplementedError", "NameError") or (
            error.ename == "RuntimeError" and "build the model" in error.evalue
        ), (error.ename, error.evalue)
    # The Stable Diffusion cells need no stub: they ran.
    sd3_cells = [c for c in code if "load_sd3(" in c.source or "get_text_embeddings(task, prompt)" in c.source]
    assert len(sd3_cells) == 2
    assert not [o for c in sd3_cells for o in c.outputs if o.output_type == "error"]


def test_one_buggy_part_loses_only_its_points(scores):
    mixed = scores["mixed"]
    assert mixed["check_kl_loss"] < PARTS["kl_loss"]
    # kl_loss's own part loses; so may the VAE's convergence check, which trains with it.
    needs_kl = {part for part in PARTS if "kl_loss" in POINTS_TABLE[part].names}
    for part, points in PARTS.items():
        if part not in needs_kl:
            assert mixed[f"check_{part}"] == pytest.approx(points), part
    lost = sum(PARTS[p] - mixed[f"check_{p}"] for p in needs_kl)
    assert mixed["total"] == pytest.approx(100 - lost)


def test_edited_locked_cell_is_restored(course, scores):
    source_check = _cells_by_id(nbformat.read(build.SOURCE, as_version=4))["check_kl_loss"].source
    cell = _cells_by_id(autograded(course, "mixed"))["check_kl_loss"]
    assert cell.source == source_check  # the original test, hidden part included
    shown = [o.data["text/plain"] for o in cell.outputs if o.output_type == "execute_result"]
    assert shown and float(shown[0]) == scores["mixed"]["check_kl_loss"] < PARTS["kl_loss"]


def test_library_noise_on_stderr_does_not_zero_a_check_cell(course, scores):
    cell = _cells_by_id(autograded(course, "mixed"))["check_sampler"]
    stdout = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
    assert NOISE_MARKER in stdout  # the noisy Sampler did run in the check cell
    assert scores["mixed"]["check_sampler"] == pytest.approx(PARTS["sampler"])


def test_ignore_pattern_matches_library_noise_only():
    config = build.course_config()
    assert config.IgnorePattern.enabled is True
    assert config.Execute.timeout >= 300
    assert config.CourseDirectory.course_id == "genimg"
    pattern = re.compile(config.IgnorePattern.pattern)
    noise = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795872602.516185   13996 cudart_stub.cc:31] Could not find cuda drivers on "
        "your machine, GPU will not be used.\n",
        "E0000 00:00:1795872610.1   14002 cuda_dnn.cc:8579] Unable to register cuDNN factory\n",
        "2026-11-28 13:29:49.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.\n",
        "WARNING:tensorflow:5 out of the last 5 calls to <function f> triggered tf.function retracing.\n",
        "WARNING:absl:Compiled the loaded model, but the compiled metrics have yet to be built.\n",
        "/venv/lib/python3.11/site-packages/keras/src/trainers/epoch_iterator.py:74: UserWarning: "
        "`shuffle=True` was passed, but will be ignored\n  self.data_adapter = get_data_adapter(\n",
        "An NVIDIA GPU may be present on this machine, but a CUDA-enabled jaxlib is not installed.\n",
    ]
    for text in noise:
        assert pattern.search(text), text
    for text in ("Traceback (most recent call last):\n", "AssertionError: got a negative KL\n",
                 "my debugging output\n", "sampler: 0.0/15.0 points\n"):
        assert not pattern.search(text), text


def test_corrupt_submission_is_reported_and_does_not_stop_the_others(course, scores):
    _, runs = course
    autograde = runs["autograde"]
    assert autograde["returncode"] != 0
    assert "error processing assignment 'ch17' for student 'corrupt'" in autograde["log"]
    assert {"solution", "untouched", "mixed"} <= set(scores)


# --- feedback and export -----------------------------------------------------------------


def test_feedback_html_shows_the_score(course, scores):
    path, runs = course
    assert runs["feedback"]["returncode"] in (0, 1), runs["feedback"]["log"]  # 1: the corrupt one
    for student in ("solution", "untouched", "mixed"):
        html_path = os.path.join(path, "feedback", student, build.ASSIGNMENT, build.NOTEBOOK[:-6] + ".html")
        html = open(html_path, encoding="utf-8").read()
        # The notebook's total first, then one "Score: x / y" per check cell (rounded to 0.01).
        shown = [float(x) for x in re.findall(r"Score:\s*([0-9.]+)\s*/\s*100\.0", html)]
        assert shown and shown[0] == pytest.approx(scores[student]["total"], abs=0.01), student
    assert scores["solution"]["total"] == pytest.approx(100)


def test_export_csv_has_a_row_per_student(course, scores):
    path, runs = course
    assert runs["export"]["returncode"] == 0, runs["export"]["log"]
    with open(os.path.join(path, "grades.csv"), newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(STUDENTS)
    assert float(rows["corrupt"]["score"]) == 0  # reported, graded 0, the others unaffected
    assert float(rows["solution"]["score"]) == pytest.approx(100)
    assert float(rows["solution"]["max_score"]) == pytest.approx(100)
    assert float(rows["untouched"]["score"]) == 0
    assert float(rows["mixed"]["score"]) == pytest.approx(scores["mixed"]["total"])
    assert all(row["assignment"] == "ch17" for row in rows.values())


# --- the kit and the answer key ----------------------------------------------------------


def _kit_files():
    from genimg_kit import parts

    # The package folder (via a module in it: an editable install may make
    # `genimg_kit` itself look like a namespace package, without __file__).
    package = os.path.dirname(parts.__file__)
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_student_kit_cannot_reach_the_answer_key():
    files = list(_kit_files())
    assert len(files) >= 10
    for path in files:
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"
            ):
                modules = [a.value for a in node.args if isinstance(a, ast.Constant)]
            else:
                continue
            for module in modules:
                top = str(module).split(".")[0]
                assert top not in ("genimg_ref", "autograder"), f"{path} imports {module}"


def test_no_graded_piece_is_defined_in_the_kit():
    """None of the six names is defined at a kit module's top level.

    Two exceptions by construction: the `probes/` and `checks/` modules have
    functions named after the parts, but they are the probe or the check *of*
    a part (first parameter `namespace` or `subject`), never the piece.
    """
    from genimg_kit import parts

    names = set(parts.GRADED_NAMES)
    for path in _kit_files():
        tree = ast.parse(open(path, encoding="utf-8").read())
        probing = any(os.sep + folder + os.sep in path for folder in ("checks", "probes"))
        # Top level: DiffusionModel's `denoise` and `generate` methods only
        # delegate to the functions they are given.
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name not in names:
                    continue
                if probing and not isinstance(node, ast.ClassDef):
                    first = node.args.args[0].arg if node.args.args else None
                    assert first in ("namespace", "subject"), f"{path}: {node.name}({first}, ...)"
                    continue
                raise AssertionError(f"{path} defines {node.name}")
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                assert not (isinstance(target, ast.Name) and target.id in names), (
                    f"{path} assigns {target.id}"
                )
