"""nbgrader's in-kernel test cells can be fooled; `genimg-grade reconcile` cannot (issue 7).

One real nbgrader course, built once for the module: a small notebook of
our own (kl_loss and diffusion_schedule, each a solution cell plus a locked
`check_<part>` cell worth the part's points that calls `self_check`), `nbgrader
generate_assignment`, one submission per student, `nbgrader autograde` once,
then `genimg-grade reconcile` once, then `nbgrader export` and
`nbgrader generate_feedback` for one student. No mocks.

Every trick student submits the plain WRONG solution plus one trick (in an
extra cell, or as the stub itself) and must end, after reconcile, with the
score of the plain wrong solution (or less: 0 for stubs that never answer,
and 0 with the reason for the tricks the isolated grade detects as tampering).
Which tricks fooled nbgrader's own in-kernel cells is recorded in
IN_KERNEL_FOOLED_BY below and checked: the rebinding tricks must fool the
kernel, or this test would prove nothing. It runs on the tensorflow pass (one_backend).
"""

import copy
import csv
import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from autograder import cli
from autograder.batch import pool
from autograder.course import reconcile as course_lib
from autograder.record import GradeRecord
from genimg_kit.checks.results import CheckResult, PartResult
from genimg_kit.parts import format_points, part_points

# The tricks patch Python objects of the kernel, and reconcile's re-grade is the
# batch's (both tested on both backends: test_notebooks runs a real nbgrader course,
# test_batch and test_confinement the isolated grade); the course runs once, ~10 min.
pytestmark = pytest.mark.one_backend

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
ASSIGNMENT = "ch17int"
NOTEBOOK = "integrity"
PARTS = ("kl_loss", "diffusion_schedule")
POINTS = float(part_points("kl_loss"))  # = diffusion_schedule's
CELL_TIMEOUT = 60  # nbgrader's per-cell limit: a correct check cell needs ~5-15 s on a loaded 2-core machine
PART_TIMEOUT = 45.0  # the isolated grader's limit for all probes of one part
STUDENT_TIMEOUT = 300.0  # reconcile's wall limit per student and notebook

SETUP = """\
import keras
from keras import ops

_ = ops.convert_to_numpy(ops.zeros(1))  # backend start-up notices land here, not in a test cell
"""

KL_STUB = "def kl_loss(z_mean, z_log_var):\n    {body}\n"
CORRECT_KL = "return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)"
WRONG_KL = CORRECT_KL.replace("return -0.5 *", "return 0.5 *")  # the sign flipped

SCHEDULE_STUB = """\
def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    start_angle = ops.arccos(max_signal_rate)
    end_angle = ops.arccos(min_signal_rate)
    diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)
    {body}
"""
CORRECT_SCHEDULE = "return ops.sin(diffusion_angles), ops.cos(diffusion_angles)"
WRONG_SCHEDULE = "return ops.cos(diffusion_angles), ops.sin(diffusion_angles)"  # the pair swapped

CHECK = """\
from genimg_kit.checks import self_check

hidden_checks = None  # when the notebook is graded, the grader's hidden checks join in here
### BEGIN HIDDEN TESTS
from autograder.hidden import HIDDEN as hidden_checks
### END HIDDEN TESTS
self_check("{part}", globals(), hidden_checks)"""

# --- the tricks: an extra cell placed right after the kl_loss solution, before any check cell ---

REBIND_FULL = """\
import sys
import genimg_kit.checks
import genimg_kit.checks.battery as battery
import genimg_kit.checks.results as results
from genimg_kit.parts import part_points

def _full_points(part, namespace=None, *args, **kwargs):
    return float(part_points(part))

def _all_passed(part, subject=None, hidden=None):
    checks = battery.battery(part, hidden)
    total = sum(c.weight for c in checks)
    share = lambda c: part_points(part) * c.weight / total
    return results.PartResult(part, [results.CheckResult(c.id, part, c.description, share(c), share(c), True,
                                                         c.hidden) for c in checks])

genimg_kit.checks.self_check = _full_points
genimg_kit.checks.run_part = battery.run_part = _all_passed
for _name, _module in list(sys.modules.items()):
    if _name.startswith("genimg_kit.checks") and hasattr(_module, "assert_close"):
        _module.assert_close = lambda *args, **kwargs: None
"""

# None as a test cell's last expression, and nothing printed: nbgrader gives full credit.
REBIND_NOOP = """\
import genimg_kit.checks
import genimg_kit.checks.assertions as assertions
import genimg_kit.checks.battery as battery
genimg_kit.checks.self_check = lambda *args, **kwargs: None
genimg_kit.checks.run_part = battery.run_part = lambda *args, **kwargs: None
assertions.assert_close = lambda *args, **kwargs: None
"""

FAKE_IMPORT = """\
import builtins
import types

_fake = types.ModuleType("genimg_kit.checks")
_fake.self_check = lambda part, namespace, hidden=None: """ + repr(POINTS) + """
_fake.HIDDEN = None  # what the check cell's hidden block imports from autograder.hidden
_real_import = builtins.__import__

def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if name.startswith(("genimg_kit.checks", "autograder")):
        return _fake
    return _real_import(name, globals, locals, fromlist, level)

builtins.__import__ = _import
"""

FAKE_MODULE = """\
import importlib
import sys
import types
import genimg_kit.checks  # the real one first, so that its submodules stay importable

_fake = types.ModuleType("genimg_kit.checks")
_fake.self_check = lambda part, namespace, hidden=None: """ + repr(POINTS) + """
sys.modules["genimg_kit.checks"] = _fake
_real_import_module = importlib.import_module
importlib.import_module = lambda name, package=None: (
    _fake if name.startswith("genimg_kit") else _real_import_module(name, package))
"""

PATCH_SUBPROCESS = """\
import subprocess

class _Done:
    returncode = 0
    stdout = b'{"score": 100.0}'
    stderr = b""

class _FakePopen(_Done):
    def __init__(self, *args, **kwargs):
        self.pid = 1
    def communicate(self, *args, **kwargs):
        return self.stdout, self.stderr
    def wait(self, *args, **kwargs):
        return 0
    def poll(self):
        return 0
    def kill(self):
        pass
    terminate = kill

subprocess.run = lambda *args, **kwargs: _Done()
subprocess.Popen = _FakePopen
subprocess.check_output = lambda *args, **kwargs: _Done.stdout
subprocess.call = subprocess.check_call = lambda *args, **kwargs: 0
"""

PATCH_NUMERICS = """\
import keras
import numpy as np

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
keras.ops.isclose = lambda x1, x2, *args, **kwargs: keras.ops.ones_like(x1, dtype="bool")
"""

# Fake results wherever a grader might look: next to the notebook, in the
# submitted folder, and where reconcile writes its CSV and reports.
FAKE_FILES = """\
import json
import os
import pathlib

if os.environ.get("NBGRADER_EXECUTION") == "autograde":
    here = pathlib.Path.cwd()
    root = next(p for p in here.parents if (p / "gradebook.db").exists())
    student, assignment = here.parent.name, here.name
    full = {"score": 100.0, "max_score": 100.0, "tests": [],
            "extra_data": {"genimg": {"status": "ok", "parts": {"kl_loss": 15.0, "diffusion_schedule": 15.0}}}}
    for folder in (here, root / "submitted" / student / assignment,
                   root / "reconcile" / assignment / "integrity" / student):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(full))
    (root / "reconcile" / f"{assignment}.csv").write_text(
        "student,part,in_kernel,isolated,flagged,reason\\n"
        f"{student},kl_loss,15,15,false,\\n{student},diffusion_schedule,15,15,false,\\n")
"""

# During autograde, overwrite its own submitted notebook with the instructor's
# source (solutions included): what reconcile would read afterwards.
TAMPER_SUBMISSION = """\
import os
import pathlib
import shutil

if os.environ.get("NBGRADER_EXECUTION") == "autograde":
    here = pathlib.Path.cwd()
    root = next(p for p in here.parents if (p / "gradebook.db").exists())
    student, assignment = here.parent.name, here.name
    shutil.copyfile(root / "source" / assignment / "integrity.ipynb",
                    root / "submitted" / student / assignment / "integrity.ipynb")
"""

KL_EXIT = "raise SystemExit(0)"
SCHEDULE_INTERRUPT = "raise KeyboardInterrupt()"
KL_SLEEPS = "import time\n    while True:\n        time.sleep(0.5)"

# student -> (kl_loss body, diffusion_schedule body, extra cell or None)
# trick student -> the cell it adds to a wrong submission
TRICK_CELLS = {
    "rebind_full": REBIND_FULL, "rebind_noop": REBIND_NOOP, "fake_import": FAKE_IMPORT,
    "fake_module": FAKE_MODULE, "patch_subprocess": PATCH_SUBPROCESS, "patch_numerics": PATCH_NUMERICS,
    "fake_files": FAKE_FILES, "tamper_submission": TAMPER_SUBMISSION,
}
STUDENTS = {
    "correct": (CORRECT_KL, CORRECT_SCHEDULE, None),
    "wrong": (WRONG_KL, WRONG_SCHEDULE, None),
    **{student: (WRONG_KL, WRONG_SCHEDULE, cell) for student, cell in TRICK_CELLS.items()},
    "exit_stubs": (KL_EXIT, SCHEDULE_INTERRUPT, None),
    "sleep_stub": (KL_SLEEPS, WRONG_SCHEDULE, None),
}
TRICKS = [s for s in STUDENTS if s not in ("correct", "wrong")]
CORRUPT = "corrupt"  # a submitted notebook that is not JSON

# What nbgrader's in-kernel cells alone fell for (total in-kernel score above
# the plain wrong solution's), measured on both backends. The test fails if
# this changes, so the closing note stays true.
IN_KERNEL_FOOLED_BY = {"rebind_full", "rebind_noop", "fake_import", "fake_module", "patch_numerics"}
# The tricks that change what the isolated re-grade's probes run on (builtins.__import__,
# NumPy's comparisons and Keras's): detected there as tampering, every part voided.
DETECTED_AS_TAMPERING = {"fake_import", "patch_numerics"}


# --- building and grading the course (once) ------------------------------------------


def _meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    nbgrader = {"schema_version": 3, "grade": grade, "solution": solution, "locked": locked,
                "grade_id": grade_id}
    if grade:
        nbgrader["points"] = points
    return {"nbgrader": nbgrader}


def _cell(source, **meta):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata.update(_meta(**meta))
    return cell


def source_notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    solution = "### BEGIN SOLUTION\n    {}\n    ### END SOLUTION"
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Integrity test: two graded parts"),
        _cell(SETUP, grade_id="setup", locked=True),
        _cell(KL_STUB.format(body=solution.format(CORRECT_KL)), grade_id="kl_loss", solution=True),
        _cell(CHECK.format(part="kl_loss"), grade_id="check_kl_loss", grade=True, locked=True, points=POINTS),
        _cell(SCHEDULE_STUB.format(body=solution.format(CORRECT_SCHEDULE)), grade_id="diffusion_schedule",
              solution=True),
        _cell(CHECK.format(part="diffusion_schedule"), grade_id="check_diffusion_schedule", grade=True,
              locked=True, points=POINTS),
    ]
    return notebook


def student_notebook(release, kl_body, schedule_body, extra):
    """The released notebook as the student hands it in: stubs filled, maybe one extra cell."""
    notebook = copy.deepcopy(release)
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    notebook.cells[ids.index("kl_loss")].source = KL_STUB.format(body=kl_body)
    notebook.cells[ids.index("diffusion_schedule")].source = SCHEDULE_STUB.format(body=schedule_body)
    if extra:
        notebook.cells.insert(ids.index("kl_loss") + 1, nbformat.v4.new_code_cell(extra))
    return notebook


def nbgrader(root, *args, check=True, env=None):
    env = dict(os.environ, KERAS_BACKEND=BACKEND, GENIMG_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3",
               MPLBACKEND="Agg", **(env or {}))
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


def gradebook_scores(root, course_id="integrity"):
    """{student: {cell: (auto_score, manual_score, score)}} and {(student, part): comment}."""
    from nbgrader.api import Gradebook

    scores, comments = {}, {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id) as gb:
        for submission in gb.find_assignment(ASSIGNMENT).submissions:
            student = submission.student.id
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    scores.setdefault(student, {})[grade.name] = (grade.auto_score, grade.manual_score,
                                                                  grade.score)
                for comment in notebook.comments:
                    comments[student, comment.name] = comment.manual_comment or ""
    return scores, comments


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    timings = {}
    (root / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "integrity"\n'
        f"c.CourseDirectory.root = {str(root)!r}\n")
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    started = time.monotonic()
    nbgrader(root, "generate_assignment", ASSIGNMENT)
    timings["generate_assignment"] = time.monotonic() - started

    release = nbformat.read(root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for student, (kl_body, schedule_body, extra) in STUDENTS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(student_notebook(release, kl_body, schedule_body, extra), folder / f"{NOTEBOOK}.ipynb")
    # A results file handed in next to the notebook, claiming full marks.
    (root / "submitted" / "fake_files" / ASSIGNMENT / "results.json").write_text(
        json.dumps({"score": 100.0, "tests": []}))
    corrupt = root / "submitted" / CORRUPT / ASSIGNMENT
    corrupt.mkdir(parents=True)
    (corrupt / f"{NOTEBOOK}.ipynb").write_text('{"cells": [ this is not json')
    submitted_tamper = (root / "submitted" / "tamper_submission" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_bytes()

    started = time.monotonic()
    # Exit status 1: the corrupt notebook fails; every other student is autograded.
    autograde = nbgrader(root, "autograde", ASSIGNMENT, f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}",
                         check=False)
    timings["autograde"] = time.monotonic() - started
    before, _ = gradebook_scores(root)

    started = time.monotonic()
    out = root / "reconcile" / f"{ASSIGNMENT}.csv"  # the default, where fake_files planted its own
    code = cli.main(["reconcile", str(root), ASSIGNMENT, "--workers", "2",
                     "--timeout", str(STUDENT_TIMEOUT), "--part-timeout", str(PART_TIMEOUT),
                     "--backend", BACKEND, "--no-progress"])
    timings["reconcile"] = time.monotonic() - started
    after, comments = gradebook_scores(root)

    started = time.monotonic()
    nbgrader(root, "export")
    nbgrader(root, "generate_feedback", ASSIGNMENT, "--student", "rebind_full")
    timings["export+feedback"] = time.monotonic() - started
    with open(out, newline="") as f:
        rows = {(row["student"], row["part"]): row for row in csv.DictReader(f)}
    with open(root / "grades.csv", newline="") as f:
        exported = {row["student_id"]: row for row in csv.DictReader(f)}
    print(f"\n[integrity {BACKEND}] " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return {
        "root": root, "autograde": autograde, "code": code, "before": before, "after": after,
        "comments": comments, "rows": rows, "exported": exported, "timings": timings,
        "submitted_tamper": submitted_tamper,
    }


def in_kernel(course, student):
    """nbgrader's own (in-kernel) score per part, before reconcile."""
    return {part: course["before"][student][f"check_{part}"][0] for part in PARTS}


def final(course, student):
    """The score nbgrader now counts per part (the manual score set by reconcile)."""
    return {part: course["after"][student][f"check_{part}"][2] for part in PARTS}


def wrong_scores(course):
    return final(course, "wrong")


def part_scores(results):
    """Points per part of the grade record in a report reconcile wrote."""
    record = GradeRecord.from_json(json.loads(results.read_text())["extra_data"]["genimg"])
    return {part: result.points for part, result in record.parts.items()}


def _no_reconcile_comment(course, student, part):
    return course_lib.MARKER not in course["comments"].get((student, part), "")


# --- the honest students ---------------------------------------------------------------


def test_autograde_and_reconcile_ran(course):
    assert course["code"] == 0
    assert set(course["before"]) == set(STUDENTS) | {CORRUPT}, course["autograde"].stderr[-3000:]
    assert {student for student, _ in course["rows"]} == set(STUDENTS) | {CORRUPT}


def test_correct_solution_gets_full_points_and_nothing_flagged(course):
    assert in_kernel(course, "correct") == {p: POINTS for p in PARTS}
    assert final(course, "correct") == pytest.approx({p: POINTS for p in PARTS}, abs=1e-6)
    for part in PARTS:
        row = course["rows"]["correct", part]
        assert row["flagged"] == "false" and row["reason"] == "" and row["status"] == "ok", row
        assert _no_reconcile_comment(course, "correct", part)


def test_plain_wrong_solution_gets_low_points_and_nothing_flagged(course):
    scores = wrong_scores(course)
    assert 0 < sum(scores.values()) < 0.5 * POINTS * len(PARTS), scores
    for part in PARTS:
        assert in_kernel(course, "wrong")[part] == pytest.approx(scores[part], abs=0.01)
        assert course["rows"]["wrong", part]["flagged"] == "false"
        assert _no_reconcile_comment(course, "wrong", part)


# --- the tricks -------------------------------------------------------------------------


@pytest.mark.parametrize("student", TRICKS)
def test_trick_ends_with_the_plain_wrong_score_or_is_voided(course, student):
    scores, wrong = final(course, student), wrong_scores(course)
    for part in PARTS:
        if student == "exit_stubs" or (student == "sleep_stub" and part == "kl_loss"):
            assert scores[part] == 0.0, (student, part, scores)  # the stub never answers
        elif student in DETECTED_AS_TAMPERING:
            assert scores[part] == 0.0, (student, part, scores)
            assert "tampering detected" in course["rows"][student, part]["reason"], course["rows"][student, part]
        else:
            assert scores[part] == pytest.approx(wrong[part], abs=0.01), (student, part, scores, wrong)


@pytest.mark.parametrize("student", TRICKS)
def test_every_disagreement_is_flagged_with_the_reason_in_csv_and_gradebook(course, student):
    for part in PARTS:
        row = course["rows"][student, part]
        kernel, score = in_kernel(course, student)[part], final(course, student)[part]
        assert float(row["in_kernel"]) == pytest.approx(kernel, abs=1e-4)
        assert float(row["isolated"]) == pytest.approx(score, abs=1e-4)
        disagrees = abs(kernel - score) > course_lib.TOLERANCE
        assert (row["flagged"] == "true") == (disagrees or student == "tamper_submission"), row
        comment = course["comments"][student, part]
        if disagrees:
            expected = (f"in-kernel score {format_points(kernel)} disagreed with the isolated re-grade "
                        f"{format_points(score)}: suspected tampering or non-determinism; "
                        "the isolated score counts")
            assert expected in row["reason"] and expected in comment, (row, comment)
        else:
            assert "disagreed" not in row["reason"]


def test_which_tricks_fooled_the_in_kernel_cells(course):
    wrong_total = sum(in_kernel(course, "wrong").values())
    fooled = {s for s in TRICKS if sum(in_kernel(course, s).values()) > wrong_total + course_lib.TOLERANCE}
    table = {s: (in_kernel(course, s), final(course, s)) for s in TRICKS}
    print(f"\n[integrity {BACKEND}] in-kernel vs reconciled:\n" + "\n".join(
        f"  {s:18s} in-kernel {sum(k.values()):6.2f}  reconciled {sum(f.values()):6.2f}"
        for s, (k, f) in table.items()))
    # Rebinding self_check must fool the kernel, or this suite proves nothing.
    assert {"rebind_full", "rebind_noop"} <= fooled
    assert in_kernel(course, "rebind_full") == {p: POINTS for p in PARTS}
    assert fooled == IN_KERNEL_FOOLED_BY


def test_a_submission_rewritten_during_autograde_is_flagged_and_gets_the_lower_score(course):
    submitted = course["root"] / "submitted" / "tamper_submission" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert submitted.read_bytes() != course["submitted_tamper"], "the trick did not run: the test proves nothing"
    # What the rewritten file alone would have scored: the instructor's solutions, full marks.
    details = course["root"] / "reconcile" / ASSIGNMENT
    rewritten = part_scores(pool.results_path(details / NOTEBOOK, "tamper_submission"))
    assert rewritten == {p: POINTS for p in PARTS}
    copy_ = part_scores(pool.results_path(details / course_lib.COPIES / NOTEBOOK, "tamper_submission"))
    assert copy_ == pytest.approx(wrong_scores(course), abs=0.01)
    for part in PARTS:
        row = course["rows"]["tamper_submission", part]
        assert row["flagged"] == "true" and "changed after nbgrader autograded it" in row["reason"], row
        assert "changed after nbgrader autograded it" in course["comments"]["tamper_submission", part]


def test_planted_result_files_are_never_read_and_are_replaced(course):
    root = course["root"]
    # The trick's own files are where it put them ...
    assert (root / "autograded" / "fake_files" / ASSIGNMENT / "results.json").exists()
    # ... and what reconcile wrote where it writes by default is its own.
    details = pool.results_path(root / "reconcile" / ASSIGNMENT / NOTEBOOK, "fake_files")
    assert part_scores(details)["kl_loss"] == pytest.approx(final(course, "wrong")["kl_loss"], abs=0.01)


def test_corrupt_notebook_scores_zero_with_the_reason(course):
    assert course["before"][CORRUPT]["check_kl_loss"][0] is None  # nbgrader could not run it
    assert final(course, CORRUPT) == {p: 0.0 for p in PARTS}
    for part in PARTS:
        row = course["rows"][CORRUPT, part]
        assert row["status"] == "error" and "could not be read" in row["reason"], row
        assert row["in_kernel"] == "" and row["flagged"] == "false"
        assert "could not be read" in course["comments"][CORRUPT, part]


# --- what nbgrader shows afterwards --------------------------------------------------------


def test_nbgrader_export_totals_are_the_reconciled_scores(course):
    for student in [*STUDENTS, CORRUPT]:
        total = sum(final(course, student).values())
        assert float(course["exported"][student]["score"]) == pytest.approx(total, abs=0.01), student
        assert float(course["exported"][student]["max_score"]) == POINTS * len(PARTS)
    # The fooled kernel's 30 points are gone from the export.
    assert float(course["exported"]["rebind_full"]["score"]) == pytest.approx(
        sum(wrong_scores(course).values()), abs=0.01)


def test_feedback_shows_the_reconciled_score_and_the_flag(course):
    html = next((course["root"] / "feedback" / "rebind_full" / ASSIGNMENT).glob("*.html")).read_text()
    total = sum(final(course, "rebind_full").values())
    assert f"(Score: {round(total, 2)} / {POINTS * len(PARTS)})" in html
    assert "suspected tampering" in html


def test_reconcile_refuses_an_unknown_assignment_with_status_2(course, capsys):
    assert cli.main(["reconcile", str(course["root"]), "no_such_assignment", "--no-progress"]) == 2
    assert "no assignment 'no_such_assignment'" in capsys.readouterr().err


# --- the pieces, without nbgrader ------------------------------------------------------------


def test_comment_keeps_a_reviewers_text_and_replaces_only_its_own_paragraph():
    first = course_lib._comment("Nice plots.", "check_kl_loss: 0/15 points. flagged.")
    assert first == f"Nice plots.\n\n{course_lib.MARKER} check_kl_loss: 0/15 points. flagged."
    again = course_lib._comment(first, "check_kl_loss: 15/15 points. other.")
    assert again == f"Nice plots.\n\n{course_lib.MARKER} check_kl_loss: 15/15 points. other."
    assert course_lib._comment(again, "") == "Nice plots."
    assert course_lib._comment(f"{course_lib.MARKER} old", "") is None


def test_decide_scales_to_the_cells_points_and_flags_beyond_the_tolerance():
    cell = course_lib.CheckCell(NOTEBOOK, "kl_loss", "check_kl_loss", 30.0, "kl_loss")
    half = part_points("kl_loss") / 2
    ok = GradeRecord("integrity.ipynb", BACKEND, {"kl_loss": PartResult("kl_loss", [  # half marks
        CheckResult("kl_loss.a", "kl_loss", "a", half, half, True, False),
        CheckResult("kl_loss.b", "kl_loss", "b", 0.0, half, False, True)])})
    assert course_lib.decide(cell, 15.0, ok) == (15.0, False, "")
    assert course_lib.decide(cell, 15.005, ok)[1] is False
    score, flagged, reason = course_lib.decide(cell, 30.0, ok)
    assert (score, flagged) == (15.0, True)
    assert "in-kernel score 30 disagreed with the isolated re-grade 15" in reason
