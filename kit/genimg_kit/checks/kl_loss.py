"""Public checks of `kl_loss`: KL(N(mu, sigma^2) || N(0, I)) per example."""

import numpy as np

from genimg_kit.checks.assertions import assert_gradient
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match
from genimg_kit.checks.strategies import mean_and_log_var
from genimg_kit.checks.verdicts import format_value
from genimg_kit.probes import kl_loss as probes


def kl(subject, z_mean, z_log_var):
    return subject.probe(probes.kl_loss, z_mean=z_mean, z_log_var=z_log_var)["kl"]


@check("kl_loss", "returns one value per example: shape (batch,)",
       hint="reduce over the latent axis only (axis=-1), not over the batch",
       given=mean_and_log_var())
def per_example_shape(subject, inputs):
    out = kl(subject, *inputs)
    assert out.shape == (inputs[0].shape[0],), (
        f"for inputs of shape {inputs[0].shape} expected shape {(inputs[0].shape[0],)}, got {out.shape}"
    )


@check("kl_loss", "is >= 0, and > 0 away from N(0, I)",
       hint="KL = -0.5 * (1 + log_var - mean^2 - exp(log_var)), mind the leading minus",
       given=mean_and_log_var())
def non_negative(subject, inputs):
    z_mean, z_log_var = inputs
    out = kl(subject, z_mean, z_log_var).reshape(-1)
    assert np.all(np.isfinite(out)), f"got non-finite values {out}"
    assert np.all(out >= -1e-5), f"got a negative KL divergence {out.min():.6g}"
    away = np.max(np.abs(z_mean), axis=-1) + np.max(np.abs(z_log_var), axis=-1) > 0.1
    if out.shape == away.shape:
        assert np.all(out[away] > 1e-6), f"got KL {out[away].min():.3g} for a Gaussian that is not N(0, I)"


@check("kl_loss", "is exactly 0 at mean 0, log-variance 0",
       hint="at N(0, I) every term cancels: 1 + 0 - 0 - exp(0) = 0")
def zero_at_standard_normal(subject):
    zeros = np.zeros((3, 4), np.float32)
    out = kl(subject, zeros, zeros)
    assert np.allclose(out, 0.0, atol=1e-6), f"expected 0 for N(0, I), got {out}"


@check("kl_loss", "agrees with a Monte-Carlo estimate of the KL, summed over latent dimensions",
       weight=2.0,
       hint="sum over latent dimensions (the chapter's mean divides by latent_dim); "
            "z_log_var is log(sigma^2), not log(sigma)")
def monte_carlo(subject):
    rng = np.random.default_rng(0)
    z_mean = rng.uniform(-2, 2, size=(4, 3)).astype(np.float32)
    z_log_var = rng.uniform(-2, 1.5, size=(4, 3)).astype(np.float32)
    # KL(q || p) = E_q[log q(z) - log p(z)], estimated per dimension from draws of q,
    # in chunks (the 200,000 draws at once would hold ~100 MB of the grader's memory).
    n, chunks = 200_000, 10
    sigma = np.exp(0.5 * z_log_var.astype(np.float64))
    total, squares = np.zeros(4), np.zeros(4)
    for _ in range(chunks):
        eps = rng.normal(size=(n // chunks, 1, 1))
        z = z_mean + sigma * eps
        samples = ((-0.5 * eps**2 - np.log(sigma)) - (-0.5 * z**2)).sum(axis=-1)  # summed over latent dims
        total += samples.sum(axis=0)
        squares += (samples**2).sum(axis=0)
    estimate = total / n
    tolerance = 5 * np.sqrt(squares / n - estimate**2) / np.sqrt(n) + 1e-3
    out = kl(subject, z_mean, z_log_var)
    assert out.shape == (4,), f"expected shape (4,), got {out.shape}"
    worst = int(np.argmax(np.abs(out - estimate) / tolerance))
    assert np.all(np.abs(out - estimate) <= tolerance), (
        f"example {worst} (z_mean={format_value(z_mean[worst])}, z_log_var={format_value(z_log_var[worst])}): "
        f"Monte-Carlo KL is {estimate[worst]:.4f} +/- {tolerance[worst]:.4f}, got {out[worst]:.4f}"
    )


@check("kl_loss", "gradients: d sum(KL) / d z_mean = z_mean, d sum(KL) / d z_log_var = 0.5 * (exp(z_log_var) - 1)",
       weight=2.0,
       hint="the KL term trains the encoder through these gradients: none at all means they were cut "
            "(ops.stop_gradient, numpy on z_mean or z_log_var); a factor off means a constant of the "
            "formula is (the 0.5, the exp)",
       given=mean_and_log_var())
def gradients(subject, inputs):
    z_mean, z_log_var = inputs
    out = subject.probe(probes.kl_loss_gradients, z_mean=z_mean, z_log_var=z_log_var)
    assert_gradient(out, "d_z_mean", z_mean, "d sum(kl_loss) / d z_mean")
    want = 0.5 * np.expm1(z_log_var.astype(np.float64))
    assert_gradient(out, "d_z_log_var", want, "d sum(kl_loss) / d z_log_var")


CHECKS = (per_example_shape, non_negative, zero_at_standard_normal, monte_carlo, gradients)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

# Three latent dimensions: a mean and a sum over them differ threefold.
DIAGNOSTIC_MEAN = np.array([[0.5, -1.0, 1.5], [-0.25, 0.75, -2.0]], np.float32)
DIAGNOSTIC_LOG_VAR = np.array([[-0.5, 0.8, -1.2], [1.0, -0.3, 0.4]], np.float32)


def catalogue(z_mean, z_log_var):
    """What each catalogued mistake returns on these inputs (numpy, float64)."""
    m, v = z_mean.astype(np.float64), z_log_var.astype(np.float64)
    terms = 1 + v - m**2 - np.exp(v)
    return [
        (Misconception("KL averaged over the latent dimensions",
                       "your values match the KL averaged over the latent dimensions instead of "
                       "summed over them (the chapter's mean divides it by latent_dim)"),
         -0.5 * terms.mean(axis=-1)),
        (Misconception("KL with its sign flipped",
                       "your values match the KL with its sign flipped: -KL instead of KL"),
         0.5 * terms.sum(axis=-1)),
        (Misconception("KL summed over the batch too",
                       "your value matches the KL summed over the batch as well: one number "
                       "instead of one per example"),
         -0.5 * terms.sum()),
        (Misconception("KL reduced over the batch axis",
                       "your values match the KL reduced over the batch axis (axis=0) instead of "
                       "the latent one (axis=-1)"),
         -0.5 * terms.sum(axis=0)),
        (Misconception("log-variance used without exp",
                       "your values match a KL with z_log_var where exp(z_log_var) belongs"),
         -0.5 * (1 + v - m**2 - v).sum(axis=-1)),
        (Misconception("log-variance taken as log-sigma",
                       "your values match a KL that takes z_log_var as log(sigma): "
                       "2 * z_log_var and exp(2 * z_log_var)"),
         -0.5 * (1 + 2 * v - m**2 - np.exp(2 * v)).sum(axis=-1)),
        (Misconception("mean not squared",
                       "your values match a KL with z_mean where z_mean ** 2 belongs"),
         -0.5 * (1 + v - m - np.exp(v)).sum(axis=-1)),
        (Misconception("the 1 missing from the KL",
                       "your values match the KL without its 1 inside the sum"),
         -0.5 * (v - m**2 - np.exp(v)).sum(axis=-1)),
    ]


def diagnose(subject):
    got = kl(subject, DIAGNOSTIC_MEAN, DIAGNOSTIC_LOG_VAR)
    return first_match((got,), [(m, (want,)) for m, want in catalogue(DIAGNOSTIC_MEAN, DIAGNOSTIC_LOG_VAR)])


DIAGNOSES = {"kl_loss": diagnose}
