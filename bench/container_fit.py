"""Grades the reference inside a cgroup sized like a grading container (root only).

    python -m bench.container_fit --backend jax --memory 768 --cpus 0.5 [--parts kl_loss]
    python -m bench.container_fit --backend jax --memory 768,640,512 --cpus 0   # memory only
    python -m bench.container_fit --backend jax --memory 704 --below-need   # past the refusal

For each memory size: the score, the record's status, the wall time, the
cgroup's peak memory (grader and sandbox together) and its OOM kills. The
smallest size that still grades 100 is what `Limits.container_need_mb`
quotes and docs/INSTRUCTORS.md tabulates.
"""

import argparse
import json
import sys
import time

from tests import cgroup

GRADE = """
import json, sys
from autograder.grade import grade
from autograder.limits import Limits
# --below-need: the up-front refusal off, to see what happens in a container smaller than the need.
limits = Limits(container_need_mb=((sys.argv[2], 0),)) if sys.argv[4] == "1" else Limits()
record = grade(sys.argv[1], parts=sys.argv[3].split(",") if sys.argv[3] else None, backend=sys.argv[2],
               limits=limits)
lost = {p: next(c.message for c in r.checks if not c.passed)[:200]
        for p, r in record.parts.items() if r.points < r.max_points}
print(json.dumps({"score": record.score, "status": record.status, "message": record.message[:300],
                  "seconds": round(record.seconds, 1), "lost": lost}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--memory", default="768", help="MB, comma-separated")
    parser.add_argument("--cpus", type=float, default=0.5, help="CPU quota; 0 for none")
    parser.add_argument("--parts", default="")
    parser.add_argument("--submission", default="genimg_ref")
    parser.add_argument("--below-need", action="store_true",
                        help="grade even below Limits.container_need_mb (to measure where it fails)")
    args = parser.parse_args()
    if reason := cgroup.unavailable():
        sys.exit(f"container_fit: {reason}")
    for memory in [int(m) for m in args.memory.split(",")]:
        started = time.perf_counter()
        run = cgroup.run([sys.executable, "-c", GRADE, args.submission, args.backend, args.parts,
                          "1" if args.below_need else "0"], memory,
                         args.cpus or None, timeout=1800)
        wall = time.perf_counter() - started
        lines = run.completed.stdout.strip().splitlines()
        result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {
            "score": None, "status": f"exit {run.completed.returncode}", "message": run.completed.stderr[-300:]}
        print(f"{args.backend} {memory} MB {args.cpus or 'unthrottled'} CPU: score {result['score']} "
              f"status {result['status']} wall {wall:.0f} s peak {run.peak_mb} MB oom kills {run.oom_kills}"
              + (f" -- {result['message']}" if result.get("message") else ""), flush=True)
        for part, message in result.get("lost", {}).items():
            print(f"    {part}: {message}", flush=True)


if __name__ == "__main__":
    main()
