"""Statistical assertions with a stated false-alarm rate.

Each test rejects a correct implementation with probability ALPHA (per call,
for draws that really are N(0, 1)); a part makes at most a handful of such
calls, so a correct submission loses points by chance less than once in
several thousand gradings. Grading is seeded, so a given submission always
gets the same verdict.
"""

import numpy as np
from scipy import stats

ALPHA = 1e-4


def assert_standard_normal(samples, what):
    """Kolmogorov-Smirnov test of `samples` against N(0, 1)."""
    samples = np.asarray(samples, dtype=np.float64).ravel()
    assert np.all(np.isfinite(samples)), f"{what}: non-finite values"
    result = stats.kstest(samples, "norm")
    assert result.pvalue >= ALPHA, (
        f"{what} should be N(0, 1): over {samples.size} draws the mean is "
        f"{samples.mean():.3f} and the std {samples.std():.3f} (expected 0 and 1); "
        f"Kolmogorov-Smirnov D = {result.statistic:.3f}, p = {result.pvalue:.2g} < {ALPHA}"
    )
