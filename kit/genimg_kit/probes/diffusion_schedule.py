"""Probe of `diffusion_schedule`."""

from genimg_kit import probes


def diffusion_schedule(namespace, times, bounds=None):
    """`bounds` = [min_signal_rate, max_signal_rate], or absent for the defaults."""
    keras = probes.keras_module()
    schedule = probes.graded(namespace, "diffusion_schedule")
    times = keras.ops.convert_to_tensor(times)
    if bounds is None:
        out = schedule(times)
    else:
        out = schedule(times, min_signal_rate=float(bounds[0]), max_signal_rate=float(bounds[1]))
    noise_rates, signal_rates = probes.pair(out, "diffusion_schedule", "noise_rates, signal_rates")
    return {
        "noise_rates": probes.to_numpy(noise_rates, "noise_rates"),
        "signal_rates": probes.to_numpy(signal_rates, "signal_rates"),
    }


PROBES = (diffusion_schedule,)
