"""Convergence checks: the graded pieces training together.

Property checks prove each piece alone; these train the chapter's models with
the submission's pieces for a fixed, seeded budget, which catches what only
training shows: a Sampler that cuts the gradient, a schedule written with
numpy that cannot be compiled, a denoise that detaches the network.

The bands come from repeated runs of the reference on both backends
(docs/CONVERGENCE.md has the spread); the data are the offline sets, loaded
here, in the checking process, and handed to the submission.
"""

import contextlib
import functools
import io

import numpy as np

from genimg_kit.checks.core import SubmissionError, check
from genimg_kit.data import load_mnist_digits, procedural_flowers

# 96 steps: JAX trains the chapter's convnets ~7x slower than TensorFlow on a
# CPU (XLA's Conv2DTranspose backward), so the budget is sized for JAX.
VAE_BUDGET = {"epochs": 3, "batch_size": 32, "learning_rate": 3e-3}
VAE_DIGITS = 1024
VAE_FINAL_LOSS_BAND = 260.0  # reference, 6 seeded runs: 221-243 (BCE summed over pixels + KL)
VAE_KL_BOUND = 50.0

DIFFUSION_BUDGET = {"widths": np.array([16, 32]), "block_depth": 1, "epochs": 8, "batch_size": 32,
                    "learning_rate": 3e-3, "num_images": 64, "diffusion_steps": 10}
FLOWERS, FLOWER_SIZE = 1024, 16
DIFFUSION_FINAL_LOSS_BAND = 0.32  # reference, 6 seeded runs: 0.254-0.265 noise MAE
STATISTICS_BAND = 1.2  # reference, 6 runs: 0.74-0.87 after training, 1.97 before
STATISTICS_GAIN = 0.6  # trained distance <= 0.6 x untrained distance


@functools.cache
def digits():
    with contextlib.redirect_stdout(io.StringIO()):  # the offline note is for notebooks
        return load_mnist_digits(offline=True)[:VAE_DIGITS]


@functools.cache
def flowers():
    return procedural_flowers(FLOWERS, FLOWER_SIZE, seed=1)


def shared_probe(subject, probe_name, **arrays):
    """One training run serves every check of a part: cached on the subject."""
    cache = subject.__dict__.setdefault("convergence_cache", {})
    if probe_name not in cache:
        try:
            cache[probe_name] = subject.probe(probe_name, **arrays)
        except SubmissionError as error:
            cache[probe_name] = error
    if isinstance(cache[probe_name], Exception):
        raise cache[probe_name]
    return cache[probe_name]


def trained_vae(subject):
    return shared_probe(subject, "train_vae", digits=digits(), **VAE_BUDGET)


def trained_diffusion(subject):
    return shared_probe(subject, "train_diffusion", images=flowers(), **DIFFUSION_BUDGET)


@check("vae_convergence", f"the VAE trains compiled: loss falls and ends below {VAE_FINAL_LOSS_BAND:g}",
       weight=2.0, hint="Sampler and kl_loss must run inside a compiled train step (keras.ops, "
                        "keras.random with a SeedGenerator) and give the loss its right scale")
def vae_loss_falls(subject):
    loss = trained_vae(subject)["loss"]
    assert np.all(np.isfinite(loss)), f"non-finite loss per epoch: {loss.tolist()}"
    assert loss[-1] < loss[0] and loss[-1] <= VAE_FINAL_LOSS_BAND, (
        f"loss per epoch {np.round(loss, 1).tolist()}: expected it to fall and end at or below "
        f"{VAE_FINAL_LOSS_BAND:g} (the reference ends between 221 and 243)"
    )


@check("vae_convergence", "the KL term stays finite, >= 0 and bounded during training",
       hint="kl_loss is per example and summed over latent dimensions; it must never be negative")
def vae_kl_bounded(subject):
    kl = trained_vae(subject)["kl_loss"]
    assert np.all(np.isfinite(kl)) and np.all(kl >= -1e-4) and np.all(kl <= VAE_KL_BOUND), (
        f"mean KL per epoch {np.round(kl, 3).tolist()}: expected values in [0, {VAE_KL_BOUND:g}]"
    )


@check("vae_convergence", "the reconstruction gradient reaches the z_mean and z_log_var heads",
       weight=2.0, hint="no stop_gradient and no numpy in Sampler: z must be a differentiable "
                        "function of z_mean and z_log_var (the reparameterisation trick)")
def vae_gradient_flow(subject):
    moved = subject.probe("vae_gradient_flow", digits=digits()[:128], batch_size=32)
    for head in ("z_mean", "z_log_var"):
        change = float(moved[f"{head}_change"])
        assert change > 1e-7, (
            f"with only the reconstruction loss, the {head} head's weights moved by {change:.3g} "
            "after 4 training steps: no gradient flows back through the Sampler"
        )


def statistics_distance(images, data):
    """Per-channel distance of two image sets: |mean gap| / data std + |log std ratio|."""
    images, data = (np.asarray(x, np.float64).reshape(-1, 3) for x in (images, data))
    mean_gap = np.abs(images.mean(0) - data.mean(0)) / data.std(0)
    std_ratio = np.abs(np.log((images.std(0) + 1e-6) / data.std(0)))
    return float(np.mean(mean_gap + std_ratio))


@check("diffusion_convergence", f"the U-Net trains compiled: noise MAE ends below {DIFFUSION_FINAL_LOSS_BAND:g}",
       weight=2.0, hint="diffusion_schedule and denoise must use keras.ops (no numpy) so the train "
                        "step compiles, and denoise must return the network's prediction as is")
def diffusion_loss_falls(subject):
    loss = trained_diffusion(subject)["loss"]
    assert np.all(np.isfinite(loss)), f"non-finite loss per epoch: {loss.tolist()}"
    assert loss[-1] <= DIFFUSION_FINAL_LOSS_BAND, (
        f"noise MAE per epoch {np.round(loss, 3).tolist()}: expected it to end at or below "
        f"{DIFFUSION_FINAL_LOSS_BAND:g} (the reference ends near 0.26)"
    )


@check("diffusion_convergence", "generate on the trained model matches the data's colour statistics",
       weight=2.0, hint="generate must denoise from t = 1 down with the trained model and denormalise")
def diffusion_samples_improve(subject):
    out = trained_diffusion(subject)
    before = statistics_distance(out["untrained"], flowers())
    after = statistics_distance(out["generated"], flowers())
    assert after <= STATISTICS_BAND and after <= STATISTICS_GAIN * before, (
        f"distance of the samples' per-channel mean/std to the data's: {after:.3f} after training, "
        f"{before:.3f} before; expected <= {STATISTICS_BAND:g} and <= {STATISTICS_GAIN:g} x before"
    )
