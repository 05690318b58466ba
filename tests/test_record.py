"""The grade record: one typed result that every consumer passes, exact through JSON."""

import dataclasses
import json

import keras
import pytest

from autograder.grade import failed_record
from autograder.hidden import HIDDEN
from autograder.record import GradeRecord, Note
from autograder import writers
from genimg_kit.checks.battery import run_part
from genimg_kit.checks.results import PartResult
from genimg_kit.checks.subject import LocalSubject
from genimg_kit.parts import PARTS, part_points
from tests.mutants import MUTANTS, reference_source


def graded_record():
    """A record with passed and failed checks, counterexamples and every kind of note."""
    mutant = next(m for m in MUTANTS if m.part == "kl_loss")
    keras.utils.set_random_seed(0)
    namespace = {"__name__": "submission"}
    exec(compile(mutant.source(), "<submission>", "exec"), namespace)
    slerp = {"__name__": "submission"}
    exec(compile(reference_source("text_to_image.py"), "<submission>", "exec"), slerp)
    parts = {"kl_loss": run_part("kl_loss", LocalSubject(namespace), HIDDEN),
             "slerp": run_part("slerp", LocalSubject(slerp), HIDDEN)}
    notes = [Note("skipped", "cell 3, line 1: not run (vae.fit(x))"),
             Note("load_error", "cell 4, line 2: NameError: name 'x' is not defined"),
             Note("printed", "hello\nworld")]
    return GradeRecord("alice.ipynb", "tensorflow", parts, profile="cpu", notes=notes, seconds=12.5,
                       timings={"read": 0.01, "kl_loss": 3.2})


def test_record_round_trips_through_json_exactly():
    record = graded_record()
    assert record.parts["kl_loss"].points < part_points("kl_loss")  # a failed check to carry
    assert any(c.counterexample for c in record.parts["kl_loss"].checks)
    again = GradeRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert again == record
    assert again.score == record.score and again.max_score == record.max_score
    assert writers.gradescope(again) == writers.gradescope(record)


def test_failed_record_round_trips_and_fails_every_check():
    record = failed_record("bob.py", "jax", None, "timeout", "grading took longer than 10 s")
    assert list(record.parts) == list(PARTS)
    assert record.score == 0 and record.max_score == pytest.approx(100.0)
    assert all(not c.passed and c.message == record.message for c in record.checks())
    assert GradeRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_unknown_status_or_note_kind_is_refused():
    with pytest.raises(ValueError, match="status"):
        GradeRecord("x.py", "jax", {}, status="fine")
    with pytest.raises(ValueError, match="kind"):
        Note("warning", "x")


def test_text_report_tells_skipped_statements_from_other_notes_by_kind():
    text = writers.text_report(graded_record())
    assert "1 top-level statements were not run" in text
    assert "vae.fit" not in text  # counted, not listed
    assert "NameError: name 'x' is not defined" in text
    assert "characters):\n  | hello\n  | world\n" in text  # what it printed, each line behind "  | "


def test_a_convergence_part_that_fails_with_a_losing_piece_says_so():
    from genimg_kit.checks.battery import failed_part

    record = failed_record("carol.py", "jax", ["kl_loss", "slerp", "vae_convergence"], "ok", "wrong")
    text = writers.text_report(record)
    assert "(vae_convergence trains Sampler, kl_loss together; kl_loss also lost points in its own part" in text
    passed = [dataclasses.replace(c, passed=True, points=c.max_points)
              for c in failed_part("kl_loss", "x", HIDDEN).checks]
    record.parts["kl_loss"] = PartResult("kl_loss", passed)  # kl_loss right: nothing to point at
    assert "also lost points" not in writers.text_report(record)
