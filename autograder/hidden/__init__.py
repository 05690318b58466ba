"""Hidden checks: the exact-value properties that would give the answer away.

Importing this package registers them next to the public ones; it never ships
to students (the student kit holds only the public half).
"""

from autograder.hidden import (  # noqa: F401
    denoise,
    diffusion_schedule,
    generate,
    kl_loss,
    sampler,
    slerp,
)
