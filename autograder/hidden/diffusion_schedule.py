import numpy as np

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.diffusion_schedule import bounds, rate_gradients, rates, times_and_bounds


def cosine_angles(times, bounds):
    """The cosine schedule's angle at each time, and d angle / dt: from arccos(max) to arccos(min)."""
    start, end = np.arccos(np.float64(bounds[1])), np.arccos(np.float64(bounds[0]))
    return start + times.astype(np.float64) * (end - start), end - start


@check("diffusion_schedule", "the angle arccos(signal_rate) grows linearly in t (cosine schedule)",
       weight=2.0,
       hint="angle = arccos(max) + t * (arccos(min) - arccos(max)); rates = sin, cos of it",
       given=bounds)
def linear_angle(subject, bounds):
    times = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    noise_rates, signal_rates = rates(subject, times, bounds)
    angles, _ = cosine_angles(times, bounds)
    assert_close(signal_rates, np.cos(angles), "signal rates on t = 0, 0.1, ..., 1", atol=1e-5)
    assert_close(noise_rates, np.sin(angles), "noise rates on t = 0, 0.1, ..., 1", atol=1e-5)


@check("diffusion_schedule", "derivatives in t: d noise / dt = cos(angle) * (a1 - a0), "
       "d signal / dt = -sin(angle) * (a1 - a0)", weight=2.0,
       hint="the angle a0 + t * (a1 - a0), a0 = arccos(max), a1 = arccos(min), must be computed "
            "from the times with keras.ops, so that the rates' derivatives follow from it",
       given=times_and_bounds)
def exact_derivatives(subject, times, bounds):
    d_noise, d_signal = rate_gradients(subject, times, bounds)
    angles, span = cosine_angles(times, bounds)
    where = f"at t = {np.round(times, 4).tolist()}"
    assert_close(d_noise, np.cos(angles) * span, f"d noise_rates / dt {where}", rtol=1e-3)
    assert_close(d_signal, -np.sin(angles) * span, f"d signal_rates / dt {where}", rtol=1e-3)


CHECKS = (linear_angle, exact_derivatives)
