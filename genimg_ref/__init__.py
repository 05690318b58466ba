"""genimg's answer key: the chapter's code, fixed and laid out as modules.

`vae` (Sampler, kl_loss, the VAE), `diffusion` (schedule, denoise, generate,
the compiled sampler, DiffusionModel), `text_to_image` (slerp and the Stable
Diffusion 3 walk). Data, figures and the given architecture come from the
student kit (`genimg_kit`). Instructors only: never ship this to students;
graded code cannot import it.
"""
