"""genimg student kit: data, the chapter's given models, figures and the public self-checks.

Holds no implementation of the six graded pieces (Sampler, kl_loss,
diffusion_schedule, denoise, generate, slerp): those are the student's.
"""
