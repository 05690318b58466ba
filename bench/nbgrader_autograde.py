"""Times `nbgrader autograde` of one submission, per Keras backend.

    python bench/nbgrader_autograde.py [--backends jax,tensorflow] [--repeats 3]
                                       [--out docs/PERFORMANCE.md]

For each backend: a fresh temporary course (this repository's
`assignments/nbgrader_config.py` and source), the release generated with
the real nbgrader, and one submission: the release filled in with the answer
key (it must score 100, or the run stops). Then `nbgrader autograde ch17
--force` is timed `--repeats` times in each kernel, alternating, wall clock,
as an instructor would run it: the course's confined kernel
(`genimg-confined`, autograder/isolation/kernel.py) and IPython's own (`python3`,
`--Execute.kernel_name=python3`), a new kernel each time, from an ordinary
shell (only PATH and HOME, whose `~/.keras/keras.json` picks the backend:
tests/as_users.py), the notebook executed in fast mode, which nbgrader's
NBGRADER_EXECUTION selects and which never downloads, the hidden checks
included.

The figures (command, machine, date, load, min / median / max per backend)
replace the "nbgrader autograde" section of `--out`, or are appended to it;
other sections are left alone.
"""

import argparse
import datetime
import importlib.util
import os
import platform
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "genimg_build", os.path.join(ROOT, "assignments", "build.py")
)
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

HEADING = "## nbgrader autograde"
sys.path.insert(0, ROOT)
from autograder.isolation.kernel import KERNEL_NAME  # noqa: E402
from tests.as_users import shell_environment  # noqa: E402


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}"


def versions():
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}" for name in ("nbgrader", "keras", "tensorflow", "jax", "keras-hub")
    )


def load():
    try:
        return "{:.1f}".format(os.getloadavg()[0])
    except OSError:
        return "?"


def score(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{os.path.join(course, 'gradebook.db')}", "genimg") as gb:
        return gb.find_submission(build.ASSIGNMENT, "student").score


KERNELS = (KERNEL_NAME, "python3")  # the course's, and IPython's own unconfined one


def bench_backend(backend, repeats):
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        # An instructor's shell: PATH and HOME, whose keras.json picks the backend; nothing else.
        env = shell_environment(os.path.join(tmp, "home"), backend)
        course = build.make_course(os.path.join(tmp, "course"))
        release = nbformat.read(build.generate_release(course, env=env), as_version=4)
        source = nbformat.read(build.SOURCE, as_version=4)
        folder = os.path.join(course, "submitted", "student", build.ASSIGNMENT)
        os.makedirs(folder)
        nbformat.write(build.fill_in_solutions(release, source), os.path.join(folder, build.NOTEBOOK))
        seconds, loads = {kernel: [] for kernel in KERNELS}, {kernel: [] for kernel in KERNELS}
        for repeat in range(repeats):
            for kernel in KERNELS:
                loads[kernel].append(load())
                started = time.perf_counter()
                build.nbgrader(["autograde", build.ASSIGNMENT, "--force", f"--Execute.kernel_name={kernel}"],
                               course, env=env)
                seconds[kernel].append(time.perf_counter() - started)
                total = score(course)
                print(f"{backend} {kernel} run {repeat + 1}/{repeats}: {seconds[kernel][-1]:.1f} s, "
                      f"score {total}, load {loads[kernel][-1]}", flush=True)
                if total != 100:
                    raise SystemExit(f"the answer key scored {total} on {backend} in {kernel}, not 100")
    return seconds, loads


def write_section(path, text):
    """Replaces the section under HEADING in `path` (to the next '## '), or appends it."""
    old = open(path).read() if os.path.exists(path) else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new.rstrip("\n") + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,tensorflow")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    args = parser.parse_args(argv)

    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    results = {}
    for backend in args.backends.split(","):
        results[backend] = bench_backend(backend, args.repeats)

    rows = "\n".join(
        f"| {backend} | {kernel} | {args.repeats} | {min(s[kernel]):.0f} | **{statistics.median(s[kernel]):.0f}** | "
        f"{max(s[kernel]):.0f} | {', '.join(loads[kernel])} |"
        for backend, (s, loads) in results.items() for kernel in KERNELS
    )
    ratios = ", ".join(
        f"{backend} {statistics.median(s[KERNELS[0]]) / statistics.median(s[KERNELS[1]]):.3f}"
        for backend, (s, _) in results.items())
    text = f"""{HEADING}

Wall time of `nbgrader autograde ch17 --force` for **one** submission (the
release filled in with the answer key, which scores 100/100): nbgrader's
start-up, sanitising, a fresh kernel, the whole notebook in fast mode
(tiny training budgets, offline data, the tiny Stable Diffusion 3) with the
public and hidden checks in every check cell (the two convergence checks
train small models), and writing the gradebook.

- Command: `python bench/nbgrader_autograde.py --backends {args.backends} --repeats {args.repeats}`
  (each run, from a shell with only PATH and HOME, the backend in `~/.keras/keras.json`: `cd <course> && nbgrader autograde ch17 --force --Execute.kernel_name=<kernel>`)
- Machine: {machine()}; the table gives the 1-minute load average at the
  start of each run (a 2-core machine is idle near 0 and saturated at 2).
- Software: Python {platform.python_version()}, {versions()}
- Date: {date}

| backend | kernel | runs | min (s) | median (s) | max (s) | load at start |
|---|---|---|---|---|---|---|
{rows}

Confined over unconfined, the ratio of the medians: {ratios}.

JAX is the slower backend on a CPU: it compiles every new operation shape with
XLA (the eager loops of the check cells and of `generate` see many), and XLA's
CPU convolution backward pass is slow (the VAE trains about 7 times slower
than on TensorFlow). Grading a class is
linear in the number of submissions: nbgrader autogrades them one after
another.
"""
    write_section(args.out, text)
    print(f"wrote the '{HEADING}' section of {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
