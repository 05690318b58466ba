"""PrairieLearn's external grader: a record as its `results.json`, and the job that writes it.

PrairieLearn (docs/externalGrading.md in PrairieLearn/PrairieLearn) runs a
question's grading image with the job under `/grade`: the student's files in
`/grade/student`, and the entrypoint must leave `/grade/results/results.json`
(at most 1 MB) and exit 0, or the results are thrown away. Its `score` is a
fraction in [0, 1]; its `tests` (`name`, `points`, `max_points`, `message`,
`output`) are rendered for the student, with per-test points shown only
when every test has both. `gradable: false` means "could not be graded":
no points given or lost, no attempt counted.

Everything in the file is shown to the student, so it holds what Gradescope
shows before grades are published (`writers.public_view`): one test per
part, its points counting the hidden checks as the record does, its message
and output from the public checks alone. A submission that does not even
load is gradable (its parts score 0: the student's doing); a grade the
grading machine spoilt (record status "environment"), or a grader that
could not run, is not.
"""

import pathlib

from genimg_kit.checks.report import format_part
from genimg_kit.parts import format_points

from autograder.grade import GraderError, grade
from autograder.writers import public_view, text_report, write_json

STUDENT = "student"  # the job's folder of the student's files
RESULTS = pathlib.PurePath("results", "results.json")
NOT_YOUR_FAULT = "this is not your fault and costs no attempt: please submit again, or tell the course staff"


def test(result, public):
    """One part as a test: its points (hidden checks' included), its public checks' text."""
    failed = sum(not c.passed for c in public.checks)
    lost_hidden = any(not c.passed for c in result.checks if c.hidden)
    if failed or lost_hidden:
        message = (f"{failed} public check{'s' * (failed != 1)} failed"
                   + ("; checks run only at grading lost points too" if lost_hidden else ""))
    else:
        message = "every check passed"
    return {"name": result.part, "points": result.points, "max_points": result.max_points,
            "message": message, "output": format_part(public)}


def not_gradable(message, output=""):
    """The results of a job that produced no grade, and why."""
    return {"gradable": False, "message": message, "output": output}


def results(record):
    """PrairieLearn's results.json for `record`."""
    public = public_view(record)
    output = text_report(public, show_passed=False, total=False)
    if record.status == "environment":
        return not_gradable(f"the grading machine failed ({record.message}); {NOT_YOUR_FAULT}", output)
    return {
        "gradable": True,
        "score": record.score / record.max_score,
        "message": f"{format_points(record.score)}/{format_points(record.max_score)} points",
        "output": output,
        "tests": [test(result, public.parts[part]) for part, result in record.parts.items()],
    }


def grade_job(job, **options):
    """Grades JOB/student into JOB/results/results.json (rewritten as each part ends);
    returns the record, or None when the grader could not run (the results say so).

    `options` go to `autograder.grade.grade` (backend, parts, limits, deadline).
    """
    path = pathlib.Path(job) / RESULTS

    def write(record):
        write_json(results(record), path)

    try:
        record = grade(pathlib.Path(job) / STUDENT, on_part=write, **options)
    except GraderError as error:
        write_json(not_gradable(f"the grader could not run ({error}); {NOT_YOUR_FAULT}"), path)
        return None
    write(record)
    return record
