"""nbgrader configuration of the genimg course (chapter 17, image generation).

Run nbgrader from this folder: `cd assignments && nbgrader generate_assignment ch17 --force`.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "genimg"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Per-cell time limit, in seconds. Under nbgrader the notebook runs in fast mode
# (genimg_kit.data.fast_mode() sees NBGRADER_EXECUTION): its slowest cells
# (the check cells on JAX, the tiny Stable Diffusion 3) take well under a
# minute on a 2-core CPU; 300 s leaves room for a loaded grading machine.
c.Execute.timeout = 300
