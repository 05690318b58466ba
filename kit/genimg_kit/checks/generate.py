"""Public checks of `generate`: deterministic DDIM sampling from pure noise.

`generate` runs on a spy model, with a spy `diffusion_schedule` (a made-up
linear one) and a spy denoising network (a made-up function of its inputs),
see genimg_kit.probes.generate. The checks judge what the loop computes, not
its route: every correct route runs the network once per step, so the
network's recorded inputs are where a step's rates and noisy images are read,
and its predictions are recomputed here, with numpy.
"""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match, matches
from genimg_kit.checks.stats import assert_standard_normal
from genimg_kit.probes import generate as probes

# Chosen so that denormalised predictions leave [0, 255] and clipping matters.
MEAN = np.array([100.0, 128.0, 150.0], np.float32).reshape(1, 1, 1, 3)
VARIANCE = np.array([80.0, 90.0, 100.0], np.float32).reshape(1, 1, 1, 3) ** 2

# Drawn as (num_images, diffusion_steps, image_size).
NUM_IMAGES, DIFFUSION_STEPS, IMAGE_SIZE = st.integers(1, 2), st.integers(1, 5), st.just(4)
RUNS = (NUM_IMAGES, DIFFUSION_STEPS, IMAGE_SIZE)


def run(subject, num_images, diffusion_steps, image_size):
    return subject.probe(probes.generate, num_images=num_images, diffusion_steps=diffusion_steps,
                         image_size=image_size, mean=MEAN, variance=VARIANCE)


def expected_times(diffusion_steps):
    return 1.0 - np.arange(diffusion_steps) / diffusion_steps


def assert_network_calls(out, diffusion_steps):
    calls = int(out["network_calls"])
    assert calls == diffusion_steps, (
        f"with diffusion_steps={diffusion_steps}, the denoising network ran {calls} times; "
        "expected once per step"
    )


def predictions(out, k):
    """(pred_images, pred_noises) of network call k, recomputed from what the network saw.

    The signal rates are the spy schedule's partners of the noise rates the
    network saw: its rates lie on the unit circle.
    """
    noisy, noise_rates = out["noisy"][k].astype(np.float64), out["noise_rates"][k].astype(np.float64)
    signal_rates = np.sqrt(1.0 - noise_rates * noise_rates)
    return probes.split(noisy, noise_rates, signal_rates, probes.spy_noise_prediction(noisy, noise_rates, np))


def schedule_use(out, seen_rate):
    """What the loop asked of diffusion_schedule, for the message on a rate the network saw."""
    times = out["schedule_times"]
    if times.size == 0:
        return ("diffusion_schedule was never called (README contract: generate takes its rates "
                "from the global `diffusion_schedule`)")
    asked = "your loop asked diffusion_schedule for t = " + ", ".join(f"{t:.4g}" for t in times[:12])
    if not np.any(np.isclose(out["schedule_noise_rates"], seen_rate, atol=1e-5)):
        asked += "; diffusion_schedule never returned that noise rate"
    return asked


@check("generate", "returns (num_images, size, size, 3) images in [0, 255]",
       hint="denormalise with normalizer.mean and sqrt(normalizer.variance), then clip to [0, 255]",
       given=RUNS)
def output_shape_and_range(subject, num_images, diffusion_steps, image_size):
    images = run(subject, num_images, diffusion_steps, image_size)["images"]
    want = (num_images, image_size, image_size, 3)
    assert images.shape == want, f"expected shape {want}, got {images.shape}"
    assert np.all((images >= 0) & (images <= 255)), (
        f"values outside [0, 255]: min {images.min():.4g}, max {images.max():.4g}"
    )


@check("generate", "denoises diffusion_steps times, at t = 1, 1 - 1/S, ..., 1/S", weight=2.0,
       hint="start at t = 1 (pure noise) and step down by 1 / diffusion_steps; "
            "get each step's rates from diffusion_schedule and hand the network the noise rates",
       given=RUNS)
def steps_and_rates(subject, num_images, diffusion_steps, image_size):
    out = run(subject, num_images, diffusion_steps, image_size)
    assert_network_calls(out, diffusion_steps)
    times = expected_times(diffusion_steps)
    want, _ = probes.spy_schedule(times, np)
    for k in range(diffusion_steps):
        got = out["noise_rates"][k]
        seen = np.ravel(got)[0]
        assert np.allclose(got, want[k], atol=1e-5), (
            f"step {k} of {diffusion_steps}: expected the network to see the noise rate of "
            f"t = {times[k]:.4g} ({want[k]:.4g}), got {seen:.4g}; {schedule_use(out, seen)}"
        )


@check("generate", "starts from N(0, 1) noise of shape (num_images, size, size, 3)",
       hint="keras.random.normal((num_images, image_size, image_size, 3), seed=model.seed_generator)")
def starts_from_noise(subject):
    out = run(subject, 3, 2, 16)
    assert int(out["network_calls"]) >= 1, "generate never ran the denoising network"
    first = out["noisy"][0]
    assert first.shape == (3, 16, 16, 3), f"expected initial noise of shape (3, 16, 16, 3), got {first.shape}"
    # Pixels as examples, the 3 channels as dimensions.
    assert_standard_normal(first.reshape(-1, 3), "the images handed to the first denoising step")


@check("generate", "remixes each prediction with the NEXT step's rates", weight=2.0,
       hint="next_noisy = next_signal_rates * pred_images + next_noise_rates * pred_noises, "
            "with the rates of t - 1/diffusion_steps: the remixed images must be as noisy as "
            "the step that denoises them next expects",
       given=(NUM_IMAGES, st.integers(2, 5), IMAGE_SIZE))
def remix_with_next_rates(subject, num_images, diffusion_steps, image_size):
    out = run(subject, num_images, diffusion_steps, image_size)
    assert_network_calls(out, diffusion_steps)
    next_times = expected_times(diffusion_steps) - 1.0 / diffusion_steps
    next_noise, next_signal = probes.spy_schedule(next_times, np)
    for k in range(diffusion_steps - 1):
        pred_images, pred_noises = predictions(out, k)
        want = next_signal[k] * pred_images + next_noise[k] * pred_noises
        assert_close(out["noisy"][k + 1], want,
                     f"noisy images handed to step {k + 1} of {diffusion_steps} (the remix of step {k}'s "
                     f"predictions with the rates of t = {next_times[k]:.4g})", rtol=1e-3, atol=1e-3)


@check("generate", "returns the last prediction, denormalised and clipped", weight=2.0,
       hint="images = normalizer.mean + pred_images * sqrt(normalizer.variance), clipped to [0, 255], "
            "with pred_images from the last denoising step",
       given=RUNS)
def denormalised_output(subject, num_images, diffusion_steps, image_size):
    out = run(subject, num_images, diffusion_steps, image_size)
    assert int(out["network_calls"]) >= 1, "generate never ran the denoising network"
    pred_images, _ = predictions(out, -1)
    want = np.clip(MEAN + pred_images * np.sqrt(VARIANCE), 0.0, 255.0)
    assert_close(out["images"], want, "output images (the last network call's pred_images, "
                 "denormalised with the mean and the square root of the variance, then clipped)",
                 rtol=1e-3, atol=1e-2)


CHECKS = (output_shape_and_range, steps_and_rates, starts_from_noise, remix_with_next_rates, denormalised_output)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

def _step_count_mistake(calls, steps):
    if calls == steps + 1:
        return Misconception("one denoising step too many",
                             f"the network ran {calls} times for diffusion_steps={steps}: one step too many")
    if calls == 1 and steps > 1:
        return Misconception("a single denoising step",
                             f"the network ran once for diffusion_steps={steps}: the loop stops after one step")
    return None


def _loop_mistake(out, steps):
    """What the network saw, step by step, against the catalogued wrong loops."""
    seen = np.array([np.ravel(r)[0] for r in out["noise_rates"]], np.float64)
    if matches(seen, probes.spy_schedule(np.arange(steps) / steps, np)[0]):
        return Misconception("generation starting from the clean end",
                             "the network saw the noise rates of t = 0, 1/S, 2/S, ...: the loop "
                             "runs from the clean end instead of from t = 1")
    remixes = {"current": [], "swapped": []}
    next_noise, next_signal = probes.spy_schedule(expected_times(steps) - 1.0 / steps, np)
    for k in range(steps - 1):
        pred_images, pred_noises = predictions(out, k)
        noise_rate = seen[k]
        signal_rate = np.sqrt(1 - noise_rate**2)
        remixes["current"].append(matches(out["noisy"][k + 1], signal_rate * pred_images + noise_rate * pred_noises))
        remixes["swapped"].append(matches(out["noisy"][k + 1],
                                          next_noise[k] * pred_images + next_signal[k] * pred_noises))
    if steps > 1 and all(remixes["current"]):
        return Misconception("remix with the current step's rates",
                             "each step's predictions are remixed with the rates of the step just "
                             "taken, not the next one's: the images never get less noisy")
    if steps > 1 and all(remixes["swapped"]):
        return Misconception("remix weights swapped",
                             "the remix puts the next noise rate on the images and the next signal "
                             "rate on the noise: the weights trade places")
    return None


def _output_mistake(out):
    pred_images, pred_noises = predictions(out, -1)
    images = out["images"]
    last_noise, last_signal = probes.spy_schedule(np.array([0.0]), np)
    remixed = last_signal[0] * pred_images + last_noise[0] * pred_noises
    catalogue = [
        (Misconception("denormalisation skipped",
                       "your images match the last prediction as it is (or clipped): "
                       "normalizer.mean and sqrt(normalizer.variance) are never applied"),
         np.clip(pred_images, 0.0, 255.0)),
        (Misconception("variance used as the std when denormalising",
                       "your images match mean + pred_images * variance: the std is sqrt(variance)"),
         np.clip(MEAN + pred_images * VARIANCE, 0.0, 255.0)),
        (Misconception("images not clipped", "your images match the denormalised prediction "
                       "before clipping: values leave [0, 255]"),
         MEAN + pred_images * np.sqrt(VARIANCE)),
        (Misconception("the remixed noisy images returned",
                       "your images match the last remix (noisy images), denormalised: return "
                       "the last step's predicted images"),
         np.clip(MEAN + remixed * np.sqrt(VARIANCE), 0.0, 255.0)),
    ]
    return first_match((images,), [(m, (want,)) for m, want in catalogue], rtol=1e-3, atol=1e-2)


def diagnose(subject):
    steps = 4
    out = run(subject, 2, steps, 4)
    calls = int(out["network_calls"])
    if calls != steps:
        return _step_count_mistake(calls, steps)
    return _loop_mistake(out, steps) or _output_mistake(out)


DIAGNOSES = {"generate": diagnose}
