"""Public checks of `slerp`: spherical interpolation between two tensors."""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.core import assert_close, check
from genimg_kit.checks.strategies import gaussian_array, seeds, small_shapes
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
        assert_close(out, want, f"slerp({t}, v1, v2) with v1={v1.tolist()}, v2={v2.tolist()}",
                     rtol=1e-3, atol=1e-4)


@check("slerp", "finite for parallel and identical inputs", weight=2.0,
       hint="when the vectors are (nearly) parallel, sin(theta) ~ 0: fall back to linear interpolation",
       given=(seeds, small_shapes, times, st.floats(0.5, 3.0)))
def parallel_inputs(subject, seed, shape, t, scale):
    v = gaussian_array(seed, shape)
    for v2, label in ((v.copy(), "identical"), ((scale * v).astype(np.float32), f"parallel ({scale:g} x v1)")):
        out = run(subject, t, v, v2)
        assert np.all(np.isfinite(out)), f"{label} inputs at t={t}: got {out.tolist()}"
        assert_close(out, (1 - t) * v + t * v2, f"{label} inputs at t={t}", rtol=1e-3, atol=1e-4)


CHECKS = (endpoints, parallel_inputs)
