"""Hypothesis strategies shared by the checks."""

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def floats(low, high):
    """float32 values in [low, high] (bounds rounded inwards to float32)."""
    low32, high32 = np.float32(low), np.float32(high)
    if low32 < low:
        low32 = np.nextafter(low32, np.float32(np.inf))
    if high32 > high:
        high32 = np.nextafter(high32, np.float32(-np.inf))
    return st.floats(float(low32), float(high32), width=32, allow_nan=False, allow_infinity=False)


def float_arrays(shape, low, high):
    return hnp.arrays(np.float32, shape, elements=floats(low, high))


# Shapes come from short lists: on JAX every new shape costs a compilation of
# each eager op, and a handful of shapes already catches hard-coded ones.
LATENT_SHAPES = [(1, 1), (2, 3), (5, 2), (3, 7)]


class LatentInputs(NamedTuple):
    """A counterexample shows its fields by name: `z_mean=[...], z_log_var=[...]`."""

    z_mean: np.ndarray
    z_log_var: np.ndarray


@st.composite
def mean_and_log_var(draw, mean_bound=3.0, log_var_range=(-4.0, 3.0)):
    """A (z_mean, z_log_var) pair of one drawn shape (batch, latent)."""
    shape = draw(st.sampled_from(LATENT_SHAPES))
    z_mean = draw(float_arrays(shape, -mean_bound, mean_bound))
    z_log_var = draw(float_arrays(shape, *log_var_range))
    return LatentInputs(z_mean, z_log_var)


def gaussian_array(seed, shape, scale=1.0):
    """Well-spread values (no runs of zeros), reproducible from `seed`."""
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


seeds = st.integers(0, 2**31 - 1)
small_shapes = st.sampled_from([(3,), (2, 5), (2, 3, 2)])
