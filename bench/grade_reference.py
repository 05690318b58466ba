"""Benchmark: grade the reference submission end to end, per backend.

    python bench/grade_reference.py [--repeats 3] [--backends jax,tensorflow] [--profile auto]

Wall time of the whole `genimg-grade` command (Python start-up and imports
included), median over repeats, and one in-process run broken down by
stage: the grader's own imports, starting the sandbox (the child imports
Keras), loading the submission, then each part's checks (convergence
included), and within each part each check. Prints markdown tables for
docs/PERFORMANCE.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cli_seconds(backend, profile):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "results.json")
        started = time.perf_counter()
        subprocess.run(["genimg-grade", "--backend", backend, "--profile", profile, "--json", out, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        score = json.load(open(out))["score"]
    return seconds, score


def breakdown(backend, profile):
    code = (
        "import time, json; t = time.perf_counter()\n"
        "import pathlib, genimg_ref\nfrom autograder.grade import grade\nfrom autograder.limits import Limits\n"
        "imports = time.perf_counter() - t\n"
        "r = grade(pathlib.Path(genimg_ref.__file__).parent, backend=%r, limits=Limits(profile=%r))\n"
        "checks = {c.id: c.seconds for c in r.checks()}\n"
        "print(json.dumps([dict(r.timings, **{'grader imports': imports, 'total': r.seconds + imports}), checks]))\n"
    ) % (backend, profile)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="jax,tensorflow")
    parser.add_argument("--profile", default="auto", choices=["auto", "cpu", "gpu"])
    args = parser.parse_args()
    backends = args.backends.split(",")
    walls, stages, checks = {}, {}, {}
    for backend in backends:
        runs = [cli_seconds(backend, args.profile) for _ in range(args.repeats)]
        assert all(score == 100 for _, score in runs), runs
        walls[backend] = [s for s, _ in runs]
        stages[backend], checks[backend] = breakdown(backend, args.profile)
    print("| stage | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    print("| `genimg-grade` wall, median of %d | " % args.repeats
          + " | ".join(f"{statistics.median(walls[b]):.1f} s" for b in backends) + " |")
    for stage in stages[backends[0]]:
        print(f"| {stage} | " + " | ".join(f"{stages[b][stage]:.1f} s" for b in backends) + " |")
    print("\n| check | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for check in checks[backends[0]]:
        print(f"| {check} | " + " | ".join(f"{checks[b][check]:.2f} s" for b in backends) + " |")


if __name__ == "__main__":
    main()
