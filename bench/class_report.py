"""The class report on a really graded synthetic class: time, size, similarity precision, screenshot.

    KERAS_BACKEND=tensorflow python -m bench.class_report [--parts P1,P2] [--workers 2]

Builds tests/synthetic_class.py's 20 students (correct, independent,
buggy, copied, broken, tampered) in a temporary course folder, grades them
with `genimg-grade batch` (all parts by default) into the reconcile layout
(COURSE/reconcile/ch17/<notebook>/), writes reconcile's CSV for them with
the tampered student's notebook marked as changed after autograde (what
reconcile writes when it finds that; nbgrader itself is not run), then runs
`genimg-grade report` on the folder, screenshots the page in headless
chromium (docs/report/class_report.png, the top of the page) and prints the
batch and report times, the page's size and the similarity check's
precision and recall against the class's known copies.
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from PIL import Image

from autograder.cli import main as grade_main
from autograder.report.similarity import compare
from tests.synthetic_class import STARTER, copied_pairs, write_class
from tests.synthetic_records import NOTEBOOK, write_reconcile
from autograder.report import class_data

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "report" / "class_report.png"


def screenshot(page, out, width=1280, height=2600):
    """The top `height` pixels of the page, as a palette PNG (small enough for the docs)."""
    with tempfile.TemporaryDirectory() as profile:
        raw = pathlib.Path(profile) / "raw.png"
        subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={raw}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(raw).convert("RGB").quantize(colors=64).save(out, optimize=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", help="grade only these parts (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genimg-class-") as tmp:
        tmp = pathlib.Path(tmp)
        students = write_class(tmp / "submissions")
        details = tmp / "course" / "reconcile" / "ch17"
        started = time.monotonic()
        batch = ["batch", str(tmp / "submissions"), "--out", str(details / NOTEBOOK), "--workers", str(args.workers),
                 "--no-progress"] + (["--parts", args.parts] if args.parts else [])
        assert grade_main(batch) == 0
        batch_seconds = time.monotonic() - started
        records = class_data.load_class(details / NOTEBOOK).records
        tampered = {s.name for s in students if s.kind == "tampered"}
        write_reconcile(tmp / "course", "ch17", records, tampered=tampered)
        page = tmp / "report.html"
        started = time.monotonic()
        assert grade_main(["report", str(details), "--out", str(page), "--submissions", str(tmp / "submissions"),
                           "--starter", str(STARTER)]) == 0
        report_seconds = time.monotonic() - started
        screenshot(page, SCREENSHOT)
        found = compare({s.name: s.path for s in students}, starter=STARTER)
        truth = copied_pairs(students)
        flagged = {(p.first, p.second) for p in found.flagged}
        independent = max(p.score for p in found.pairs if (p.first, p.second) not in truth)
        copied = [p.score for p in found.pairs if (p.first, p.second) in truth]
        scores = ", ".join(f"{s}: {records[s].score:g} {records[s].status}" for s in records)
        print(f"graded {len(records)} students ({args.parts or 'all parts'}, {args.workers} workers) in "
              f"{batch_seconds:.0f} s; report in {report_seconds:.1f} s, {page.stat().st_size / 1e3:.0f} kB; "
              f"screenshot {SCREENSHOT.stat().st_size / 1e3:.0f} kB at {SCREENSHOT.relative_to(ROOT)}")
        print(f"scores: {scores}")
        print(f"similarity: {len(flagged)} flagged of {len(found.pairs)} pairs; precision "
              f"{len(flagged & truth) / max(1, len(flagged)):.2f}, recall {len(flagged & truth) / len(truth):.2f}; "
              f"copied pairs {min(copied):.2f}-{max(copied):.2f}, most similar independent pair {independent:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
