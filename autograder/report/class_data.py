"""A graded class, read back: the grade records of a batch or of a reconcile, and where the code is.

    graded = load_class("grades/")                  # genimg-grade batch DIR --out grades/
    graded = load_class("course/reconcile/ch17")    # genimg-grade reconcile course ch17

Two layouts are read:

- a batch's OUTDIR: `OUTDIR/students/<student>/results.json` (each holding
  its grade record, `extra_data.genimg`) and `OUTDIR/summary.csv` (an
  OUTDIR of an older release, `OUTDIR/<student>/results.json`, too:
  `pool.recorded`);
- a reconcile's details folder, `COURSE/reconcile/<ASSIGNMENT>/`: one batch
  OUTDIR per notebook (`<notebook>/students/<student>/results.json`; nbgrader's
  re-graded copies under `autograded-copy/` are not read: the records in
  `<notebook>/` already hold the lower of the two scores, as reconcile
  counts them), and next to the folder reconcile's CSV,
  `COURSE/reconcile/<ASSIGNMENT>.csv`, whose flagged rows are the tampering
  and disagreement flags.

Scores are only ever read from grade records (`autograder.batch.pool.read_record`),
never from summary.csv or Gradescope's test names. Where each student's code
is, for the similarity check: `submissions` (a folder of one submission per
student, as `genimg-grade batch` reads it) when given; otherwise, for a
batch, the path the record names (the folder the batch graded, when it
still exists), and for a reconcile, the student's notebook in the course's
`submitted/` folder.
"""

import dataclasses
import pathlib

from autograder.batch import pool
from autograder.course import reconcile as course, results as reconcile_results


class ClassError(Exception):
    """The folder holds no graded class (missing, not a batch or reconcile output, no records)."""


@dataclasses.dataclass
class GradedClass:
    folder: pathlib.Path
    kind: str  # "batch" or "reconcile"
    records: dict  # student -> GradeRecord, sorted by student
    flags: dict  # student -> [reason]: reconcile's flagged rows ({} for a batch)
    submissions: dict  # student -> path of the code that was graded, where it was found


def _notebook_folders(folder):
    return sorted(d for d in folder.iterdir()
                  if d.is_dir() and d.name != course.COPIES and (d / pool.SUMMARY_NAME).exists())


def _key(student, notebook, notebooks):
    return student if len(notebooks) == 1 else f"{student}/{notebook}"


def _reconcile_flags(csv_path, notebooks):
    """{student key: [reason (the check cells it was given for)]} from reconcile's flagged rows."""
    cells = {}  # student key -> reason -> [cell]
    if not csv_path.is_file():
        return {}
    try:
        rows = reconcile_results.read_csv(csv_path)
    except (KeyError, ValueError, TypeError) as error:
        raise ClassError(f"{csv_path} is not a CSV of genimg-grade reconcile: {error!r}") from None
    for row in rows:
        if row.flagged and row.notebook in notebooks:
            cells.setdefault(_key(row.student, row.notebook, notebooks), {}).setdefault(row.reason, []).append(row.cell)
    return {key: [f"{reason} ({', '.join(flagged)})" for reason, flagged in reasons.items()]
            for key, reasons in cells.items()}


def _course_notebooks(folder, keys):
    """{student key: its submitted notebook} for a reconcile folder COURSE/reconcile/ASSIGNMENT."""
    root, assignment = folder.parent.parent, folder.name
    try:
        coursedir = course.load_course(root)
    except course.ReconcileError:
        return {}
    found = {}
    for key, (student, notebook) in keys.items():
        path = course.notebook_path(coursedir, coursedir.submitted_directory, student, assignment, notebook)
        if path.is_file():
            found[key] = path
    return found


def load_class(folder, submissions=None):
    """The GradedClass in `folder` (a batch OUTDIR or a reconcile folder); raises ClassError."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ClassError(f"{folder} is not a folder (give a batch's OUTDIR or COURSE/reconcile/ASSIGNMENT)")
    records = pool.recorded(folder)
    if records or (folder / pool.SUMMARY_NAME).exists():
        kind, flags = "batch", {}
        paths = {s: pathlib.Path(r.submission) for s, r in records.items() if pathlib.Path(r.submission).exists()}
    else:
        notebooks = [d.name for d in _notebook_folders(folder)]
        if not notebooks:
            raise ClassError(f"{folder} holds neither results of `genimg-grade batch` "
                             f"({pool.STUDENTS_NAME}/<student>/{pool.RESULTS_NAME}, {pool.SUMMARY_NAME}) nor of `genimg-grade reconcile` "
                             f"(<notebook>/{pool.SUMMARY_NAME})")
        kind, keys = "reconcile", {}
        for notebook in notebooks:
            for student, record in pool.recorded(folder / notebook).items():
                key = _key(student, notebook, notebooks)
                records[key], keys[key] = record, (student, notebook)
        flags = _reconcile_flags(folder.parent / f"{folder.name}.csv", notebooks)
        paths = _course_notebooks(folder, keys)
    if not records:
        raise ClassError(f"no grade records in {folder}: grade the class first (genimg-grade batch or reconcile)")
    for student, record in records.items():  # the sandbox's own finding, whichever way the class was graded
        tampered = [f"tampering detected: {n.text}" for n in record.notes if n.kind == "tampered"]
        if tampered:
            flags = {**flags, student: [*flags.get(student, []), *tampered]}
    if submissions is not None:
        try:
            paths = {s: p for s, p in pool.find_submissions(submissions) if s in records}
        except pool.BatchError as error:
            raise ClassError(str(error)) from None
    return GradedClass(folder, kind, dict(sorted(records.items())), flags, paths)
