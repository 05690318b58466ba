"""Benchmark: reading a submission is linear in its size.

    python bench/read_submission.py [--repeats 3]

Times `read_submission` (in the grader's own process, before any sandbox) on
.py files of N one-line assignments, and on as many statements that are not
run (each one a note); median seconds of the repeats, and the ratio to the
size before: ~2 per doubling is linear, ~4 quadratic.
"""

import argparse
import pathlib
import statistics
import tempfile
import time

from autograder.submission import read_submission

SIZES = (2_000, 4_000, 8_000, 16_000)
KINDS = {"kept": "v{i} = {i}", "not run": "print({i})"}


def seconds(path, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read_submission(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for kind, line in KINDS.items():
            before = None
            for size in SIZES:
                path = pathlib.Path(folder) / f"{kind.replace(' ', '_')}_{size}.py"
                path.write_text("\n".join(line.format(i=i) for i in range(size)))
                took = seconds(path, args.repeats)
                ratio = f"  x{took / before:.1f}" if before else ""
                print(f"{kind:8} {size:6} statements ({path.stat().st_size / 1024:5.0f} KB): {took:6.3f} s{ratio}")
                before = took


if __name__ == "__main__":
    main()
