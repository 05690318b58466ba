"""nbgrader configuration of the genimg course (chapter 17, image generation).

Run nbgrader from this folder: `cd assignments && nbgrader generate_assignment ch17 --force`.
"""

import os

from autograder.isolation.kernel import use_confined_kernel
from autograder.limits import Limits

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# Every notebook nbgrader runs (autograde, validate) runs in genimg's confined
# kernel (autograder/isolation/kernel.py): its cells write only their own folder and a
# scratch folder, read no answer key, reach no network and leave no process
# behind. `genimg-grade reconcile` still re-grades every notebook in isolation
# afterwards: confinement cannot stop a cell that rebinds a check in memory.
use_confined_kernel(c)

c.CourseDirectory.course_id = "genimg"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Per-cell time limit, in seconds; a cell that runs past it scores 0 and the
# notebook goes on. Under nbgrader the notebook runs in fast mode
# (genimg_kit.budget.select_budget() sees NBGRADER_EXECUTION). Its slowest cells are
# the convergence checks on JAX, which train small models: 90 s measured for
# check_vae_convergence on a 2-core CPU running other jobs (load 3-4), about
# 12 s on TensorFlow. 600 s leaves a wide margin for a busier grading machine:
# a limit that is too tight takes points from correct code, and a hung
# notebook costs only the wait. (`genimg-grade limits`: notebook_cell_seconds.)
c.Execute.timeout = Limits().notebook_cell_seconds

# A grade cell that writes anything to stderr scores 0 (nbgrader's rule). The
# libraries under the notebook write harmless noise there: TensorFlow and absl
# log from C++ straight to file descriptor 2 (TF_CPP_MIN_LOG_LEVEL does not
# stop all of it, and ipykernel routes it into whichever cell is running),
# TensorFlow's Python logger warns about retracing, Keras and JAX emit Python
# warnings. IgnorePattern (nbgrader >= 0.9.2, off by default) removes every
# stderr output in which the pattern is found, before the cells are scored.
# Errors are `error` outputs, not stderr, so a failing check still fails; and
# the check cells report their verdicts on stdout, with the points as the
# cell's value.
STDERR_NOISE = [
    # absl's and TensorFlow's C++ log lines: "I0000 00:00:1795872602.516185  13996 cudart_stub.cc:31] ..."
    r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.-]+:\d+\]",
    # "2026-11-02 13:29:49.123456: I tensorflow/core/...cc:123] ..." (older TensorFlow format)
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] ",
    r"All log messages before absl::InitializeLog\(\) is called",
    r"^WARNING:(tensorflow|absl|jax\S*):",
    # GPU libraries missing on a CPU grader
    r"\b(cuda|CUDA|cuDNN|cuFFT|cuBLAS|TensorRT|oneDNN|NVIDIA GPU)\b",
    # Python warnings ("...py:74: UserWarning: ..."), e.g. from Keras
    r"^\S+:\d+: \w*Warning: ",
]
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = "(?m)" + "|".join(f"(?:{p})" for p in STDERR_NOISE)
