"""Public checks of `diffusion_schedule`: rates for diffusion times in [0, 1]."""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.core import assert_close, check
from genimg_kit.checks.strategies import float_arrays
from genimg_kit.probes import diffusion_schedule as probes

time_shapes = st.sampled_from([(1,), (5,), (3, 1, 1, 1), (2, 1)])
bounds = st.tuples(st.floats(0.01, 0.4), st.floats(0.6, 0.99)).map(
    lambda b: np.array(b, np.float32)
)


def rates(subject, times, bounds=None):
    arrays = {"times": np.asarray(times, np.float32)}
    if bounds is not None:
        arrays["bounds"] = bounds
    out = subject.probe(probes.diffusion_schedule, **arrays)
    return out["noise_rates"], out["signal_rates"]


@check("diffusion_schedule", "returns (noise_rates, signal_rates) shaped like the times, in [0, 1]",
       hint="apply the formula elementwise; return the noise rates first",
       given=time_shapes.flatmap(lambda shape: float_arrays(shape, 0.0, 1.0)))
def shapes_and_range(subject, times):
    noise_rates, signal_rates = rates(subject, times)
    for name, r in (("noise_rates", noise_rates), ("signal_rates", signal_rates)):
        assert r.shape == times.shape, f"{name}: expected shape {times.shape}, got {r.shape}"
        assert np.all((r >= -1e-6) & (r <= 1 + 1e-6)), f"{name} outside [0, 1]: {r.ravel()}"


@check("diffusion_schedule", "noise_rates**2 + signal_rates**2 == 1",
       hint="take sin and cos of the same angle",
       given=(float_arrays((6,), 0.0, 1.0), bounds))
def unit_circle(subject, times, bounds):
    noise_rates, signal_rates = rates(subject, times, bounds)
    assert_close(noise_rates**2 + signal_rates**2, np.ones_like(times), "noise**2 + signal**2")


@check("diffusion_schedule", "signal rate is max_signal_rate at t = 0 and min_signal_rate at t = 1",
       weight=2.0,
       hint="the angle runs from arccos(max_signal_rate) at t = 0 to arccos(min_signal_rate) at t = 1; "
            "use the arguments, not fixed numbers",
       given=bounds)
def endpoints(subject, bounds):
    # The default bounds first (deterministic: every example gives it the same verdict).
    _, signal_rates = rates(subject, [0.0, 1.0])
    assert_close(signal_rates, [0.95, 0.02], "signal rates at t = 0 and 1 with the default bounds")
    _, signal_rates = rates(subject, [0.0, 1.0], bounds)
    assert_close(signal_rates, [bounds[1], bounds[0]],
                 f"signal rates at t = 0 and 1 with min_signal_rate={bounds[0]:.4g}, "
                 f"max_signal_rate={bounds[1]:.4g}")


@check("diffusion_schedule", "noise rises and signal falls as t goes from 0 to 1",
       hint="t = 0 is almost clean, t = 1 almost pure noise")
def monotone(subject):
    times = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    noise_rates, signal_rates = rates(subject, times)
    assert np.all(np.diff(signal_rates) < 0), f"signal rates should decrease with t, got {signal_rates}"
    assert np.all(np.diff(noise_rates) > 0), f"noise rates should increase with t, got {noise_rates}"


CHECKS = (shapes_and_range, unit_circle, endpoints, monotone)
