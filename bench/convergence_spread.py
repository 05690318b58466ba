"""Calibration: the reference's convergence runs, repeated over seeds.

    KERAS_BACKEND=tensorflow python bench/convergence_spread.py --profile cpu --seeds 0,1,2

Trains the answer key's pieces with a profile's budget exactly as the
grader's convergence checks do (the same probes, data and seeding as the
sandbox), and prints per run what the pass bands in
`genimg_kit.checks.convergence` are set from, with the seconds each run took.
docs/CONVERGENCE.md holds the tables; bench/gpu_check.sh runs the `gpu`
profile.
"""

import argparse
import os
import time

import keras
import numpy as np

import genimg_ref.diffusion
import genimg_ref.vae
from genimg_kit.checks import convergence
from genimg_kit.probes import convergence as training
from genimg_kit.probes.device import accelerator

ANSWER_KEY = {**vars(genimg_ref.vae), **vars(genimg_ref.diffusion)}


def train(probe, seed, *args, **kwargs):
    """One run of a training probe on the answer key, seeded as the sandbox seeds it."""
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    out = probe(ANSWER_KEY, *args, **kwargs)
    return out, time.perf_counter() - started


def vae_row(profile, seed):
    digits = convergence.digits(profile.name)
    out, seconds = train(training.train_vae, seed, digits, **profile.vae_budget)
    shown = digits[: len(out["reconstructions"])]
    mse = float(np.mean((out["reconstructions"] - shown) ** 2))
    mean_image_mse = float(np.mean((shown.mean(0) - shown) ** 2))
    return (f"| {keras.backend.backend()} seed {seed} | {np.round(out['loss'][[0, -1]], 1).tolist()} | "
            f"{np.round(out['kl_loss'][[0, -1]], 2).tolist()} | {mse:.4f} vs {mean_image_mse:.4f} | "
            f"{seconds:.1f} |")


def diffusion_row(profile, seed):
    flowers = convergence.flowers(profile.name)
    out, seconds = train(training.train_diffusion, seed, flowers, **profile.diffusion_budget)
    before = convergence.statistics_distance(out["untrained"], flowers)
    after = convergence.statistics_distance(out["generated"], flowers)
    return (f"| {keras.backend.backend()} seed {seed} | {out['loss'][-1]:.3f} | "
            f"{after:.2f} / {before:.2f} | {seconds:.1f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", choices=list(convergence.PROFILES), default="cpu")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models", default="vae,diffusion")
    args = parser.parse_args()
    profile = convergence.PROFILES[args.profile]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"profile {profile.name}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs, "
          f"accelerator {accelerator()}", flush=True)
    if "vae" in args.models:
        print("\n| VAE run | loss, first / last epoch | mean KL, first / last epoch | "
              "reconstruction MSE vs mean image | seconds |\n|---|---|---|---|---|", flush=True)
        for seed in seeds:
            print(vae_row(profile, seed), flush=True)
    if "diffusion" in args.models:
        print("\n| diffusion run | final noise MAE | statistics distance, after / before | seconds |"
              "\n|---|---|---|---|", flush=True)
        for seed in seeds:
            print(diffusion_row(profile, seed), flush=True)


if __name__ == "__main__":
    main()
