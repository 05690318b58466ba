from hypothesis import strategies as st

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.slerp import pair, run
from genimg_kit.checks.strategies import seeds, small_shapes


@check("slerp", "symmetric: slerp(t, a, b) = slerp(1 - t, b, a)",
       hint="t = 0 must give v1",
       given=(seeds, small_shapes, st.floats(0.0, 1.0)))
def symmetric(subject, seed, shape, t):
    a, b = pair(seed, shape)
    assert_close(run(subject, t, a, b), run(subject, 1.0 - t, b, a),
                 f"slerp({t:.4g}, a, b) vs slerp({1 - t:.4g}, b, a)", rtol=1e-3, atol=1e-4)


CHECKS = (symmetric,)
