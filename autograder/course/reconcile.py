"""nbgrader's in-kernel scores, replaced by the isolated grader's (the library behind
`genimg-grade reconcile`).

    rows, csv_path, unregistered = reconcile("course/", "ch17")

nbgrader runs a notebook's test cells in the same kernel as the student's
code, so the student's own cells can patch whatever those cells call (the
check library, `__import__`, numpy's comparisons, ...) and raise their
nbgrader score. Run after `nbgrader autograde`, `reconcile` re-grades every
submitted notebook with the isolated grader (`autograder.grade.grade`
through `autograder.batch.pool.run_batch`: the student's definitions run in a
sandboxed child process, the verdicts are computed in the grader) and
writes, through nbgrader's own API, the isolated score of each part as the
manual score of its `check_<part>` grade cell. nbgrader counts a manual
score before the auto score, so `nbgrader generate_feedback` and `nbgrader
export` then show the isolated scores.

What it reads and writes:

- reads the gradebook (`c.CourseDirectory.db_url`, by default
  COURSE_DIR/gradebook.db) for the assignment's notebooks, their
  `check_<part>` cells and the students nbgrader autograded; the student's
  notebook `submitted/<student>/<ASSIGNMENT>/<notebook>.ipynb` (the student's
  own file, as collected); and nbgrader's autograded copy of it, only to
  compare the two (see below). It reads no result or cache file: every run
  re-grades from scratch in a fresh temporary folder, and scores come from
  the grade records the pool returns.
- writes per check cell: `manual_score` = isolated points x (cell points /
  part points); `needs_manual_grade` = False; and, on the solution cell whose
  grade_id is the part (when there is one), a comment when there is something
  to say (a disagreement, a notebook that could not be graded). A reviewer's
  own comment text is kept: reconcile only replaces the paragraph that starts
  with its marker.
- writes a CSV (default COURSE_DIR/reconcile/<ASSIGNMENT>.csv), one row per
  student and part: student, part, in_kernel (nbgrader's auto_score),
  isolated, flagged, reason, then notebook, cell, max_score, status; and the
  isolated grader's full report per student (results.json: Gradescope's
  format, every check's message, and the grade record) in
  COURSE_DIR/reconcile/<ASSIGNMENT>/<notebook>/students/<student>/ (and
  autograded-copy/<notebook>/students/<student>/ for a notebook re-graded
  from nbgrader's copy; each <notebook>/ is a batch OUT, see
  autograder.batch.pool).

Flags: a cell is flagged when nbgrader's in-kernel score differs from the
isolated score by more than 0.01 points, or when the submitted notebook no
longer matches the copy nbgrader autograded (its code was changed during or
after autograde; then the lower of the two copies' isolated scores counts).
A notebook that is missing or unreadable scores 0 with the reason; one that
hangs, crashes or eats memory loses only its own points (the grader's per-part
limits, plus a wall limit per student and notebook as a whole).
"""

import dataclasses
import glob
import os
import pathlib
import re
import shutil
import tempfile

import nbformat

from autograder.batch import pool
from autograder.course.results import Row, write_csv
from autograder.grade import default_backend, failed_record, unreadable_record
from autograder.limits import Limits
from autograder.submission_files import UnreadableSubmission, submission_files
from genimg_kit.checks.subject import LocalSubject
from genimg_kit.parts import PARTS, format_points, part_points

CHECK_PREFIX = "check_"
TOLERANCE = 0.01  # points: beyond this the in-kernel and isolated scores disagree
MARKER = "[genimg-grade reconcile]"
COPIES = "autograded-copy"  # reports on nbgrader's copies of notebooks that changed after autograde


class ReconcileError(Exception):
    """Reconcile cannot run at all (no gradebook, no such assignment, no check cells)."""


def default_limits():
    """The re-grade's limits: the notebook's check cells train with the self-checks'
    convergence budget (LocalSubject.profile), and so must the re-grade they are compared with."""
    return Limits(profile=LocalSubject.profile)


@dataclasses.dataclass
class CheckCell:
    notebook: str
    part: str
    cell: str  # the grade cell's grade_id: check_<part>
    max_score: float
    comment_cell: str | None  # the solution cell named after the part, when there is one


# --- the course ------------------------------------------------------------------


def load_course(course_dir, db_url=None):
    """nbgrader's CourseDirectory for COURSE_DIR, configured by its nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = pathlib.Path(course_dir).resolve()
    if not root.is_dir():
        raise ReconcileError(f"{course_dir} is not a folder")
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)  # the folder given on the command line wins over the config's root
    if db_url:
        coursedir.db_url = db_url
    return coursedir


def _gradebook(coursedir):
    from nbgrader.api import Gradebook

    url = coursedir.db_url
    if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
        raise ReconcileError(f"no gradebook at {url[len('sqlite:///'):]}: run nbgrader generate_assignment "
                             "and nbgrader autograde first")
    return Gradebook(url, coursedir.course_id or "default_course")


def plan(coursedir, assignment):
    """([CheckCell], [student id]) of the assignment, from the gradebook."""
    from nbgrader.api import MissingEntry

    with _gradebook(coursedir) as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            raise ReconcileError(f"no assignment {assignment!r} in the gradebook {coursedir.db_url}") from None
        cells = []
        for notebook in found.notebooks:
            solution_names = {cell.name for cell in notebook.solution_cells}
            for grade_cell in notebook.grade_cells:
                part = grade_cell.name[len(CHECK_PREFIX):]
                if grade_cell.name.startswith(CHECK_PREFIX) and part in PARTS:
                    cells.append(CheckCell(notebook.name, part, grade_cell.name, float(grade_cell.max_score),
                                           part if part in solution_names else None))
        if not cells:
            raise ReconcileError(f"assignment {assignment!r} has no grade cell named check_<part> "
                                 f"(parts: {', '.join(PARTS)})")
        students = sorted(submission.student.id for submission in found.submissions)
    order = {part: i for i, part in enumerate(PARTS)}
    cells.sort(key=lambda c: (c.notebook, order[c.part]))
    return cells, students


def unregistered_students(coursedir, assignment, students):
    """Students with a submitted folder but no submission in the gradebook (not autograded)."""
    pattern = re.compile(coursedir.format_path(
        coursedir.submitted_directory, "(?P<student_id>[^/]+)", re.escape(assignment), escape=True) + "$")
    found = set()
    for folder in glob.glob(coursedir.format_path(coursedir.submitted_directory, "*", assignment)):
        match = pattern.match(folder)
        if match and os.path.isdir(folder):
            found.add(match.group("student_id"))
    return sorted(found - set(students))


def notebook_path(coursedir, step, student, assignment, notebook):
    return pathlib.Path(coursedir.format_path(step, student, assignment)) / f"{notebook}.ipynb"


def changed_since_autograde(submitted, autograded):
    """Why the submitted notebook no longer matches nbgrader's autograded copy, or None.

    nbgrader copies the submitted notebook, restores its locked cells from the
    source and runs it; every other cell keeps the student's source. A
    difference there means the submitted file changed after nbgrader read it.
    """
    try:
        ours, theirs = (nbformat.reads(_notebook_bytes(path).decode("utf-8"), as_version=4).cells
                        for path in (submitted, autograded))
    except Exception:  # an unreadable file: graded (or zeroed) on its own terms
        return None
    if len(ours) != len(theirs):
        return f"it has {len(ours)} cells, the autograded copy {len(theirs)}"
    for index, (mine, copy) in enumerate(zip(ours, theirs)):
        if copy.get("metadata", {}).get("nbgrader", {}).get("locked"):
            continue
        if mine.get("cell_type") != copy.get("cell_type") or mine.get("source") != copy.get("source"):
            return f"cell {index + 1} differs from the autograded copy"
    return None


# --- grading ------------------------------------------------------------------------


def _grade_files(files, parts, staged, out, *, workers, timeout, backend, limits, progress):
    """Grades {student: notebook path} with the pool into `out`; returns {student: GradeRecord}."""
    staged.mkdir(parents=True)
    unreadable = {}
    for student, path in files.items():
        # A copy, taken now: what is graded cannot change while it is graded. Read as
        # the grader reads a submission (no link followed, regular files only, bounded).
        try:
            (staged / f"{student}.ipynb").write_bytes(_notebook_bytes(path, limits))
        except UnreadableSubmission as error:
            unreadable[student] = unreadable_record(path, backend, parts, error)
    records = pool.run_batch(staged, out, workers=workers, timeout=timeout, backend=backend, parts=parts,
                             limits=limits, force=True, progress=progress)
    return {student: unreadable.get(student) or records.get(student) or failed_record(
                staged / f"{student}.ipynb", backend, parts, "error", "the isolated grader wrote no result")
            for student in files}


def _notebook_bytes(path, limits=None):
    """The bytes of a notebook, read as the grader reads a submission (raises UnreadableSubmission)."""
    [(_, data)], _ = submission_files(path, limits)
    return data


def _lower(first, second):
    """`first`, each part's result replaced by `second`'s where that scored less."""
    parts = {part: min((result, second.parts.get(part, result)), key=lambda r: r.points)
             for part, result in first.parts.items()}
    return dataclasses.replace(first, parts=parts)


def grade_course(coursedir, assignment, cells, students, *, workers=1, timeout=None,
                 backend=None, limits=None, progress=True, details=None):
    """{(student, notebook): (GradeRecord, tamper note or None)} for every student and notebook.

    `timeout`: wall seconds per student and notebook, None for what a grade
    may take under `limits` (default_limits() when None).
    """
    backend = backend or default_backend()
    limits = default_limits() if limits is None else limits
    results = {}
    with tempfile.TemporaryDirectory(prefix="genimg-reconcile-") as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "report").mkdir()
        options = dict(workers=workers, timeout=timeout, backend=backend, limits=limits, progress=progress)
        for notebook in sorted({c.notebook for c in cells}):
            parts = [c.part for c in cells if c.notebook == notebook]
            files, rechecks = {}, {}
            for student in students:
                path = notebook_path(coursedir, coursedir.submitted_directory, student, assignment, notebook)
                if not path.is_file():
                    results[student, notebook] = (failed_record(
                        path, backend, parts, "missing", f"no {notebook}.ipynb was submitted"), None)
                    continue
                files[student] = path
                copy = notebook_path(coursedir, coursedir.autograded_directory, student, assignment, notebook)
                if copy.is_file():
                    note = changed_since_autograde(path, copy)
                    if note:
                        rechecks[student] = (copy, note)
            if files:
                graded = _grade_files(files, parts, tmp / "staged" / notebook, tmp / "report" / notebook,
                                      **options)
                for student, record in graded.items():
                    results[student, notebook] = (record, None)
            if rechecks:
                graded = _grade_files({s: copy for s, (copy, _) in rechecks.items()}, parts,
                                      tmp / "staged" / COPIES / notebook, tmp / "report" / COPIES / notebook,
                                      **options)
                for student, (_, note) in rechecks.items():
                    first = results[student, notebook][0]
                    results[student, notebook] = (
                        _lower(first, graded[student]),
                        f"the submitted notebook changed after nbgrader autograded it ({note}): suspected "
                        "tampering; the lower of the two copies' isolated scores counts")
        if details is not None:
            _replace_tree(tmp / "report", details)
    return results


def _replace_tree(tmp, details):
    """Moves the per-student reports into `details`, replacing whatever was there."""
    details = pathlib.Path(details)
    if details.is_symlink() or details.is_file():
        details.unlink()
    elif details.exists():
        shutil.rmtree(details)
    details.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tmp, details)


# --- the gradebook --------------------------------------------------------------------


def _comment(previous, paragraph):
    """A reviewer's text kept, reconcile's paragraph (after MARKER) replaced or removed."""
    kept = (previous or "").split(MARKER)[0].rstrip()
    text = "\n\n".join(t for t in (kept, f"{MARKER} {paragraph}" if paragraph else "") if t)
    return text or None


def decide(cell, in_kernel, record, tamper_note=None):
    """(score, flagged, reason) for one check cell, from the notebook's GradeRecord."""
    points = record.parts[cell.part].points if cell.part in record.parts else 0.0
    score = points * cell.max_score / part_points(cell.part)
    reasons, flagged = [], False
    if in_kernel is not None and abs(in_kernel - score) > TOLERANCE:
        flagged = True
        reasons.append(f"in-kernel score {format_points(in_kernel)} disagreed with the isolated re-grade "
                       f"{format_points(score)}: "
                       "suspected tampering or non-determinism; the isolated score counts")
    if tamper_note:
        flagged = True
        reasons.append(tamper_note)
    detected = [n.text for n in record.notes if n.kind == "tampered"
                and n.text.startswith((f"{cell.part}:", "while loading:"))]
    if detected:  # the isolated grade voided the part already: flagged for the staff to see
        flagged = True
        reasons.append("tampering detected in the isolated grade: " + "; ".join(detected))
    if record.status != "ok":
        reasons.append(record.message or f"the isolated grader's status was {record.status}")
    if record.status == "environment":  # not a valid grade: the grading machine failed
        flagged = True
    if in_kernel is None:
        reasons.append("nbgrader gave this cell no score (autograde could not run the notebook)")
    return score, flagged, "; ".join(reasons)


def write_gradebook(coursedir, assignment, cells, results):
    """Sets every check cell's manual score (and comment); returns the rows, in order."""
    from nbgrader.api import MissingEntry

    rows = []
    with _gradebook(coursedir) as gb:
        for (student, notebook), (record, tamper_note) in sorted(results.items(), key=lambda item: item[0]):
            for cell in (c for c in cells if c.notebook == notebook):
                try:
                    grade = gb.find_grade(cell.cell, notebook, assignment, student)
                except MissingEntry:  # a cell added to the source after this submission was autograded
                    rows.append(Row(student, cell.part, None, 0.0, True,
                                    "no grade for this cell in the gradebook: run nbgrader autograde "
                                    "for this student, then reconcile again", notebook, cell.cell,
                                    cell.max_score, "error"))
                    continue
                in_kernel = grade.auto_score
                score, flagged, reason = decide(cell, in_kernel, record, tamper_note)
                grade.manual_score = score
                grade.needs_manual_grade = False
                if cell.comment_cell is not None:
                    try:
                        comment = gb.find_comment(cell.comment_cell, notebook, assignment, student)
                    except MissingEntry:
                        pass
                    else:
                        say = reason if (flagged or record.status != "ok") else ""
                        if say:
                            say = f"{cell.cell}: {format_points(score)}/{format_points(cell.max_score)} points. {say}."
                        comment.manual_comment = _comment(comment.manual_comment, say)
                rows.append(Row(student, cell.part, in_kernel, score, flagged, reason, notebook,
                                cell.cell, cell.max_score, record.status))
        gb.db.commit()
    return rows


def reconcile(course_dir, assignment, out=None, *, workers=1, timeout=None, backend=None,
              limits=None, db_url=None, details=None, progress=True):
    """Re-grades the assignment in isolation and writes the scores to nbgrader's gradebook.

    Returns (rows of the CSV, one per student and check cell; the CSV's path;
    students with a submitted folder whom nbgrader never autograded).
    `limits`: an autograder.limits.Limits (default_limits() when None);
    `timeout`: the wall limit per student and notebook, None for what a
    grade may take under `limits`. Raises ReconcileError when it
    cannot run at all.
    """
    coursedir = load_course(course_dir, db_url)
    root = pathlib.Path(coursedir.root)
    out = pathlib.Path(out) if out else root / "reconcile" / f"{assignment}.csv"
    details = pathlib.Path(details) if details else root / "reconcile" / assignment
    cells, students = plan(coursedir, assignment)
    results = grade_course(coursedir, assignment, cells, students, workers=workers, timeout=timeout,
                           backend=backend, limits=limits, progress=progress, details=details)
    rows = write_gradebook(coursedir, assignment, cells, results)
    write_csv(rows, out)
    return rows, out, unregistered_students(coursedir, assignment, students)
