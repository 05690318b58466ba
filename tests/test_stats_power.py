"""The Sampler's statistical check, by simulation at the size it uses: it rejects
each wrong distribution its docstring lists with probability at least 0.999, and
correct draws with probability near ALPHA (seeded: the same counts every run)."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from genimg_kit.checks import stats
from genimg_kit.checks.sampler import DESIGN_LOG_VARS, DESIGN_ROWS

pytestmark = pytest.mark.one_backend

SHAPE = (DESIGN_ROWS, len(DESIGN_LOG_VARS))  # what the Sampler's checks test
RUNS = 1000


def truncated(rng, shape):
    """Keras's truncated_normal: N(0, 1) redrawn beyond 2 std."""
    x = rng.standard_normal(shape)
    while (beyond := np.abs(x) > 2.0).any():
        x[beyond] = rng.standard_normal(int(beyond.sum()))
    return x


def correlated_pair(rng, shape, rho=0.15):
    x = rng.standard_normal(shape)
    x[..., 1] = rho * x[..., 0] + np.sqrt(1 - rho * rho) * x[..., 1]
    return x


def shared_by_examples(rng, shape, rho=0.1):
    """A draw per dimension (and sample) that every example shares."""
    shared = rng.standard_normal((*shape[:-2], 1, shape[-1]))
    return np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal(shape)


WRONG = {
    "std 0.95": lambda rng, shape: 0.95 * rng.standard_normal(shape),
    "std 1.05": lambda rng, shape: 1.05 * rng.standard_normal(shape),
    "truncated normal": truncated,
    "truncated normal, std 1": lambda rng, shape: truncated(rng, shape) / scipy_stats.truncnorm.std(-2.0, 2.0),
    "uniform, std 1": lambda rng, shape: rng.uniform(-np.sqrt(3), np.sqrt(3), shape),
    "Laplace, std 1": lambda rng, shape: rng.laplace(0.0, 1 / np.sqrt(2), shape),
    "two dimensions correlated by 0.15": correlated_pair,
    "one draw per example for every dimension": lambda rng, shape: np.repeat(
        rng.standard_normal((*shape[:-1], 1)), shape[-1], axis=-1),
    "examples correlated by 0.1": shared_by_examples,
}


def rejections(draw, seed, runs=RUNS, chunk=100):
    """How many of `runs` seeded samples of SHAPE from `draw` the check rejects."""
    rng = np.random.default_rng(seed)
    level = stats.ALPHA / len(stats.TESTS)
    rejected = 0
    for _ in range(runs // chunk):
        found = stats.p_values(draw(rng, (chunk, *SHAPE)))
        rejected += int(np.sum(~np.all(np.stack(list(found.values())) >= level, axis=0)))
    return rejected


@pytest.mark.parametrize("name", list(WRONG))
def test_each_wrong_distribution_is_detected_with_power_0_999(name):
    missed = RUNS - rejections(WRONG[name], seed=len(name))
    # Power 0.999 misses one in 1,000 on average: the check's own power is higher.
    assert missed <= 1, f"{name}: missed {missed} of {RUNS}"


def test_correct_draws_are_rarely_rejected():
    # ALPHA = 1e-4 rejects 0.1 of 1,000 on average.
    assert rejections(lambda rng, shape: rng.standard_normal(shape), seed=0) <= 1


def test_a_failure_names_the_property_and_the_figure():
    rng = np.random.default_rng(1)
    with pytest.raises(AssertionError, match=r"the std over 16000 draws is 0\.8"):
        stats.assert_standard_normal(0.9 * rng.standard_normal(SHAPE), "noise")
    with pytest.raises(AssertionError, match="dimensions are correlated: largest correlation 1.000"):
        stats.assert_standard_normal(np.repeat(rng.standard_normal((4000, 1)), 4, axis=1), "noise")
