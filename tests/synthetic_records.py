"""Grade records for a class without grading it, and the folders the report reads.

    records = class_records(students)             # {student: GradeRecord}
    write_batch(outdir, records)                  # as `genimg-grade batch` leaves it
    write_reconcile(course, "ch17", records, tampered={"s18"})   # as `genimg-grade reconcile` leaves it

A record is built on the grader's own template (`grade.failed_record`: every
check of the battery, with its id, points, description and hint) and then
told which checks passed. A failed check's message carries numbers that
differ from student to student, as real messages do ("returned -0.731"),
and counterexamples drawn from a few, so the report's grouping has
something to group. The folders are written by the grader's own writers
(`pool.write_result`, `pool.write_summary`, `results.write_csv`).
"""

import dataclasses
import functools
import random

from autograder.batch import pool
from autograder.course import reconcile as course, results
from autograder.grade import failed_record
from genimg_kit.parts import PARTS

COUNTEREXAMPLES = ["z_mean=[[0.0]], z_log_var=[[1.0]]", "z_mean=[[0.5, 0.0]], z_log_var=[[0.0, 0.0]]",
                   "t=0.5, v1=[1.0, 0.0], v2=[0.0, 1.0]"]
NOTEBOOK = "ch17_image_generation"


def _passed(check):
    return dataclasses.replace(check, passed=True, points=check.max_points, message="", counterexample="")


def _failed(check, rng):
    got, want = rng.uniform(-2, 0), rng.uniform(0, 2)
    return dataclasses.replace(check, passed=False, points=0.0,
                               message=f"{check.part} returned {got:.3f} where {want:.3f} was expected",
                               counterexample=rng.choice(COUNTEREXAMPLES))


@functools.lru_cache
def _template():
    """Every check of the battery, failed: what a record of a graded student is made from."""
    return failed_record("", "tensorflow", None, "ok", "")


def record(student, kind, bug_part=None, seed=0):
    """The GradeRecord of one student of `kind`: correct (every check passed), buggy
    (every check of `bug_part` failed), broken, timeout or environment."""
    rng = random.Random(f"{student}-{seed}")
    path = f"submissions/{student}.ipynb"
    if kind == "broken":
        return failed_record(path, "tensorflow", None, "error",
                             f"the submission could not be read: {student}.ipynb is not a readable notebook")
    if kind == "timeout":
        return failed_record(path, "tensorflow", None, "timeout",
                             "grading took longer than 300 s and was stopped", seconds=300.0)
    template = dataclasses.replace(_template(), submission=path)
    parts = {part: dataclasses.replace(result, checks=[
                 _failed(c, rng) if part == bug_part else _passed(c) for c in result.checks])
             for part, result in template.parts.items()}
    result = dataclasses.replace(template, parts=parts, profile="cpu", seconds=rng.uniform(14, 22))
    if kind == "environment":  # the container's OOM killer took the sandbox in the last part
        message = "the grading machine ran out of memory (its container's OOM killer); not the submission's fault"
        last = list(PARTS)[-1]
        parts[last] = dataclasses.replace(parts[last], checks=[
            dataclasses.replace(c, passed=False, points=0.0, message=message) for c in parts[last].checks])
        result = dataclasses.replace(result, status="environment", message=message)
    return result


def class_records(students):
    """{name: GradeRecord} for tests/synthetic_class.py's students: a student whose
    code holds a mutant fails every check of that part."""
    return {s.name: record(s.name, "broken") if s.kind == "broken"
            else record(s.name, "buggy", bug_part=s.bug_part) if s.bug_part
            else record(s.name, "correct") for s in students}


def write_batch(outdir, records):
    """OUTDIR/students/<student>/results.json and OUTDIR/summary.csv, as the batch pool writes them."""
    for student, r in records.items():
        pool.write_result(outdir, student, r)
    pool.write_summary(outdir)
    return outdir


def reconcile_rows(records, tampered=()):
    """The rows reconcile writes for these records: one per student and part, the
    in-kernel score equal to the isolated one except for the `tampered` students,
    whose notebook changed after autograde (reconcile's own tamper note)."""
    rows = []
    for student, r in records.items():
        note = ("the submitted notebook changed after nbgrader autograded it (cell 9 differs from the "
                "autograded copy): suspected tampering; the lower of the two copies' isolated scores counts"
                if student in tampered else None)
        for part in r.parts:
            cell = course.CheckCell(NOTEBOOK, part, f"{course.CHECK_PREFIX}{part}", PARTS[part].points, part)
            in_kernel = r.parts[part].points
            score, flagged, reason = course.decide(cell, in_kernel, r, note)
            rows.append(results.Row(student, part, in_kernel, score, flagged, reason, NOTEBOOK, cell.cell,
                                   cell.max_score, r.status))
    return rows


def write_reconcile(root, assignment, records, tampered=()):
    """ROOT/reconcile/ASSIGNMENT/<notebook>/... and ROOT/reconcile/ASSIGNMENT.csv; returns the folder."""
    folder = root / "reconcile" / assignment
    write_batch(folder / NOTEBOOK, records)
    results.write_csv(reconcile_rows(records, tampered), root / "reconcile" / f"{assignment}.csv")
    return folder
