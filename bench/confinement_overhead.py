"""Grading time with and without confinement, per backend (issue 14's target: under 5 %).

    python -m bench.confinement_overhead --backends tensorflow,jax --runs 3 [--parts kl_loss,slerp]

Grades the reference with `genimg-grade --json` in a fresh process, alternating
confined (the default) and unconfined (every mechanism in GENIMG_CONFINE_SKIP),
`--runs` times each; prints per backend the median wall seconds of each, their
ratio, and the isolation level each run reported.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

EVERY_MECHANISM = "namespaces,uid,no-capabilities,rlimits,seccomp-sockets,landlock-fs"


def grade_once(backend, parts, confined):
    env = dict(os.environ, KERAS_BACKEND=backend)
    if not confined:
        env["GENIMG_CONFINE_SKIP"] = EVERY_MECHANISM
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "results.json")
        command = [sys.executable, "-m", "autograder.cli", "--json", out, "--quiet", "--backend", backend]
        if parts:
            command += ["--parts", parts]
        started = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        seconds = time.perf_counter() - started
        with open(out) as f:
            results = json.load(f)
    return seconds, results["score"], results["extra_data"]["isolation"].get("level", "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parts", default="")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        times = {True: [], False: []}
        for run in range(args.runs):
            for confined in (True, False):
                seconds, score, level = grade_once(backend, args.parts, confined)
                times[confined].append(seconds)
                print(f"{backend} run {run + 1} {'confined' if confined else 'unconfined'}: "
                      f"{seconds:.1f} s, score {score}, isolation {level}", flush=True)
        on, off = statistics.median(times[True]), statistics.median(times[False])
        print(f"{backend}: median confined {on:.1f} s, unconfined {off:.1f} s, ratio {on / off:.3f}", flush=True)


if __name__ == "__main__":
    main()
