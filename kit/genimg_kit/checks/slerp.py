"""Public checks of `slerp`: spherical interpolation between two tensors."""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match
from genimg_kit.checks.strategies import gaussian_array, seeds, small_shapes
from genimg_kit.checks.verdicts import format_value
from genimg_kit.probes import slerp as probes

times = st.floats(0.0, 1.0)


def run(subject, t, v1, v2):
    return subject.probe(probes.slerp, t=np.float32(t), v1=v1, v2=v2)["out"]


def pair(seed, shape):
    return gaussian_array(seed, shape), gaussian_array(seed + 1, shape)


@check("slerp", "slerp(0, v1, v2) = v1 and slerp(1, v1, v2) = v2, same shape, float32", weight=2.0,
       hint="weights sin((1 - t) theta) / sin(theta) on v1 and sin(t theta) / sin(theta) on v2",
       given=(seeds, small_shapes))
def endpoints(subject, seed, shape):
    v1, v2 = pair(seed, shape)
    for t, want in ((0.0, v1), (1.0, v2)):
        out = run(subject, t, v1, v2)
        assert out.dtype == np.float32, f"expected float32 output, got {out.dtype}"
        assert_close(out, want, f"slerp({t}, v1, v2) with v1={format_value(v1)}, v2={format_value(v2)}",
                     rtol=1e-3, atol=1e-4)


@check("slerp", "finite for parallel and identical inputs", weight=2.0,
       hint="when the vectors are (nearly) parallel, sin(theta) ~ 0: fall back to linear interpolation",
       given=(seeds, small_shapes, times, st.floats(0.5, 3.0)))
def parallel_inputs(subject, seed, shape, t, scale):
    v = gaussian_array(seed, shape)
    for v2, label in ((v.copy(), "identical"), ((scale * v).astype(np.float32), f"parallel ({scale:g} x v1)")):
        out = run(subject, t, v, v2)
        assert np.all(np.isfinite(out)), f"{label} inputs at t={t:.4g}: got {format_value(out)}"
        assert_close(out, (1 - t) * v + t * v2, f"{label} inputs at t={t:.4g}", rtol=1e-3, atol=1e-4)


def equal_norm_pair(seed, shape):
    v1, v2 = pair(seed, shape)
    return v1, (v2 * np.linalg.norm(v1) / np.linalg.norm(v2)).astype(np.float32)


def angle(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))


# Public: it is what slerp is for. A linear (or normalised linear) interpolation
# passes the endpoints and parallel inputs and fails here.
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
        f"(v1={format_value(v1)}, v2={format_value(v2)})"
    )
    assert_close(np.linalg.norm(out), np.linalg.norm(v1), f"norm at t={t:.4g}", rtol=2e-3)


@check("slerp", "float32 out for float16, float32 and float64 inputs", weight=1.0,
       hint="cast v1 and v2 to float32 first, as the chapter does: a mixed-precision SD3 hands "
            "slerp float16 embeddings",
       given=(seeds, small_shapes, st.sampled_from(["float16", "float64"]), times))
def float32_out(subject, seed, shape, dtype, t):
    v1, v2 = (v.astype(dtype) for v in pair(seed, shape))
    out = run(subject, t, v1, v2)
    assert out.dtype == np.float32, (
        f"slerp({t:.4g}, v1, v2) with {dtype} v1 and v2: expected float32 output, got {out.dtype}"
    )


CHECKS = (endpoints, parallel_inputs, great_circle, float32_out)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

DIAGNOSTIC_V1 = np.array([1.0, 0.5, -0.5], np.float32)
DIAGNOSTIC_V2 = np.array([-0.4, 1.2, 0.8], np.float32)  # another norm, 96 degrees away
DIAGNOSTIC_TIMES = (0.25, 0.5, 0.75)


def _slerp(t, a, b, theta):
    return (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)


def catalogue(v1, v2):
    """What each catalogued mistake returns at DIAGNOSTIC_TIMES, stacked."""
    a, b = v1.astype(np.float64), v2.astype(np.float64)
    theta = angle(a, b)
    raw = np.arccos(np.clip(a @ b, -1, 1))
    ts = np.array(DIAGNOSTIC_TIMES)[:, None]
    lerp = (1 - ts) * a + ts * b
    norms = (1 - ts) * np.linalg.norm(a) + ts * np.linalg.norm(b)
    return [
        (Misconception("slerp written as linear interpolation",
                       "your outputs match (1 - t) * v1 + t * v2: the chord, not the arc"),
         (lerp,)),
        (Misconception("slerp written as normalised linear interpolation",
                       "your outputs match the linear interpolation rescaled to the interpolated "
                       "norm: the right path, at the wrong speed"),
         (lerp / np.linalg.norm(lerp, axis=-1, keepdims=True) * norms,)),
        (Misconception("slerp running from v2 to v1",
                       "your outputs match slerp(1 - t, v1, v2): the two weights trade places"),
         (np.stack([_slerp(1 - t, a, b, theta) for t in DIAGNOSTIC_TIMES]),)),
        (Misconception("slerp's angle not linear in t",
                       "your outputs match an angle of theta * t ** 2: slerp moves at constant "
                       "angular speed"),
         (np.stack([(np.sin(theta - theta * t * t) * a + np.sin(theta * t * t) * b) / np.sin(theta)
                    for t in DIAGNOSTIC_TIMES]),)),
        (Misconception("slerp's angle from unnormalised vectors",
                       "your outputs match an angle taken from v1 . v2 without dividing by the norms"),
         (np.stack([_slerp(t, a, b, raw) for t in DIAGNOSTIC_TIMES]),)),
    ]


def diagnose(subject):
    got = np.stack([run(subject, t, DIAGNOSTIC_V1, DIAGNOSTIC_V2) for t in DIAGNOSTIC_TIMES])
    return first_match((got,), catalogue(DIAGNOSTIC_V1, DIAGNOSTIC_V2))


DIAGNOSES = {"slerp": diagnose}
