"""Public checks of `diffusion_schedule`: rates for diffusion times in [0, 1]."""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.assertions import assert_close, assert_flows
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match
from genimg_kit.checks.strategies import float_arrays
from genimg_kit.probes import diffusion_schedule as probes

time_shapes = st.sampled_from([(1,), (5,), (3, 1, 1, 1), (2, 1)])
bounds = st.tuples(st.floats(0.01, 0.4), st.floats(0.6, 0.99)).map(
    lambda b: np.array(b, np.float32)
)


def rates(subject, times, bounds=None, positional=False):
    arrays = {"times": np.asarray(times, np.float32)}
    if bounds is not None:
        arrays.update(bounds=bounds, positional=np.bool_(positional))
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
       given=st.one_of(st.none(), bounds))
def endpoints(subject, bounds):
    # bounds=None: called without them (the counterexample then says so, as the message does).
    if bounds is None:
        _, signal_rates = rates(subject, [0.0, 1.0])
        assert_close(signal_rates, [0.95, 0.02], "signal rates at t = 0 and 1, called without bounds "
                     "(the defaults: max_signal_rate=0.95, min_signal_rate=0.02)")
        return
    _, signal_rates = rates(subject, [0.0, 1.0], bounds)
    assert_close(signal_rates, [bounds[1], bounds[0]],
                 f"signal rates at t = 0 and 1 with min_signal_rate={bounds[0]:.4g}, "
                 f"max_signal_rate={bounds[1]:.4g}")


@check("diffusion_schedule", "noise rises and signal falls as t goes from 0 to 1",
       hint="t = 0 is almost clean, t = 1 almost pure noise")
def monotone(subject):
    times = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    noise_rates, signal_rates = rates(subject, times)
    for name, r, falls in (("signal rates", signal_rates, True), ("noise rates", noise_rates, False)):
        steps = -np.diff(r) if falls else np.diff(r)
        if not np.all(steps > 0):
            k = int(np.argmax(steps <= 0))
            raise AssertionError(
                f"{name} should {'decrease' if falls else 'increase'} with t (t = 0, 0.05, ..., 1), but "
                f"go from {r[k]:.4g} at t = {times[k]:.2f} to {r[k + 1]:.4g} at t = {times[k + 1]:.2f} "
                f"({r[0]:.4g} at t = 0, {r[-1]:.4g} at t = 1)")


@check("diffusion_schedule", "a cosine schedule: equally spaced times give equally spaced angles "
       "arccos(signal_rate)", weight=2.0,
       hint="interpolate the angle linearly in t, then take its cosine and sine; interpolating "
            "the signal rate itself is a linear schedule, not the cosine one",
       given=bounds)
def equal_angle_steps(subject, bounds):
    times = np.linspace(0.0, 1.0, 11, dtype=np.float32)
    _, signal_rates = rates(subject, times, bounds)
    assert signal_rates.shape == times.shape, f"expected shape {times.shape}, got {signal_rates.shape}"
    steps = np.diff(np.arccos(np.clip(signal_rates.astype(np.float64), -1.0, 1.0)))
    worst = int(np.argmax(np.abs(steps - steps.mean())))
    assert np.allclose(steps, steps.mean(), atol=1e-4), (
        f"with min_signal_rate={bounds[0]:.4g}, max_signal_rate={bounds[1]:.4g}, t = 0, 0.1, ..., 1: "
        f"expected the same angle step each time (on average {steps.mean():.5f} rad), got "
        f"{steps[worst]:.5f} rad from t={times[worst]:.1f} to t={times[worst + 1]:.1f}"
    )


# What the gradient checks (public and hidden) draw: six times in [0, 1] and the rate bounds.
times_and_bounds = (float_arrays((6,), 0.0, 1.0), bounds)


def rate_gradients(subject, times, bounds):
    out = subject.probe(probes.diffusion_schedule_gradients, times=times, bounds=bounds)
    for key, name in (("d_noise_rates", "noise_rates"), ("d_signal_rates", "signal_rates")):
        assert_flows(out, key, f"d {name} / dt")
        assert out[key].shape == times.shape, f"d {name} / dt: expected shape {times.shape}, got {out[key].shape}"
    return out["d_noise_rates"], out["d_signal_rates"]


@check("diffusion_schedule", "the rates are differentiable in t: noise rises and signal falls, "
       "with non-zero finite derivatives", weight=2.0,
       hint="compute with keras.ops on the times: ops.stop_gradient or numpy (np.cos, float(...)) "
            "cut the gradient, which then is zero or missing; a derivative of the wrong sign means "
            "a rate runs the wrong way in t",
       given=times_and_bounds)
def rates_have_gradients(subject, times, bounds):
    d_noise, d_signal = rate_gradients(subject, times, bounds)
    for name, d, sign in (("noise_rates", d_noise, 1), ("signal_rates", d_signal, -1)):
        wrong = ~(np.isfinite(d) & (sign * d > 0))
        if np.any(wrong):
            i = int(np.argmax(wrong))
            raise AssertionError(
                f"d {name} / dt at t={times[i]:.4g} (min_signal_rate={bounds[0]:.4g}, "
                f"max_signal_rate={bounds[1]:.4g}): expected a finite {'positive' if sign > 0 else 'negative'} "
                f"value, got {d[i]:.6g}" + (f" ({name} {'falls' if sign > 0 else 'rises'} with t)"
                                             if np.isfinite(d[i]) and sign * d[i] < 0 else "")
            )


@check("diffusion_schedule", "the bounds may be passed by position, in the signature's order: "
       "diffusion_schedule(t, min_signal_rate, max_signal_rate)",
       hint="keep the signature diffusion_schedule(diffusion_times, min_signal_rate=0.02, "
            "max_signal_rate=0.95): callers may pass the bounds without their names",
       given=bounds)
def positional_bounds(subject, bounds):
    times = np.linspace(0.0, 1.0, 5, dtype=np.float32)
    by_name = rates(subject, times, bounds)
    by_position = rates(subject, times, bounds, positional=True)
    call = f"diffusion_schedule(t, {bounds[0]:.4g}, {bounds[1]:.4g}) on t = 0, 0.25, ..., 1"
    for name, got, want in zip(("noise_rates", "signal_rates"), by_position, by_name):
        assert_close(got, want, f"{name} of {call}, against the same call with min_signal_rate= and "
                     "max_signal_rate= named")


CHECKS = (shapes_and_range, unit_circle, endpoints, monotone, equal_angle_steps, rates_have_gradients,
          positional_bounds)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

DIAGNOSTIC_TIMES = np.linspace(0.0, 1.0, 5, dtype=np.float32)
DIAGNOSTIC_BOUNDS = np.array([0.1, 0.8], np.float32)  # not the defaults: ignoring them shows


def catalogue(times, bounds):
    """What each catalogued mistake returns on these times and bounds: (noise, signal)."""
    t = times.astype(np.float64)
    low, high = (float(b) for b in bounds)
    start, end = np.arccos(high), np.arccos(low)
    angles = start + t * (end - start)
    linear = high - t * (high - low)
    default_angles = np.arccos(0.95) + t * (np.arccos(0.02) - np.arccos(0.95))
    return [
        (Misconception("schedule's rates returned in the wrong order",
                       "your rates match (signal_rates, noise_rates): the pair comes back swapped"),
         (np.cos(angles), np.sin(angles))),
        (Misconception("schedule running backwards in time",
                       "your rates match the schedule run backwards: t = 0 gives min_signal_rate "
                       "(the time reversed, or the two bounds' angles swapped)"),
         (np.sin(end + t * (start - end)), np.cos(end + t * (start - end)))),
        (Misconception("signal rate interpolated linearly",
                       "your rates match a signal rate interpolated linearly in t (a linear "
                       "schedule), not the angle"),
         (np.sqrt(1 - linear**2), linear)),
        (Misconception("noise rate taken as 1 - signal rate",
                       "your rates match noise_rates = 1 - signal_rates, off the unit circle"),
         (1 - np.cos(angles), np.cos(angles))),
        (Misconception("schedule's bounds ignored",
                       "your rates match the default bounds 0.02 and 0.95 although others were "
                       "passed: the arguments are ignored"),
         (np.sin(default_angles), np.cos(default_angles))),
    ]


def diagnose(subject):
    got = rates(subject, DIAGNOSTIC_TIMES, DIAGNOSTIC_BOUNDS)
    return first_match(got, catalogue(DIAGNOSTIC_TIMES, DIAGNOSTIC_BOUNDS))


DIAGNOSES = {"diffusion_schedule": diagnose}
