"""Naming the misconception (genimg_kit.checks.diagnosis): a failed part whose numbers
match a catalogued mistake says so in one sentence, wherever its checks' verdicts are
shown (the notebook's self-check, the text report, Gradescope, Classroom), the class
report counts it, and it never costs or gives points. Which mutant is named as which
mistake is asserted for the whole catalogue in tests/test_check_battery.py."""

import dataclasses
import json

import pytest

from autograder import writers
from autograder.grade import grade
from autograder.record import GradeRecord
from autograder.report import class_data, class_report
from genimg_kit.checks import diagnosis, self_check
from genimg_kit.checks.battery import run_part
from genimg_kit.checks.subject import LocalSubject
from tests._submissions import CORRECT, write
from tests.synthetic_records import record

AVERAGED = CORRECT.replace("ops.sum(", "ops.mean(")
LABEL = "KL averaged over the latent dimensions"


def namespace_of(source):
    namespace = {"__name__": "submission"}
    exec(compile(source, "<submission>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return grade(write(tmp_path_factory.mktemp("diagnosis"), "averaged.py", AVERAGED), parts=["kl_loss"])


def test_a_graded_mistake_is_named_once_in_every_output(graded):
    failed = [c for c in graded.parts["kl_loss"].checks if not c.passed]
    assert failed and failed[0].misconception == LABEL
    assert "averaged over the latent dimensions" in failed[0].diagnosis
    assert not any(c.diagnosis for c in failed[1:])
    line = f"diagnosis: {failed[0].diagnosis}"
    assert writers.text_report(graded).count(line) == 1
    assert line in writers.gradescope(graded)["tests"][graded.parts["kl_loss"].checks.index(failed[0])]["output"]
    assert line in json.dumps(writers.classroom(graded))
    again = GradeRecord.from_json(json.loads(json.dumps(graded.to_json())))
    assert [c.misconception for c in again.checks()] == [c.misconception for c in graded.checks()]


def test_the_self_check_names_it_where_the_student_can_act(capsys):
    self_check("kl_loss", namespace_of(AVERAGED))
    assert "diagnosis: your values match the KL averaged over the latent dimensions" in capsys.readouterr().out


def test_a_diagnosis_costs_and_gives_nothing(monkeypatch):
    with_it = run_part("kl_loss", LocalSubject(namespace_of(AVERAGED)))
    monkeypatch.setattr("genimg_kit.checks.runner.diagnose", lambda part, subject: None)
    without = run_part("kl_loss", LocalSubject(namespace_of(AVERAGED)))
    assert with_it.points == without.points < with_it.max_points
    assert [c.passed for c in with_it.checks] == [c.passed for c in without.checks]


def test_a_diagnosis_that_fails_is_no_diagnosis():
    # Right on every check's inputs, raising on the diagnostic ones only (three latent dimensions, two examples).
    source = CORRECT.replace("    return -0.5", "    if tuple(z_mean.shape) == (2, 3):\n        raise ValueError('no')\n"
                             "    return 0.5 * ops.sum(z_mean) + -0.5")
    result = run_part("kl_loss", LocalSubject(namespace_of(source)))
    assert result.points < result.max_points and not any(c.diagnosis for c in result.checks)
    assert diagnosis.diagnose("vae_convergence", LocalSubject({})) is None  # no catalogue: nothing to name


def test_the_class_report_counts_each_misconception(tmp_path):
    def with_misconception(student, label):
        r = record(student, "buggy", bug_part="kl_loss")
        checks = r.parts["kl_loss"].checks
        checks = [dataclasses.replace(checks[0], misconception=label, diagnosis=f"a sentence about {student}")] + checks[1:]
        return dataclasses.replace(r, parts={**r.parts, "kl_loss": dataclasses.replace(r.parts["kl_loss"], checks=checks)})

    records = {"a": with_misconception("a", LABEL), "b": with_misconception("b", LABEL),
               "c": with_misconception("c", "KL with its sign flipped"), "d": record("d", "correct"),
               "e": dataclasses.replace(with_misconception("e", LABEL), status="environment", message="oom")}
    counts = class_report.misconception_counts(records)
    assert [(m.part, m.label, m.students) for m in counts] == [
        ("kl_loss", LABEL, 2), ("kl_loss", "KL with its sign flipped", 1)]  # e is not a grade
    graded_class = class_data.GradedClass(tmp_path, "batch", records, {}, {})
    page = tmp_path / "class.html"
    class_report.write_report(graded_class, page)
    text = page.read_text()
    assert f'<tr><td class="num">2</td><td>kl_loss</td><td>{LABEL}</td></tr>' in text
