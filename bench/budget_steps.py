"""Benchmark: seconds per training step at each budget's sizes, and what its training would take.

    KERAS_BACKEND=tensorflow python bench/budget_steps.py [--budgets cpu,full] [--steps 10]

For each budget, the reference VAE and diffusion model at the budget's
sizes (batch, image size, U-Net widths and depth): the median seconds of a
compiled `train_on_batch` after warm-up, times the number of steps the
budget trains (the VAE's `vae_steps`; the diffusion model's epochs of the
offline flowers, or of Oxford Flowers' 8,189 photos for `full`). A
projection, not a run: the whole `full` budget takes hours on a CPU, and
this says how many in a minute. Prints a markdown table for docs/GALLERY.md.
"""

import argparse

import keras
import numpy as np

from genimg_kit.budget import BUDGETS
from genimg_kit.data import procedural_flowers
from genimg_ref.diffusion import DiffusionModel
from genimg_ref.vae import build_vae
from training_step import seconds_per_step  # this folder's: the same timing as that benchmark

OXFORD_FLOWERS = 8189


def vae_step(budget, steps):
    vae = build_vae()
    vae.compile(optimizer=keras.optimizers.Adam(budget.vae_learning_rate))
    digits = np.random.default_rng(0).random((budget.vae_batch_size, 28, 28, 1), dtype="float32")
    return seconds_per_step(vae, digits, steps)


def diffusion_step(budget, steps):
    images = procedural_flowers(budget.diffusion_batch_size, budget.image_size)
    model = DiffusionModel(budget.image_size, list(budget.widths), budget.block_depth, seed=0)
    model.normalizer.adapt(images)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    return seconds_per_step(model, images, steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="cpu,full")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    backend = keras.backend.backend()
    print("| backend | budget | model | s/step (median) | steps | projected training |")
    print("|---|---|---|---:|---:|---:|")
    for name in args.budgets.split(","):
        budget = BUDGETS[name]
        flowers = OXFORD_FLOWERS if name == "full" else budget.offline_flowers
        rows = (
            ("VAE", vae_step(budget, args.steps), budget.vae_steps),
            (f"U-Net {budget.image_size} px {list(budget.widths)} x {budget.block_depth}",
             diffusion_step(budget, args.steps),
             budget.diffusion_epochs * (flowers // budget.diffusion_batch_size)),
        )
        for model, seconds, steps in rows:
            total = seconds * steps
            shown = f"{total / 3600:.1f} h" if total > 5400 else f"{total / 60:.0f} min"
            print(f"| {backend} | {name} | {model} | {seconds:.3f} | {steps:,} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
