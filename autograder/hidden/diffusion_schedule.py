import numpy as np

from genimg_kit.checks.core import assert_close, check
from genimg_kit.checks.diffusion_schedule import bounds, rates


@check("diffusion_schedule", "the angle arccos(signal_rate) grows linearly in t (cosine schedule)",
       weight=2.0,
       hint="angle = arccos(max) + t * (arccos(min) - arccos(max)); rates = sin, cos of it",
       given=bounds)
def linear_angle(subject, bounds):
    times = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    noise_rates, signal_rates = rates(subject, times, bounds)
    start, end = np.arccos(np.float64(bounds[1])), np.arccos(np.float64(bounds[0]))
    angles = start + times.astype(np.float64) * (end - start)
    assert_close(signal_rates, np.cos(angles), "signal rates on t = 0, 0.1, ..., 1", atol=1e-5)
    assert_close(noise_rates, np.sin(angles), "noise rates on t = 0, 0.1, ..., 1", atol=1e-5)


CHECKS = (linear_angle,)
