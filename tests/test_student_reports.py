"""What a student reads after a grade: no noise from statements the grader
skips on purpose, cells named by their first line, and a missing piece said
once, first, with what the source shows of it (its cell's syntax error, a
`def` inside an `if`, a near miss such as `KL_loss`), without hints about
the maths of a piece that never ran.
"""

import contextlib
import io

import nbformat
import numpy as np
import pytest

from autograder.grade import grade
from autograder.submission import explain_missing, read_submission
from autograder.writers import text_report
from genimg_kit.checks import self_check
from tests._submissions import CORRECT, write

SLERP = """\
import numpy as np


def slerp(t, v1, v2):
    v1, v2 = np.asarray(v1, "float32"), np.asarray(v2, "float32")
    cos = np.sum(v1 * v2) / (np.linalg.norm(v1) * np.linalg.norm(v2))
    theta = np.arccos(np.clip(cos, -1, 1))
    if np.sin(theta) < 1e-6:
        return ((1 - t) * v1 + t * v2).astype("float32")
    return ((np.sin((1 - t) * theta) * v1 + np.sin(t * theta) * v2) / np.sin(theta)).astype("float32")
"""

SETUP = ["from genimg_kit import budget", "BUDGET = budget.choose('fast')",
         "STEPS = BUDGET.vae_epochs\nEPOCHS = [STEPS, 2 * STEPS]\nsize = float(len(EPOCHS))"]


def notebook(*sources, test_cells=()):
    """A notebook of code cells, then course test cells (nbgrader: graded, not a solution)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for source in test_cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                                     "grade_id": "check", "points": 1}
        nb.cells.append(cell)
    return nbformat.writes(nb)


def missing_said(tmp_path, name, *sources):
    submission = read_submission(write(tmp_path, "s.ipynb", notebook(*sources)))
    return [sentence for _, sentence in explain_missing(name, submission, [])]


# --- reading: what the source shows of a missing name --------------------------------


def test_statements_that_use_what_the_grader_skipped_are_skipped_with_it(tmp_path):
    submission = read_submission(write(tmp_path, "s.ipynb", notebook(*SETUP, CORRECT)))
    kept = "\n".join(u.source for u in submission.units)
    assert "def kl_loss" in kept and "import budget" in kept
    assert "BUDGET" not in kept and "EPOCHS" not in kept and "size" not in kept  # down the chain
    assert not [n for n in submission.skipped if n.kind == "load_error"]


def test_a_name_bound_again_by_a_kept_statement_is_usable_again(tmp_path):
    submission = read_submission(write(tmp_path, "s.py", "N = len('abc')\nN = 3\nM = N + 1\n"))
    assert [u.source for u in submission.units] == ["N = 3", "M = N + 1"]


def test_course_test_cells_are_not_the_students_code(tmp_path):
    path = write(tmp_path, "s.ipynb", notebook(CORRECT, test_cells=["from autograder.hidden import HIDDEN"]))
    submission = read_submission(path)
    assert all("autograder" not in u.source for u in submission.units)


def test_cells_are_named_by_their_first_line(tmp_path):
    path = write(tmp_path, "s.ipynb", notebook("\n\n# the prior\nx = undefined_name", "def f(:\n  pass"))
    submission = read_submission(path)
    assert submission.units[0].label == 's.ipynb, the cell starting "# the prior", line 4'
    assert [n.text for n in submission.skipped if n.kind == "load_error"] == [
        's.ipynb, the cell starting "def f(:": syntax error on line 1 (invalid syntax); '
        "the whole cell/file was skipped"]


@pytest.mark.parametrize("wrapper, said", [
    ("if True:\n", "inside an `if`"), ("for _ in range(1):\n", "inside a `for` loop"),
    ("try:\n", "inside a `try`"), ("with open(__file__):\n", "inside a `with`")])
def test_a_definition_inside_a_block_is_said_not_run(tmp_path, wrapper, said):
    body = "".join(f"    {line}\n" for line in CORRECT.splitlines())
    source = wrapper + body + ("except Exception:\n    pass\n" if wrapper == "try:\n" else "")
    [sentence] = missing_said(tmp_path, "kl_loss", source)
    assert said in sentence and 'the cell starting "' in sentence


def test_a_syntax_error_is_said_for_the_names_its_cell_defines(tmp_path):
    [sentence] = missing_said(tmp_path, "kl_loss", CORRECT.replace("z_log_var):", "z_log_var)"))
    assert "syntax error on line 4" in sentence and "`kl_loss`" in sentence


def test_a_value_that_calls_something_is_said_not_run(tmp_path):
    [sentence] = missing_said(tmp_path, "kl_loss", "kl_loss = make_kl_loss()")
    assert "calls `make_kl_loss`" in sentence


@pytest.mark.parametrize("near", ["KL_loss", "kl_los", "my_kl_loss", "kllos"])
def test_near_misses_are_named(tmp_path, near):
    [sentence] = missing_said(tmp_path, "kl_loss", CORRECT.replace("def kl_loss", f"def {near}"))
    assert f"found `{near}`" in sentence and "looks for the name `kl_loss`" in sentence


def test_unrelated_names_and_values_are_not_near_misses(tmp_path):
    source = "loss = 1.0\nkl_loss_weight = 2.0\n\ndef reconstruction(x):\n    return x\n"
    assert missing_said(tmp_path, "kl_loss", source) == []


def test_the_self_check_names_a_near_miss_in_the_notebook():
    namespace = {"__name__": "__main__"}
    exec(CORRECT.replace("def kl_loss", "def KL_loss"), namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert self_check("kl_loss", namespace) == 0
    report = printed.getvalue()
    assert "found `KL_loss`: the checks look for the name `kl_loss`" in report
    assert report.count("found `KL_loss`") == 1 and "hint:" not in report


# --- grading: the report a student reads -------------------------------------------


def test_a_right_notebook_grades_without_noise(tmp_path):
    path = write(tmp_path, "right.ipynb", notebook(
        *SETUP, CORRECT, SLERP, "print(kl_loss)\nlatent = BUDGET.vae_epochs",
        test_cells=["from genimg_kit.checks import self_check\nfrom autograder.hidden import HIDDEN"]))
    record = grade(path, parts=["kl_loss", "slerp"])
    report = text_report(record)
    assert record.score == record.max_score, report
    assert not [n for n in record.notes if n.kind == "load_error"], report
    assert "README" not in report and "Error" not in report
    assert "top-level statements were not run" in report


def test_a_missing_piece_is_said_once_first_without_hints(tmp_path):
    broken_kl = CORRECT.replace("def kl_loss", "def KL_loss")
    broken_slerp = SLERP.replace("z_log_var", "").replace("def slerp(t, v1, v2):", "def slerp(t, v1, v2)")
    path = write(tmp_path, "missing.ipynb", notebook(broken_kl, broken_slerp))
    record = grade(path, parts=["kl_loss", "slerp"])
    report = text_report(record)
    for part, said in (("kl_loss", "found `KL_loss`"), ("slerp", "syntax error on line 4")):
        block = report.split(f"\n{part}: ")[1].split("\n\n")[0]
        first_failure = block.split("\n")[2]
        assert said in first_failure, block
        assert block.count(said) == 1 and "hint:" not in block
        assert record.parts[part].points == 0
    assert "these statements failed" not in report  # the syntax error is said in its part, once


# --- public checks: what they say about a wrong piece -------------------------------


def public_result(mutant_id):
    from genimg_kit.checks.battery import run_part
    from genimg_kit.checks.subject import LocalSubject
    from tests.mutants import MUTANTS, namespace_of

    (mutant,) = [m for m in MUTANTS if m.id == mutant_id]
    return {c.id.split(".")[1]: c for c in run_part(mutant.part, LocalSubject(namespace_of(mutant.source()))).checks}


def test_a_counterexample_names_every_input_and_a_factor_is_measured():
    checks = public_result("rates swapped")  # denoise divides by the noise rate
    shown = checks["gradients"].counterexample
    for name in ("images=", "noise=", "noisy_images=", "noise_rates=", "signal_rates="):
        assert name in shown, shown
    rates = eval(shown.split("noise_rates=")[1].split(", signal_rates=")[0], {"np": np})
    assert np.asarray(rates).shape[1:] == (1, 1, 1)  # written as the NumPy call that makes it
    ratio = float(checks["gradients"].message.split(": ")[-1].split(" times")[0])
    noise = rates.ravel()[0]
    signal = np.sqrt(1 - noise**2)  # the drawn rates lie on the unit circle
    assert ratio == pytest.approx((signal / noise) ** 2, rel=1e-3)  # -s/n where -n/s was due


def test_a_swapped_schedule_is_told_so_with_a_counterexample_that_matches_the_message():
    checks = public_result("schedule outputs swapped")
    endpoints = checks["endpoints"]
    assert "called without bounds" in endpoints.message and endpoints.counterexample == "bounds=None"
    assert "swapped" in endpoints.diagnosis
    assert "noise_rates falls with t" in checks["rates_have_gradients"].message
