"""Hidden checks: the exact-value properties that would give the answer away.

It never ships to students (the student kit holds only the public half).
`HIDDEN` lists each part's hidden checks, in order; the grader and
nbgrader's hidden test blocks pass it to `battery` / `self_check`, which run
them after the part's public checks. Importing this package registers
nothing.
"""

from autograder.hidden import denoise, diffusion_schedule, generate, kl_loss, sampler, slerp

HIDDEN = {
    "sampler": sampler.CHECKS,
    "kl_loss": kl_loss.CHECKS,
    "diffusion_schedule": diffusion_schedule.CHECKS,
    "denoise": denoise.CHECKS,
    "generate": generate.CHECKS,
    "slerp": slerp.CHECKS,
}
