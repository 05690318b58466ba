import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.core import assert_close, check
from genimg_kit.checks.slerp import pair, run, times
from genimg_kit.checks.strategies import seeds, small_shapes


def equal_norm_pair(seed, shape):
    v1, v2 = pair(seed, shape)
    return v1, (v2 * np.linalg.norm(v1) / np.linalg.norm(v2)).astype(np.float32)


def angle(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))


@check("slerp", "for equal-norm inputs the angle to v1 is t * theta and the norm is kept", weight=2.0,
       hint="slerp moves along the great circle at constant speed; lerp cuts the chord",
       given=(seeds, small_shapes.filter(lambda s: np.prod(s) >= 2), times))
def great_circle(subject, seed, shape, t):
    v1, v2 = equal_norm_pair(seed, shape)
    theta = angle(v1, v2)
    out = run(subject, t, v1, v2)
    assert out.shape == v1.shape, f"expected shape {v1.shape}, got {out.shape}"
    assert abs(angle(out, v1) - t * theta) < 2e-3, (
        f"at t={t:.4g} the angle to v1 should be {t * theta:.4f} rad, got {angle(out, v1):.4f} "
        f"(v1={v1.tolist()}, v2={v2.tolist()})"
    )
    assert_close(np.linalg.norm(out), np.linalg.norm(v1), f"norm at t={t:.4g}", rtol=2e-3)


@check("slerp", "symmetric: slerp(t, a, b) = slerp(1 - t, b, a)",
       hint="t = 0 must give v1",
       given=(seeds, small_shapes, st.floats(0.0, 1.0)))
def symmetric(subject, seed, shape, t):
    a, b = pair(seed, shape)
    assert_close(run(subject, t, a, b), run(subject, 1.0 - t, b, a),
                 f"slerp({t:.4g}, a, b) vs slerp({1 - t:.4g}, b, a)", rtol=1e-3, atol=1e-4)


CHECKS = (great_circle, symmetric)
