"""Assertions the checks share: arrays that should agree, gradients that should flow.

Each says what went wrong in a student's terms (which value, at which index,
by how much), since its message becomes the check's verdict.
"""

import numpy as np


def assert_close(actual, expected, what, rtol=1e-4, atol=1e-5):
    """Asserts two arrays agree, saying where and by how much they differ."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{what}: expected shape {expected.shape}, got {actual.shape}"
    )
    assert np.all(np.isfinite(actual)), f"{what}: got non-finite values {actual.ravel()[:6]}"
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        index = np.unravel_index(np.argmax(np.abs(actual - expected)), actual.shape)
        raise AssertionError(
            f"{what}: expected {expected[index]:.6g} at index {tuple(int(i) for i in index)}, "
            f"got {actual[index]:.6g}{_factor(actual, expected, atol)}"
        )


def _factor(actual, expected, atol):
    """", k times the expected value everywhere" when `actual` is `expected` scaled by one
    factor k (a missing 0.5, a sign, a rate in the wrong place): the route is right, a
    constant is not. "" otherwise."""
    scale = max(atol, 1e-9) * 10
    counted = np.abs(expected) > scale
    if not counted.any() or np.any(np.abs(actual[~counted]) > scale):
        return ""
    ratios = actual[counted] / expected[counted]
    k = float(np.median(ratios))
    if np.isclose(k, 1.0, rtol=1e-3) or not np.allclose(ratios, k, rtol=1e-3, atol=1e-6):
        return ""
    return f": {k:.4g} times the expected value" + (" everywhere" if counted.sum() > 1 else "")


def assert_flows(out, key, what):
    """Asserts the gradient probe returned `key`: a missing key means no gradient flowed."""
    assert key in out, (
        f"{what}: expected a gradient, got none at all (the tape returned None: the value was "
        "detached with ops.stop_gradient, or computed outside the backend, e.g. with numpy)"
    )


def assert_gradient(out, key, expected, what, rtol=1e-4, atol=1e-5):
    """Asserts the gradient probe's `key` is `expected`."""
    assert_flows(out, key, what)
    assert_close(out[key], expected, what, rtol=rtol, atol=atol)
