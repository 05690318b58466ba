"""Where graded code runs, and what holds it there.

- `sandbox`: the grader's side of a sandbox child (limits enforced from
  outside, the answer protocol); `child`: the child itself, which runs the
  submission's code and answers probes.
- `kernel`: the confined Jupyter kernel an nbgrader course runs notebooks in.
- `confine`: the one confinement sequence both go through, one module per
  mechanism.
- `container`: the limits of the machine the grader itself runs in (a
  grading platform's container).
"""
