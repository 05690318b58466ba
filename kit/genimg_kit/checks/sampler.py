"""Public checks of `Sampler`: z = z_mean + exp(0.5 * z_log_var) * eps."""

import numpy as np

from genimg_kit.checks.assertions import assert_gradient
from genimg_kit.checks.core import check
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
       hint="the reparameterisation trick exists for these gradients: no ops.stop_gradient and no "
            "numpy on z_mean or z_log_var; only eps is a constant",
       given=mean_and_log_var())
def gradients(subject, inputs):
    z_mean, z_log_var = inputs
    out = subject.probe(probes.sampler_gradients, z_mean=z_mean, z_log_var=z_log_var)
    assert_gradient(out, "d_z_mean", np.ones_like(z_mean), "d sum(z) / d z_mean")
    # d z / d z_log_var = 0.5 * exp(0.5 * z_log_var) * eps, with the eps of this very call.
    want = 0.5 * (out["z"].astype(np.float64) - z_mean)
    assert_gradient(out, "d_z_log_var", want, "d sum(z) / d z_log_var", rtol=1e-3)


CHECKS = (output_shape, eager_moments, eager_independence, compiled_draws, gradients)
