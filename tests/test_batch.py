"""`genimg-grade batch`: a class graded in parallel workers, with time limits and resume.

One batch over four students (correct, buggy, broken, hanging) on the cheap
kl_loss part, run once for the module; the resume and --force runs reuse its
output. The backend is $KERAS_BACKEND (the suite runs under both).
"""

import csv
import dataclasses
import json
import os
import pathlib
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import BROKEN_NOTEBOOK, BUGGY, CORRECT, HANGING, write  # noqa: E402
from autograder import cli  # noqa: E402
from autograder.batch import pool  # noqa: E402
from autograder.grade import failed_record  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from autograder.record import GradeRecord  # noqa: E402
from genimg_kit.checks.results import PartResult  # noqa: E402
from genimg_kit.parts import PARTS as PARTS_TABLE  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
# Per submission, as a whole. The correct one needs ~15-30 s on a loaded
# 2-core machine (sandbox start-up included); the hanging one needs forever,
# and its time-out is most of this file's run time.
TIMEOUT = 75.0
PARTS = ["kl_loss"]


def read_summary(out):
    return pool.read_summary(out)


def mtimes(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("students/*/results.json")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("graded")
    # Sorted by id, the hanging one starts first: its time-out runs alongside the others.
    write(submissions, "a_hanging.py", HANGING)
    write(submissions, "b_correct.py", CORRECT)
    write(submissions, "c_buggy/vae.py", BUGGY)  # a folder submission
    write(submissions, "d_broken.ipynb", BROKEN_NOTEBOOK)
    write(submissions, "notes.txt", "not a submission: ignored")
    write(submissions, ".DS_Store", "ignored")
    started = time.monotonic()
    records = pool.run_batch(submissions, out, workers=2, timeout=TIMEOUT, backend=BACKEND,
                             parts=PARTS, progress=False)
    return submissions, out, records, time.monotonic() - started


def test_summary_has_one_row_per_student_with_the_right_status(graded):
    _, out, records, _ = graded
    summary = read_summary(out)
    assert list(summary) == ["a_hanging", "b_correct", "c_buggy", "d_broken"]
    assert list(records) == list(summary)
    assert {s: row["status"] for s, row in summary.items()} == {
        "a_hanging": "timeout", "b_correct": "ok", "c_buggy": "ok", "d_broken": "error"}
    assert {s: r.status for s, r in records.items()} == {s: row["status"] for s, row in summary.items()}
    with open(out / pool.SUMMARY_NAME, newline="") as f:
        header = next(csv.reader(f))
    assert header == ["student", "score", *PARTS_TABLE, "status", "seconds"]  # every part of the table


def test_scores_order_correct_above_buggy_above_failures(graded):
    summary = read_summary(graded[1])
    score = {s: float(row["score"]) for s, row in summary.items()}
    assert score["b_correct"] == pytest.approx(part_points("kl_loss"), abs=1e-3)
    assert score["b_correct"] > score["c_buggy"]
    assert score["a_hanging"] == score["d_broken"] == 0.0
    for row in summary.values():
        assert float(row["kl_loss"]) == pytest.approx(float(row["score"]), abs=0.006)
        assert row["sampler"] == row["slerp"] == ""  # not graded in this batch


def test_timeout_is_enforced_from_outside(graded):
    _, out, _, total = graded
    row = read_summary(out)["a_hanging"]
    assert TIMEOUT <= float(row["seconds"]) < TIMEOUT + 15
    data = json.loads(pool.results_path(out, "a_hanging").read_text())
    assert data["score"] == 0 and f"longer than {TIMEOUT:g} s" in data["output"]
    # The hanging student did not hold up the others: they ran in the other worker meanwhile.
    assert total < 2 * TIMEOUT + 60


def test_results_json_is_gradescope_format(graded):
    out = graded[1]
    correct = json.loads(pool.results_path(out, "b_correct").read_text())
    assert {"score", "execution_time", "output", "tests"} <= set(correct)
    assert all({"name", "score", "max_score", "status", "visibility"} <= set(t) for t in correct["tests"])
    assert {t["visibility"] for t in correct["tests"]} == {"visible", "after_published"}
    assert correct["extra_data"]["genimg"]["status"] == "ok"
    assert correct["extra_data"]["genimg"]["backend"] == BACKEND
    broken = json.loads(pool.results_path(out, "d_broken").read_text())
    assert broken["score"] == 0 and "could not be read" in broken["output"]
    assert (out / pool.LOG_NAME).exists()


def test_the_workers_record_survives_the_trip(graded):
    _, out, records, _ = graded
    summary = read_summary(out)
    for student, record in records.items():
        assert isinstance(record, GradeRecord) and list(record.parts) == PARTS
        row = summary[student]
        # The summary row is the record's part points, and results.json holds the record itself.
        assert {p: float(row[p]) for p in PARTS} == {p: round(r.points, 2) for p, r in record.parts.items()}
        assert float(row["score"]) == round(record.score, 2) and row["status"] == record.status
        data = json.loads(pool.results_path(out, student).read_text())
        assert data["extra_data"]["genimg"] == record.to_json()
        assert GradeRecord.from_json(data["extra_data"]["genimg"]).to_json() == record.to_json()
        assert data["score"] == pytest.approx(record.score, abs=1e-6)
    correct = records["b_correct"]
    assert correct.status == "ok" and correct.score == pytest.approx(part_points("kl_loss"))
    assert all(c.id.startswith("kl_loss.") and c.description for c in correct.checks())
    assert {c.hidden for c in correct.checks()} == {False, True}
    assert records["c_buggy"].status == "ok" and 0 < records["c_buggy"].score < correct.score
    assert "could not be read" in records["d_broken"].message
    assert f"longer than {TIMEOUT:g} s" in records["a_hanging"].message


def test_resume_skips_students_already_graded(graded):
    submissions, out, _, _ = graded
    before, summary_before = mtimes(out), read_summary(out)
    started = time.monotonic()
    records = pool.run_batch(submissions, out, workers=2, timeout=TIMEOUT, backend=BACKEND,
                             parts=PARTS, progress=False)
    assert time.monotonic() - started < 10  # no worker even started
    assert mtimes(out) == before
    assert read_summary(out) == summary_before and len(records) == 4


def test_force_regrades_and_summary_covers_every_result(graded, tmp_path, capsys):
    _, out, _, _ = graded
    # Two students resubmit: the broken notebook is now a correct .py file.
    write(tmp_path, "c_buggy.py", BUGGY)
    write(tmp_path, "d_broken.py", CORRECT)
    before = mtimes(out)
    code = cli.main(["batch", str(tmp_path), "--out", str(out), "--workers", "2", "--force",
                     "--parts", "kl_loss", "--timeout", str(TIMEOUT), "--backend", BACKEND,
                     "--no-progress"])
    assert code == 0
    assert "4 students" in capsys.readouterr().out
    after = mtimes(out)
    assert after["c_buggy"] != before["c_buggy"] and after["d_broken"] != before["d_broken"]
    assert after["a_hanging"] == before["a_hanging"] and after["b_correct"] == before["b_correct"]
    summary = read_summary(out)
    assert list(summary) == ["a_hanging", "b_correct", "c_buggy", "d_broken"]
    assert summary["d_broken"]["status"] == "ok"
    assert float(summary["d_broken"]["score"]) == pytest.approx(part_points("kl_loss"), abs=1e-3)
    assert summary["a_hanging"]["status"] == "timeout"


# --- no grading needed -----------------------------------------------------------


def test_find_submissions_ids_and_clashes(tmp_path):
    write(tmp_path, "alice.ipynb", "{}")
    write(tmp_path, "bob/a.py", "")
    write(tmp_path, "carol.py", "")
    write(tmp_path, "readme.md", "")
    write(tmp_path, "__pycache__/x.pyc", "")
    assert [s for s, _ in pool.find_submissions(tmp_path)] == ["alice", "bob", "carol"]
    write(tmp_path, "alice.py", "")
    with pytest.raises(pool.BatchError, match="alice"):
        pool.find_submissions(tmp_path)
    assert cli.main(["batch", str(tmp_path), "--out", str(tmp_path / "out")]) == 2


def test_retry_failed_and_results_without_a_grade_record_are_not_summarised(tmp_path):
    out = tmp_path / "out"
    pool.write_result(out, "timed", failed_record("timed.py", BACKEND, PARTS, "timeout", "too slow", 99.0))
    # Graded "ok": the first check of kl_loss's battery passed, the others failed.
    checks = failed_record("fine.py", BACKEND, PARTS, "ok", "").parts["kl_loss"].checks
    checks = [dataclasses.replace(checks[0], passed=True, points=checks[0].max_points, message=""), *checks[1:]]
    fine = GradeRecord("fine.py", BACKEND, {"kl_loss": PartResult("kl_loss", checks)}, seconds=5.0)
    points = round(checks[0].max_points, 2)
    pool.write_result(out, "fine", fine)
    # A results.json without the pool's grade record (say, downloaded from Gradescope) ...
    write(out, "plain/results.json", json.dumps({"score": 7.5, "execution_time": 12.0, "tests": [
        {"name": "kl_loss: a", "score": 5.0, "max_score": 5, "tags": ["kl_loss"]},
        {"name": "slerp: b", "score": 2.5, "max_score": 5, "tags": ["slerp"]}]}))
    # ... or with something else in its place (an older batch's record, a planted file).
    write(out, "other/results.json", json.dumps({"score": 24.0, "tests": [], "extra_data": {
        "genimg": {"status": "ok", "parts": {"kl_loss": 12.0, "slerp": 12.0}}}}))
    write(out, "corrupt/results.json", "{")
    assert not pool.needs_grading(out, "timed")
    assert pool.needs_grading(out, "timed", retry_failed=True)
    assert not pool.needs_grading(out, "fine", retry_failed=True)
    assert pool.needs_grading(out, "fine", force=True)
    assert pool.needs_grading(out, "corrupt") and pool.needs_grading(out, "nobody")
    # Scores are never re-derived from Gradescope's tests: these must be graded.
    assert pool.needs_grading(out, "plain") and pool.needs_grading(out, "other")
    records = pool.write_summary(out)
    assert list(records) == ["fine", "timed"]
    assert records["fine"].to_json() == fine.to_json()
    rows = read_summary(out)
    assert set(rows) == {"timed", "fine"}
    assert rows["timed"]["status"] == "timeout" and float(rows["timed"]["seconds"]) == 99.0
    assert float(rows["timed"]["score"]) == float(rows["timed"]["kl_loss"]) == 0.0
    expected = {"student": "fine", "score": points, **{part: "" for part in PARTS_TABLE},
                "kl_loss": points, "status": "ok", "seconds": 5.0}
    assert pool.summary_row("fine", fine) == expected
    assert rows["fine"] == {k: str(v) for k, v in expected.items()}


def test_default_timeout_is_computed_from_the_limits_used():
    assert pool.default_timeout() == Limits().submission_seconds()
    cpu = Limits(profile="cpu", deadline_seconds=(("cpu", 100.0), ("gpu", 900.0)))
    assert pool.default_timeout(cpu) == cpu.submission_seconds() < Limits().submission_seconds()
    assert pool.default_timeout({"start_seconds": 60.0}) == Limits(start_seconds=60.0).submission_seconds()
    assert pool.default_workers() == max(1, (os.cpu_count() or 2) // 2)
