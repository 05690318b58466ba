"""Statistical assertions with a stated false-alarm rate and a stated power.

`assert_standard_normal` takes draws laid out as (examples, dimensions) that
should be independent N(0, 1) and runs five tests, each at ALPHA / 5, so that
it rejects draws that really are independent N(0, 1) with probability at most
ALPHA. A part makes at most a handful of such calls: a correct submission
loses points by chance less than once in several thousand gradings, and
grading is seeded, so a given submission always gets the same verdict.

    centre      each dimension's mean is 0: n * sum(mean_j^2) ~ chi2(d). Noise
                shared by every example moves a dimension's mean by a random
                amount, so this is also the test of dependence between examples.
    spread      the pooled sum of squares ~ chi2(n * d), two-sided: the std.
    shape       Kolmogorov-Smirnov of the pooled draws against N(0, 1).
    tails       D'Agostino and Pearson's test of their skewness and kurtosis
                (a truncated normal has too few draws in its tails).
    dependence  the correlations between dimensions: n * sum_{i<j} r_ij^2 ~
                chi2(d (d - 1) / 2).

Power: at the Sampler's design (4,000 examples of 4 dimensions) each of these
wrong distributions is detected with probability at least 0.999, as
tests/test_stats_power.py shows by simulation at that size: a standard
deviation 5 % off (0.95 or 1.05); Keras's truncated normal (cut at 2 std: std
0.88), and the same rescaled to std 1; uniform or Laplace noise with std 1; a
correlation of 0.15 between two dimensions, or one draw shared by every
dimension; a component shared by every example, correlating them by 0.1.
"""

import numpy as np
from scipy import stats

ALPHA = 1e-4
TESTS = ("centre", "spread", "shape", "tails", "dependence")


def p_values(draws):
    """{test: p-value} of the tests, for draws of shape (..., examples, dimensions):
    leading axes are independent samples (the power simulation tests thousands at once)."""
    draws = np.asarray(draws, dtype=np.float64)
    n, d = draws.shape[-2:]
    pooled = draws.reshape(*draws.shape[:-2], n * d)
    squares = np.sum(pooled * pooled, axis=-1)
    spread = 2.0 * np.minimum(stats.chi2.sf(squares, n * d), stats.chi2.cdf(squares, n * d))
    found = {
        "centre": stats.chi2.sf(n * np.sum(draws.mean(axis=-2) ** 2, axis=-1), d),
        "spread": np.minimum(spread, 1.0),
        # Kolmogorov's limit with Stephens' correction: exact to 3 digits from 35 draws,
        # and 1,000 times faster than kstwo's exact tail where D is large.
        "shape": stats.kstwobign.sf(_ks_distance(pooled) * (np.sqrt(n * d) + 0.12 + 0.11 / np.sqrt(n * d))),
        "tails": stats.normaltest(pooled, axis=-1).pvalue,
        "dependence": np.ones(draws.shape[:-2]),
    }
    if d > 1:
        r = _correlations(draws)[..., *np.triu_indices(d, 1)]
        found["dependence"] = stats.chi2.sf(n * np.sum(r * r, axis=-1), r.shape[-1])
    return found


def _ks_distance(pooled):
    """Kolmogorov-Smirnov's D of each row of `pooled` against N(0, 1)."""
    ordered = np.sort(pooled, axis=-1)
    cdf, size = stats.norm.cdf(ordered), ordered.shape[-1]
    steps = np.arange(1, size + 1) / size
    return np.maximum(np.max(steps - cdf, axis=-1), np.max(cdf - (steps - 1.0 / size), axis=-1))


def _correlations(draws):
    """The (..., d, d) correlation matrices between the dimensions."""
    centred = draws - draws.mean(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant dimension: NaN, and a failure
        scaled = centred / np.sqrt(np.sum(centred * centred, axis=-2, keepdims=True))
    return np.einsum("...ni,...nj->...ij", scaled, scaled)


def assert_standard_normal(draws, what):
    """Asserts that `draws` (examples, dimensions) are independent N(0, 1) draws,
    saying which property fails and by how much."""
    draws = np.asarray(draws, dtype=np.float64)
    assert draws.ndim == 2, f"{what}: expected (examples, dimensions), got shape {draws.shape}"
    assert np.all(np.isfinite(draws)), f"{what}: non-finite values"
    n, d = draws.shape
    level = ALPHA / len(TESTS)
    found = p_values(draws)
    failed = [test for test in TESTS if not float(found[test]) >= level]  # NaN fails
    if not failed:
        return
    test = failed[0]
    pooled = draws.ravel()
    evidence = {
        "centre": f"the means of its {d} dimensions are {_numbers(draws.mean(axis=0))} over {n} examples "
                  f"(expected 0 within about {3 / np.sqrt(n):.2g}: shifted noise, or noise shared by the examples)",
        "spread": f"the std over {pooled.size} draws is {pooled.std():.4f} "
                  f"(expected 1 within about {3 / np.sqrt(2 * pooled.size):.2g}); "
                  f"per dimension {_numbers(draws.std(axis=0))}",
        "shape": f"the draws are not normally shaped: Kolmogorov-Smirnov D = "
                 f"{_ks_distance(pooled):.4f} over {pooled.size} draws",
        "tails": f"the draws are not normally shaped: skewness {stats.skew(pooled):.3f} and excess "
                 f"kurtosis {stats.kurtosis(pooled):.3f} over {pooled.size} draws (expected 0 and 0; "
                 f"the share beyond 2 std is {np.mean(np.abs(pooled) > 2):.4f}, expected 0.0455)",
        "dependence": f"its dimensions are correlated: largest correlation "
                      f"{_largest_correlation(draws):.3f} over {n} examples (expected 0 within about "
                      f"{3 / np.sqrt(n):.2g}: each dimension needs its own draw)",
    }[test]
    raise AssertionError(f"{what} should be independent N(0, 1) draws: {evidence}; "
                         f"p = {float(found[test]):.2g} < {level:.2g}")


def _numbers(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values[:8]) + (", ...]" if len(values) > 8 else "]")


def _largest_correlation(draws):
    r = _correlations(draws)
    np.fill_diagonal(r, 0.0)
    return float(r.flat[np.argmax(np.abs(r))])
