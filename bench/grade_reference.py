"""Benchmark: grade the reference submission end to end, per backend.

    python bench/grade_reference.py [--repeats 3] [--backends jax,tensorflow] [--profile auto]

Wall time of the whole `genimg-grade` command (Python start-up and imports
included) and the CPU time the machine was busy meanwhile (the grader and
its sandbox together, what a cluster bills; run it on an idle machine),
medians over repeats, and one in-process run broken
down by stage: the grader's own imports, starting the sandbox (the child
imports Keras), loading the submission, then each part's checks (convergence
included), and within each part each check. Each stage's seconds are its
own: the first part's leave out the sandbox start. Prints markdown tables
for docs/PERFORMANCE.md.
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


def busy_cpu_seconds():
    """CPU seconds this machine has spent busy since it booted, all cores (/proc/stat):
    a sandbox's processes die unwaited for, so their own counters are lost with them."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, stat.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cli_seconds(backend, profile):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "results.json")
        before, started = busy_cpu_seconds(), time.perf_counter()
        subprocess.run(["genimg-grade", "--backend", backend, "--profile", profile, "--json", out, "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        seconds, cpu = time.perf_counter() - started, busy_cpu_seconds() - before
        score = json.load(open(out))["score"]
    return seconds, cpu, score


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
    walls, cpus, stages, checks = {}, {}, {}, {}
    for backend in backends:
        runs = [cli_seconds(backend, args.profile) for _ in range(args.repeats)]
        assert all(score == 100 for _, _, score in runs), runs
        walls[backend], cpus[backend] = [s for s, _, _ in runs], [c for _, c, _ in runs]
        stages[backend], checks[backend] = breakdown(backend, args.profile)
    print("| stage | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    print("| `genimg-grade` wall, median of %d | " % args.repeats
          + " | ".join(f"{statistics.median(walls[b]):.1f} s" for b in backends) + " |")
    print("| CPU time busy meanwhile, median of %d | " % args.repeats
          + " | ".join(f"{statistics.median(cpus[b]):.1f} s" for b in backends) + " |")
    for stage in stages[backends[0]]:
        print(f"| {stage} | " + " | ".join(f"{stages[b][stage]:.1f} s" for b in backends) + " |")
    print("\n| check | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for check in checks[backends[0]]:
        print(f"| {check} | " + " | ".join(f"{checks[b][check]:.2f} s" for b in backends) + " |")


if __name__ == "__main__":
    main()
