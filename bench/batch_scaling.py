"""How `genimg-grade batch` scales with workers: 20 submissions, 1 and 2 workers, per backend.

    python bench/batch_scaling.py                       # all parts, both backends, writes docs
    python bench/batch_scaling.py --parts kl_loss,slerp --backends tensorflow --no-write

The submissions are generated into a temporary folder: "correct" ones are the
reference pieces copied from genimg_ref's source files (a folder of three .py
files), "buggy" ones the same with kl_loss's sign and slerp's interpolation
weights broken, "broken" ones a notebook that is not JSON. The mix per five
students is correct, buggy, correct, broken, correct.

Printed and written to docs/PERFORMANCE.md under "## Batch grading" (the rest
of that file is left alone): wall seconds per run, scaling ratio
(wall with 1 worker / wall with 2), per-submission overhead of the batch
(wall with 1 worker minus the time spent inside `grade()`, per submission),
median grading seconds per kind, and what a shell loop of `genimg-grade`
processes would pay on top (one grader import per submission).
"""

import argparse
import datetime
import os
import pathlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

from autograder.batch import pool
from genimg_kit.parts import PARTS

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "genimg_ref"
DOC = ROOT / "docs" / "PERFORMANCE.md"
HEADING = "## Batch grading"
KINDS = ("correct", "buggy", "correct", "broken", "correct")


def make_submissions(folder, count):
    """`count` students in `folder`; returns {student: kind}."""
    kinds = {}
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        student = f"student{i:02d}"
        kinds[student] = kind
        if kind == "broken":
            (folder / f"{student}.ipynb").write_text('{"cells": [ not json')
            continue
        target = folder / student
        target.mkdir()
        for source in sorted(REFERENCE.glob("*.py")):
            text = source.read_text()
            if kind == "buggy":
                text = text.replace("per_dimension = -0.5 *", "per_dimension = 0.5 *")
                text = text.replace("return s0 * v1 + s1 * v2", "return s1 * v1 + s0 * v2")
            (target / source.name).write_text(text)
    return kinds


def import_seconds(repeats=3):
    """Seconds a fresh process needs to import the grader (what each CLI call pays)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import autograder.grade"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_once(submissions, kinds, workers, backend, parts, timeout):
    out = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-{backend}-{workers}w-"))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    records = pool.run_batch(submissions, out, workers=workers, timeout=timeout, backend=backend,
                             parts=parts, force=True, progress=False)
    wall = time.perf_counter() - started
    result = {
        "wall": wall,
        "load": (load_before, os.getloadavg()[0]),  # 1-minute load average, start and end
        "records": records,
        # Inside grade(), per student: the worker's record says (a timed-out one, the wall seconds).
        "grade_seconds": {student: record.seconds for student, record in records.items()},
        "statuses": sorted({record.status for record in records.values()}),
        "scores": {k: statistics.median(r.score for s, r in records.items() if kinds[s] == k)
                   for k in set(kinds.values())},
    }
    shutil.rmtree(out, ignore_errors=True)
    return result


def machine():
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    memory = psutil.virtual_memory().total / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--parts", type=lambda s: s.split(","), help="grade only these parts (default all)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds per submission (default: computed from the part limits, "
                             "autograder.batch.pool.default_timeout)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    workers_list = [int(w) for w in args.workers.split(",")]
    backends = args.backends.split(",")

    load_before = os.getloadavg()
    started = time.perf_counter()
    cli_import = import_seconds()
    print(f"grader import in a fresh process (median of 3): {cli_import:.1f} s")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-submissions-") as folder:
        folder = pathlib.Path(folder)
        kinds = make_submissions(folder, args.count)
        for backend in backends:
            for workers in workers_list:
                runs = [run_once(folder, kinds, workers, backend, args.parts, args.timeout)
                        for _ in range(args.repeats)]
                walls = [r["wall"] for r in runs]
                results[backend, workers] = runs
                print(f"{backend:10s} {workers} worker(s): {statistics.median(walls):7.1f} s "
                      f"(runs: {', '.join(f'{w:.1f}' for w in walls)}), statuses {runs[0]['statuses']}, "
                      f"median scores {runs[0]['scores']}", flush=True)
    load_after = os.getloadavg()

    lines = []
    for backend in backends:
        base = results[backend, workers_list[0]]
        base_wall = statistics.median(r["wall"] for r in base)
        inside = statistics.median(sum(r["grade_seconds"].values()) for r in base)
        overhead = (base_wall - inside) / args.count if workers_list[0] == 1 else float("nan")
        per_kind = {k: statistics.median(s for r in base for st, s in r["grade_seconds"].items()
                                         if kinds[st] == k)
                    for k in ("correct", "buggy", "broken") if k in kinds.values()}
        for workers in workers_list:
            wall = statistics.median(r["wall"] for r in results[backend, workers])
            load = results[backend, workers][0]["load"]
            lines.append((backend, workers, wall, base_wall / wall, wall / args.count, load))
        lines.append((backend, "overhead", overhead, per_kind, inside))

    table = ["| backend | workers | wall s (median) | speed-up vs 1 worker | wall s per submission "
             "| load average at start / end |",
             "|---|---|---|---|---|---|"]
    notes = []
    for line in lines:
        if line[1] == "overhead":
            backend, _, overhead, per_kind, inside = line
            notes.append(
                f"- {backend}: batch overhead with 1 worker {overhead:.1f} s per submission "
                f"(wall {'minus'} the {inside:.0f} s spent inside `grade()`); median `grade()` seconds: "
                + ", ".join(f"{k} {v:.1f}" for k, v in per_kind.items()))
        else:
            backend, workers, wall, speedup, per, load = line
            table.append(f"| {backend} | {workers} | {wall:.1f} | {speedup:.2f}x | {per:.1f} "
                         f"| {load[0]:.1f} / {load[1]:.1f} |")
    print("\n".join(table + notes))

    if not args.no_write:
        parts = ", ".join(args.parts) if args.parts else f"all {len(PARTS)} parts"
        command = "python bench/batch_scaling.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
        section = "\n".join([
            HEADING,
            "",
            f"Measured {datetime.date.today().isoformat()} by `{command.strip()}` "
            f"(total {time.perf_counter() - started:.0f} s).",
            "",
            f"- Machine: {machine()}; 1-minute load average {load_before[0]:.1f} before, "
            f"{load_after[0]:.1f} after (a 2-core machine is idle near 0 and saturated at 2).",
            f"- Workload: {args.count} submissions ({sum(k == 'correct' for k in kinds.values())} correct = the "
            f"reference pieces from genimg_ref, {sum(k == 'buggy' for k in kinds.values())} buggy, "
            f"{sum(k == 'broken' for k in kinds.values())} unreadable notebooks), {parts}, "
            f"{args.repeats} run(s) per configuration, median reported.",
            "",
            *table,
            "",
            *notes,
            f"- A shell loop of `genimg-grade` processes would pay a fresh grader import per submission on top: "
            f"{cli_import:.1f} s here (median of 3); the batch's workers pay it once each.",
            "",
        ])
        text = DOC.read_text() if DOC.exists() else "# Performance\n\n"
        pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
        if pattern.search(text):
            text = pattern.sub(lambda _: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text.rstrip("\n") + "\n")
        print(f"wrote the '{HEADING}' section of {DOC}")


if __name__ == "__main__":
    main()
