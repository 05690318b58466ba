"""Public checks of `Sampler`: z = z_mean + exp(0.5 * z_log_var) * eps."""

import numpy as np
from scipy.stats import kurtosis as stats_kurtosis

from genimg_kit.checks.assertions import assert_gradient
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match
from genimg_kit.checks.stats import assert_standard_normal
from genimg_kit.checks.strategies import mean_and_log_var
from genimg_kit.probes import sampler as probes

# A fixed design for the moment tests: one column per (mean, log-variance)
# pair, many rows: the size at which checks.stats states its power.
DESIGN_MEANS = np.array([-3.0, 0.0, 0.5, 2.0], np.float32)
DESIGN_LOG_VARS = np.array([-4.0, 0.0, 1.5, -1.0], np.float32)
DESIGN_ROWS = 4000


def design():
    z_mean = np.tile(DESIGN_MEANS, (DESIGN_ROWS, 1))
    z_log_var = np.tile(DESIGN_LOG_VARS, (DESIGN_ROWS, 1))
    return z_mean, z_log_var


def assert_moments(z, z_mean, z_log_var, where):
    assert_standard_normal(
        (z - z_mean) / np.exp(0.5 * z_log_var),
        f"{where}, with the columns of z_mean {_row(z_mean)} and of z_log_var {_row(z_log_var)}: "
        "(z - z_mean) / exp(0.5 * z_log_var)",
    )


def _row(design_input):
    return "[" + ", ".join(f"{v:g}" for v in design_input[0]) + "]"


def assert_fresh(z, where):
    """z: (calls, batch, latent) drawn from identical inputs per row."""
    calls, batch = z.shape[0], z.shape[1]
    assert len(np.unique(z[0], axis=0)) == batch, (
        f"{where}: rows with the same mean and log-variance got identical noise; "
        "each example needs its own draw"
    )
    for k in range(1, calls):
        assert not np.allclose(z[k], z[0]), (
            f"{where}: call {k + 1} returned the same draws as call 1; the noise is frozen"
        )


@check("sampler", "output has the shape of z_mean for any batch and latent size",
       hint="draw eps with keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)",
       given=mean_and_log_var())
def output_shape(subject, inputs):
    z_mean, z_log_var = inputs
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=z_log_var, calls=1)["z"][0]
    assert z.shape == z_mean.shape, f"expected shape {z_mean.shape}, got {z.shape}"
    assert np.all(np.isfinite(z)), "got non-finite values"


@check("sampler", "(z - z_mean) / exp(0.5 * z_log_var) is N(0, 1) (eager)", weight=2.0,
       hint="z_log_var is a log-variance: std = exp(0.5 * z_log_var); eps must be normal, "
            "multiplied by the std and added to the mean")
def eager_moments(subject):
    z_mean, z_log_var = design()
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=z_log_var, calls=1)["z"][0]
    assert z.shape == z_mean.shape, f"expected shape {z_mean.shape}, got {z.shape}"
    assert_moments(z, z_mean, z_log_var, "eager call")


@check("sampler", "independent draws across examples and across calls (eager)",
       hint="let the SeedGenerator created in __init__ supply the seed; a literal seed repeats")
def eager_independence(subject):
    z_mean = np.zeros((64, 3), np.float32)
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=z_mean, calls=2)["z"]
    assert_fresh(z, "eager calls")


@check("sampler", "fresh N(0, 1) noise on every call inside a compiled model with an unknown batch size",
       weight=2.0,
       hint="inside jit/tf.function only keras.random with a SeedGenerator advances; "
            "numpy noise or a literal seed becomes a constant, and a fixed shape breaks batch None")
def compiled_draws(subject):
    z_mean, z_log_var = design()
    z = subject.probe(probes.sampler_compiled, z_mean=z_mean, z_log_var=z_log_var, calls=2)["z"]
    assert z.shape[1:] == z_mean.shape, f"expected shape {z_mean.shape}, got {z.shape[1:]}"
    assert_fresh(z, "compiled calls")
    assert_moments(z[1], z_mean, z_log_var, "compiled call")


@check("sampler", "gradients flow to both heads: d sum(z) / d z_mean = 1, "
       "d sum(z) / d z_log_var = 0.5 * (z - z_mean)", weight=2.0,
       hint="the reparameterisation trick exists for these gradients: none at all means they were cut "
            "(ops.stop_gradient, numpy on z_mean or z_log_var; only eps is a constant); a factor off "
            "means the std is (exp(0.5 * z_log_var))",
       given=mean_and_log_var())
def gradients(subject, inputs):
    z_mean, z_log_var = inputs
    out = subject.probe(probes.sampler_gradients, z_mean=z_mean, z_log_var=z_log_var)
    assert_gradient(out, "d_z_mean", np.ones_like(z_mean), "d sum(z) / d z_mean")
    # d z / d z_log_var = 0.5 * exp(0.5 * z_log_var) * eps, with the eps of this very call.
    want = 0.5 * (out["z"].astype(np.float64) - z_mean)
    assert_gradient(out, "d_z_log_var", want, "d sum(z) / d z_log_var", rtol=1e-3)


CHECKS = (output_shape, eager_moments, eager_independence, compiled_draws, gradients)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

def catalogue(log_vars):
    """Each catalogued mistake's (mean, std) per column of the standardised design draws."""
    v = log_vars.astype(np.float64)
    zero = np.zeros_like(v)
    return [
        (Misconception("variance used as the standard deviation",
                       "your draws' spread per column matches exp(z_log_var) instead of "
                       "exp(0.5 * z_log_var): the variance used as the std"),
         (zero, np.exp(0.5 * v))),
        (Misconception("log-variance taken as log-std",
                       "your draws' spread per column matches exp(0.25 * z_log_var): z_log_var "
                       "halved twice"),
         (zero, np.exp(-0.25 * v))),
        (Misconception("noise added to the std, not multiplied",
                       "your draws match z_mean + std + eps: the noise is added to the std "
                       "instead of multiplying it"),
         (np.ones_like(v), np.exp(-0.5 * v))),
        (Misconception("no noise drawn", "your draws have no spread at all: z = z_mean"),
         (zero, zero)),
    ]


def diagnose(subject):
    z_mean, z_log_var = design()
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=z_log_var, calls=1)["z"][0]
    standardised = (z.astype(np.float64) - z_mean) / np.exp(0.5 * z_log_var.astype(np.float64))
    mean, std = standardised.mean(axis=0), standardised.std(axis=0)
    found = first_match((mean, std), catalogue(DESIGN_LOG_VARS), rtol=0.05, atol=0.1)
    if found is not None:
        return found
    pooled = standardised.ravel() / standardised.std()
    # A normal puts 1.2 % of its draws beyond 2.5 std; a normal cut at 2 std (std 0.88) none.
    if np.mean(np.abs(pooled) > 2.5) < 1e-3 and abs(stats_kurtosis(pooled) + 0.63) < 0.15:
        return Misconception("truncated normal noise",
                             "your noise has no tails beyond 2 standard deviations: a truncated "
                             "normal (keras.random.truncated_normal?) instead of a normal")
    if abs(stats_kurtosis(pooled) + 1.2) < 0.15:
        return Misconception("uniform noise", "your noise is flat-topped, like a uniform draw "
                             "(keras.random.uniform?): eps must be normal")
    if np.min(np.corrcoef(standardised, rowvar=False)) > 0.9:
        return Misconception("one draw per example for every latent dimension",
                             "your noise is the same in every latent dimension of an example: "
                             "draw eps with the shape of z_mean, not (batch, 1)")
    scale = float(np.mean(std))
    if np.allclose(std, scale, rtol=0.03) and abs(scale - 1.0) > 0.03 and np.allclose(mean, 0.0, atol=0.1):
        return Misconception("noise scaled",
                             f"your noise's spread is {scale:.2f} times N(0, 1)'s "
                             f"({abs(scale - 1) * 100:.0f} % too {'narrow' if scale < 1 else 'wide'}): "
                             "is eps scaled?")
    return None


DIAGNOSES = {"sampler": diagnose}
