"""Probes of `diffusion_schedule`: its rates, and their derivatives in the times."""

from genimg_kit import probes
from genimg_kit.probes.gradients import named_gradients, sum_gradients


def diffusion_schedule(namespace, times, bounds=None, positional=False):
    """`bounds` = [min_signal_rate, max_signal_rate], or absent for the defaults;
    passed by keyword, or in the signature's order when `positional`."""
    keras = probes.keras_module()
    schedule = probes.graded(namespace, "diffusion_schedule")
    times = keras.ops.convert_to_tensor(times)
    if bounds is None:
        out = schedule(times)
    elif positional:
        out = schedule(times, float(bounds[0]), float(bounds[1]))
    else:
        out = schedule(times, min_signal_rate=float(bounds[0]), max_signal_rate=float(bounds[1]))
    noise_rates, signal_rates = probes.pair(out, "diffusion_schedule", "noise_rates, signal_rates")
    return {
        "noise_rates": probes.to_numpy(noise_rates, "noise_rates"),
        "signal_rates": probes.to_numpy(signal_rates, "signal_rates"),
    }


def diffusion_schedule_gradients(namespace, times, bounds):
    """d noise_rates / dt and d signal_rates / dt, elementwise (the schedule is elementwise)."""
    schedule = probes.graded(namespace, "diffusion_schedule")

    def rates(t):
        out = schedule(t, min_signal_rate=float(bounds[0]), max_signal_rate=float(bounds[1]))
        return probes.pair(out, "diffusion_schedule", "noise_rates, signal_rates")

    _, ((d_noise,), (d_signal,)) = sum_gradients(rates, [times])
    return named_gradients([d_noise, d_signal], ["d_noise_rates", "d_signal_rates"])


PROBES = (diffusion_schedule, diffusion_schedule_gradients)
