"""The local pool vs a Dask cluster: 20 submissions, 2 workers each, one backend.

    python bench/batch_dask.py                                   # tensorflow, parts sampler,kl_loss,slerp
    python bench/batch_dask.py --parts kl_loss --count 10 --backend jax

The submissions are bench/batch_scaling.py's (`make_submissions`: per five
students correct, buggy, correct, broken, correct; "buggy" breaks kl_loss's
sign and slerp's weights). Both runs grade them with `pool.run_batch` and the
same timeout: first with the local pool (`workers=2`), then on a Dask
`LocalCluster` of 2 worker processes with 1 thread each on 127.0.0.1 (nanny
workers, as `dask worker` starts them), through `scheduler=`. The cluster is
started before the Dask run's clock starts, as an instructor's would be.

Printed (a Markdown section for docs/PERFORMANCE.md): the wall seconds of
each run and their ratio, the median per-submission overhead (the seconds
from the executor's hand-off of a submission to its outcome arriving, less
the seconds spent inside `grade()`; on Dask that includes sending the files
and the record, and a worker's warm-up on its first task: hence the median),
and whether every student's status, score and per-part points are the same
in both runs.
"""

import argparse
import datetime
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from batch_scaling import machine, make_submissions  # noqa: E402

from autograder.batch import pool  # noqa: E402

DEFAULT_PARTS = "sampler,kl_loss,slerp"


class Timed:
    """The executor `run_batch` makes, noting each outcome's turnaround."""

    def __init__(self, inner, turnarounds):
        self.inner, self.turnarounds = inner, turnarounds

    def run(self, jobs, args, timeout):
        for outcome in self.inner.run(jobs, args, timeout):
            self.turnarounds[outcome.student] = outcome.turnaround
            yield outcome

    def kill(self):
        self.inner.kill()

    def close(self):
        self.inner.close()


def timed_run(submissions, out, **options):
    """(wall seconds, records, {student: turnaround seconds}, load average at start and end) of one `run_batch`."""
    turnarounds, make = {}, pool._executor
    pool._executor = lambda *args: Timed(make(*args), turnarounds)
    try:
        load, started = os.getloadavg()[0], time.perf_counter()
        records = pool.run_batch(submissions, out, force=True, progress=False, **options)
        return time.perf_counter() - started, records, turnarounds, (load, os.getloadavg()[0])
    finally:
        pool._executor = make


def overhead(records, turnarounds, students):
    return statistics.median(turnarounds[s] - records[s].seconds for s in students)


def same(a, b):
    """Status, score and per-part points equal for every student."""
    def key(records):
        return {s: (r.status, r.score, {p: x.points for p, x in r.parts.items()}) for s, r in records.items()}
    return key(a) == key(b)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--parts", default=DEFAULT_PARTS, help=f"comma-separated (default {DEFAULT_PARTS})")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per submission (default: the pool's)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    from distributed import LocalCluster

    begun, load_before = time.perf_counter(), os.getloadavg()[0]
    options = dict(timeout=args.timeout, backend=args.backend, parts=parts)
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as folder:
        folder = pathlib.Path(folder)
        (folder / "class").mkdir()
        kinds = make_submissions(folder / "class", args.count)
        local_wall, local, local_turn, local_load = timed_run(folder / "class", folder / "local",
                                                              workers=args.workers, **options)
        print(f"local pool, {args.workers} workers: {local_wall:.1f} s", flush=True)
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0") as cluster:
            dask_wall, remote, dask_turn, dask_load = timed_run(folder / "class", folder / "dask",
                                                                scheduler=cluster.scheduler_address, **options)
        print(f"dask, {args.workers} workers: {dask_wall:.1f} s", flush=True)
    load_after = os.getloadavg()[0]

    graded = [s for s, k in kinds.items() if k != "broken"]
    broken = [s for s, k in kinds.items() if k == "broken"]
    rows = [("local pool", local_wall, local, local_turn, local_load),
            ("Dask", dask_wall, remote, dask_turn, dask_load)]
    command = "python bench/batch_dask.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "## Batch grading on Dask",
        "",
        f"Measured {datetime.date.today().isoformat()} by `{command}` "
        f"(total {time.perf_counter() - begun:.0f} s), backend {args.backend}.",
        "",
        f"- Machine: {machine()}; 1-minute load average {load_before:.1f} before, {load_after:.1f} after.",
        f"- Workload: bench/batch_scaling.py's {args.count} submissions ({len(graded)} graded in a sandbox: "
        f"correct and buggy; {len(broken)} unreadable notebooks), parts {', '.join(parts)}; the local pool "
        f"with {args.workers} workers, then a Dask LocalCluster of {args.workers} nanny workers x 1 thread "
        "on 127.0.0.1 (started before its clock).",
        "",
        "| executor | wall s | wall s per submission | median `grade()` s (graded) "
        "| median overhead per submission, s (graded / unreadable) | load average at start / end |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {wall:.1f} | {wall / args.count:.1f} | {statistics.median(r[s].seconds for s in graded):.1f} "
          f"| {overhead(r, t, graded):.2f} / {overhead(r, t, broken):.2f} | {load[0]:.1f} / {load[1]:.1f} |"
          for name, wall, r, t, load in rows],
        "",
        f"- Dask / local wall: {dask_wall / local_wall:.2f}x. Overhead: seconds from the hand-off of a "
        "submission to its outcome, less those inside `grade()`.",
        f"- Scores: every student's status, score and per-part points "
        f"{'identical' if same(local, remote) else 'DIFFER'} in both runs "
        f"(medians: " + ", ".join(
            f"{kind} {statistics.median(remote[s].score for s in kinds if kinds[s] == kind):g}"
            for kind in ("correct", "buggy", "broken")) + ").",
    ]
    print("\n".join(lines))
    return 0 if same(local, remote) else 1


if __name__ == "__main__":
    sys.exit(main())
