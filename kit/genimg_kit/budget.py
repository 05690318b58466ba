"""How much the notebook trains: three budgets, one switch.

A generative model shows what it learned only after enough *optimizer
steps*: the chapter's VAE draws its grid of digits after about 16,000 steps
(30 epochs of 70,000 digits), and after 1,200 it draws two digits only. So
every size and count in the notebook comes from one `Budget`, and the VAE's
is given in steps, not epochs: the number of epochs follows from how many
digits were loaded (70,000 online, 5,000 offline).

- `fast`: seconds. For grading (nbgrader runs the notebook in it whatever
  the notebook asks for) and CI. Offline data, tiny models: the figures show
  blobs and coloured noise, and say so.
- `cpu`: a laptop or a free notebook CPU. The VAE's latent grid shows
  readable digits and the diffusion model draws recognisable flowers, at
  32 x 32 pixels, in minutes (`docs/GALLERY.md` has the figures and times).
- `full`: the chapter's sizes and epochs, for a GPU: 128 x 128 flowers, 100
  epochs, the Stable Diffusion 3 preset with 28 steps.

Choose one with `select_budget(name)`; `"auto"` reads the environment
variable `GENIMG_BUDGET`, and without it takes `full` when Keras sees a GPU
and `cpu` when it does not.
"""

import dataclasses
import math
import os


@dataclasses.dataclass(frozen=True)
class Budget:
    """Every size and count the notebook's training and figures use."""

    name: str
    shows: str  # what the figures show at this budget, for the notebook's text
    offline: bool  # True: never download, use the offline data
    # The VAE (Part I).
    vae_digits: int | None  # digits to train on; None: all that were loaded
    vae_steps: int  # optimizer steps; epochs = vae_epochs(number of digits)
    vae_batch_size: int
    vae_learning_rate: float  # Adam's; the chapter keeps the default 1e-3
    # The diffusion model (Part II).
    image_size: int
    offline_flowers: int  # procedural flowers drawn when Oxford Flowers is out of reach
    flower_batches: int | None  # batches per epoch; None: the whole dataset
    widths: tuple
    block_depth: int
    diffusion_epochs: int
    diffusion_batch_size: int
    num_generated: int
    diffusion_steps: int
    watch_every: int | None  # epochs between progress grids; None: none
    quality_samples: int  # images generated for the quality numbers; 0: skip them
    # Stable Diffusion 3 (Part III).
    sd3_steps: int

    @property
    def measures_quality(self):
        """Whether the notebook computes its quality numbers (seconds; not in `fast`)."""
        return self.quality_samples > 0

    def vae_epochs(self, num_digits):
        """Epochs of `num_digits` that make at least `vae_steps` optimizer steps."""
        steps_per_epoch = math.ceil(num_digits / self.vae_batch_size)
        return max(1, math.ceil(self.vae_steps / steps_per_epoch))


BUDGETS = {budget.name: budget for budget in (
    Budget(
        name="fast",
        shows="seconds of training: blurry blobs for digits and coloured noise for flowers",
        offline=True,
        vae_digits=512, vae_steps=4, vae_batch_size=128, vae_learning_rate=1e-3,
        image_size=32, offline_flowers=1024, flower_batches=6,
        widths=(16, 32), block_depth=1, diffusion_epochs=1, diffusion_batch_size=32,
        num_generated=8, diffusion_steps=5, watch_every=None, quality_samples=0,
        sd3_steps=10,  # the tiny trained SD3 draws its flowers from 10 steps, in a fraction of a second
    ),
    Budget(
        name="cpu",
        shows="minutes on a laptop CPU: a latent grid of readable digits, and recognisable "
              "flowers at 32 x 32 pixels",
        offline=False,
        # 4,000 steps at twice Adam's default rate: the chapter's grid (8 of the 10
        # classes read by a classifier, two seeds) in about a quarter of its steps.
        vae_digits=None, vae_steps=4000, vae_batch_size=128, vae_learning_rate=2e-3,
        # The chapter's U-Net less its last (4 x 4) stage, on 32 x 32 images, 16 epochs
        # of 5,000 flowers: it draws flowers after 8; the full U-Net, slower per step,
        # still draws blobs after 8.
        image_size=32, offline_flowers=5000, flower_batches=None,
        widths=(32, 64, 96), block_depth=2, diffusion_epochs=16, diffusion_batch_size=32,
        num_generated=18, diffusion_steps=20, watch_every=4, quality_samples=200,
        sd3_steps=28,
    ),
    Budget(
        name="full",
        shows="the chapter's budgets (hours on a CPU, minutes to an hour on a GPU): the "
              "chapter's figures at 128 x 128 pixels",
        offline=False,
        # 30 epochs of MNIST's 70,000 digits at batch 128, as in the chapter.
        vae_digits=None, vae_steps=30 * math.ceil(70_000 / 128), vae_batch_size=128,
        vae_learning_rate=1e-3,
        image_size=128, offline_flowers=8189, flower_batches=None,
        widths=(32, 64, 96, 128), block_depth=2, diffusion_epochs=100, diffusion_batch_size=32,
        num_generated=18, diffusion_steps=20, watch_every=1, quality_samples=200,
        sd3_steps=28,
    ),
)}


def _gpu_visible():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def full_budget_warning():
    """What `auto` tells a student when a GPU makes it choose `full`, before anything runs:
    what `full` costs, and how to choose `cpu` instead."""
    full = BUDGETS["full"]
    return (f"*** Budget 'auto' chose 'full' because Keras sees a GPU: {full.shows}. That is "
            f"{full.vae_steps:,} VAE steps, {full.diffusion_epochs} epochs of {full.image_size} x "
            f"{full.image_size} flowers after the Oxford Flowers 102 download, and Stable Diffusion 3 "
            "medium: a download of several GB from Kaggle that needs the model's licence accepted there "
            'first. For minutes instead, write select_budget("cpu") in this cell. ***')


def select_budget(name="auto"):
    """The `Budget` called `name`; `"auto"` picks one from the environment.

    Under nbgrader (`NBGRADER_EXECUTION` is set) the answer is always `fast`:
    grading has a time limit per cell. `"auto"` then reads `GENIMG_BUDGET`;
    without it, it takes `full` when the Keras backend sees a GPU (and prints
    what that costs, `full_budget_warning()`), and `cpu` when it does not.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return BUDGETS["fast"]
    if name in (None, "auto"):
        name = os.environ.get("GENIMG_BUDGET") or "auto"
    if name == "auto":
        name = "full" if _gpu_visible() else "cpu"
        if name == "full":
            print(full_budget_warning(), flush=True)
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}: choose one of {', '.join(BUDGETS)} or 'auto'")
    return BUDGETS[name]
