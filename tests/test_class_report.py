"""`genimg-grade report`: the class page, read back from a batch and a reconcile, in a real browser.

The class is tests/synthetic_class.py's (correct, independent, buggy, copied,
broken, tampered), its records built directly (tests/synthetic_records.py)
(bench/class_report.py grades a class for real). The page is opened in Debian's
headless chromium (`.ci/run` installs it).
"""

import base64
import dataclasses
import html.parser
import io
import shutil
import subprocess

import matplotlib.image
import pytest

from autograder.batch import pool
from autograder.report import class_data, class_report
from autograder.cli import main
from autograder.report.similarity import compare
from tests.synthetic_class import STARTER, make_class, write_class
from tests.synthetic_records import class_records, record, write_batch, write_reconcile

# The page is built from records and read by a browser: no Keras in it.
pytestmark = pytest.mark.one_backend

SIZE_LIMIT = 5_000_000  # bytes: the page for 500 students must stay below this
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    students = write_class(root / "submissions")
    records = class_records(students)
    records["s19"] = record("s19", "environment")  # the grading machine failed on this one
    records["s20"] = record("s20", "timeout")
    write_batch(root / "batch", records)
    reconcile = write_reconcile(root / "course", "ch17", records, tampered={"s18"})
    return root, students, records, reconcile


class _Page(html.parser.HTMLParser):
    """The images, tables and text of a page as chromium dumped it."""

    def __init__(self, text):
        super().__init__()
        self.images, self.tables, self.body, self.text = [], 0, {}, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "table":
            self.tables += 1
        elif tag == "body":
            self.body = dict(attrs)

    def handle_data(self, data):
        self.text.append(data)


def chromium(page, tmp_path, *flags):
    """(stdout, stderr) of headless chromium on the file `page`."""
    browser = shutil.which("chromium")
    assert browser, "chromium is not installed (apt-get install -y chromium; .ci/run does it)"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_messages(stderr):
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


# Test instrumentation, appended to a copy of the page (the page itself has no script):
# once everything has loaded, the body records what the browser decoded of each image.
PROBE = """<script>window.addEventListener("load", () => document.body.setAttribute("data-decoded",
  Array.from(document.images).map(i => i.complete + ":" + i.naturalWidth + "x" + i.naturalHeight).join(" ")));</script>"""


def test_the_batch_report_renders_in_chromium_with_figures_and_no_console_errors(graded, tmp_path):
    root, students, records, _ = graded
    out = tmp_path / "class.html"
    assert main(["report", str(root / "batch"), "--out", str(out), "--submissions", str(root / "submissions"),
                 "--starter", str(STARTER), "--png", "--pdf"]) == 0
    assert out.with_suffix(".png").read_bytes().startswith(PNG)
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")

    dom, stderr = chromium(out, tmp_path, "--dump-dom")
    page = _Page(dom)
    assert console_messages(stderr) == []
    assert len(page.images) == 2 and page.tables >= 4
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        data = base64.b64decode(image["src"].split(",", 1)[1])
        height, width, _ = matplotlib.image.imread(io.BytesIO(data), format="png").shape
        assert data.startswith(PNG) and width > 300 and height > 200
    text = " ".join(page.text)
    for student in records:
        assert student in text
    assert "kl_loss returned" in text and "Hint the students got" in text

    probed = tmp_path / "probed.html"
    probed.write_text(out.read_text().replace("</body>", PROBE + "</body>"))
    decoded = _Page(chromium(probed, tmp_path, "--dump-dom")[0]).body["data-decoded"].split()
    assert len(decoded) == 2 and all(d.startswith("true:") and not d.endswith(":0x0") for d in decoded), decoded


def test_the_console_check_catches_a_script_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>")
    assert any("no_such_function" in line for line in console_messages(chromium(page, tmp_path, "--dump-dom")[1]))


def test_the_reconcile_report_shows_tampering_and_links_each_student(graded, tmp_path):
    root, students, records, reconcile = graded
    out = tmp_path / "reconcile.html"
    assert main(["report", str(reconcile), "--out", str(out), "--submissions", str(root / "submissions")]) == 0
    loaded = class_data.load_class(reconcile)
    assert loaded.kind == "reconcile" and set(loaded.records) == set(records)
    assert list(loaded.flags) == ["s18", "s19"]  # tampered; environment (reconcile flags it too)
    assert "suspected tampering" in loaded.flags["s18"][0] and "check_kl_loss" in loaded.flags["s18"][0]
    page = out.read_text()
    row = page[page.index('<a href="reconcile_students/s18.html">'):]
    assert "suspected tampering" in row[:row.index("</tr>")]
    student_page = (tmp_path / "reconcile_students" / "s10.html").read_text()
    assert "kl_loss returned" in student_page and "genimg grade for submissions/s10.ipynb" in student_page


def test_environment_failures_are_shown_apart_and_left_out_of_the_distribution(graded):
    root, students, records, _ = graded
    view = class_data.load_class(root / "batch")
    assert view.records["s19"].status == "environment"
    page = (root / "batch" / "env.html")
    class_report.write_report(view, page)
    text = page.read_text()
    assert '<tr class="environment">' in text and "the grading machine failed" in text
    assert text.count('<tr class="environment">') == 1


def test_failures_are_grouped_with_numbers_normalised():
    r1, r2, r3 = (record(f"x{i}", "buggy", bug_part="kl_loss") for i in range(3))
    # Same wording, other numbers: one group. Other wording: a group of its own.
    check_id = next(c.id for c in r3.checks() if c.part == "kl_loss")
    parts = dict(r3.parts)
    parts["kl_loss"] = dataclasses.replace(parts["kl_loss"], checks=[
        dataclasses.replace(c, message="your code raised ValueError: shapes (2, 3) and (3,)") if c.id == check_id else c
        for c in parts["kl_loss"].checks])
    r3 = dataclasses.replace(r3, parts=parts)
    broken = record("x4", "broken")  # not graded: not counted among the checks' failures
    summaries = {s.id: s for s in class_report.check_summaries({"a": r1, "b": r2, "c": r3, "d": broken})}
    summary = summaries[check_id]
    assert (summary.failed, summary.graded) == (3, 3)
    assert [g.students for g in summary.groups] == [2, 1]
    assert summary.groups[0].message.startswith("kl_loss returned ")
    assert sum(n for _, n in summary.groups[0].counterexamples) == 2
    assert summary.hint and summaries[next(c.id for c in r1.checks() if c.part == "sampler")].failed == 0
    assert class_report.normalise_message("got -1.5e-3, want 2 (shape (2, 3))") == "got #, want # (shape (#, #))"


def test_part_means_are_over_graded_submissions():
    records = {"a": record("a", "correct"), "b": record("b", "buggy", bug_part="slerp"),
               "c": record("c", "broken")}
    means = class_report.part_means(records)
    assert means["slerp"] == (8.0, 16.0) and means["kl_loss"] == (12.0, 12.0)


def test_bad_folders_exit_with_status_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "neither results" in capsys.readouterr().err
    (tmp_path / pool.SUMMARY_NAME).write_text("student,score\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "no grade records" in capsys.readouterr().err


def test_the_page_for_500_students_stays_under_the_size_limit(tmp_path):
    kinds = ["correct"] * 6 + ["buggy", "buggy", "broken", "timeout"]
    parts = ["kl_loss", "denoise", "slerp", "generate", "sampler"]
    records = {f"student{i:03d}": record(f"student{i:03d}", kinds[i % len(kinds)], bug_part=parts[i % len(parts)])
               for i in range(500)}
    # The most similarity the page shows: more flagged pairs than it puts side by side.
    mix = ["independent"] * 4 + ["copied:s01"] * 5 + ["copied:s02"] * 5
    copies = write_class(tmp_path / "submissions", mix=mix)
    found = compare({s.name: s.path for s in copies}, starter=STARTER)
    assert len(found.flagged) > class_report.SIDE_BY_SIDE
    out = tmp_path / "report.html"
    class_report.write_report(class_data.GradedClass(tmp_path, "batch", records, {}, {}), out, found)
    size = out.stat().st_size
    print(f"page for 500 students: {size / 1e6:.2f} MB (limit {SIZE_LIMIT / 1e6:g} MB)")
    assert size < SIZE_LIMIT
    assert len(list((tmp_path / "report_students").glob("*.html"))) == 500


def test_make_class_mix_is_what_the_tests_assume():
    kinds = [s.kind for s in make_class()]
    assert len(kinds) == 20 and {"correct", "independent", "buggy", "copied", "broken", "tampered"} == set(kinds)
