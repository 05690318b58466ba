"""Public checks of `generate`: deterministic DDIM sampling from pure noise.

`generate` runs on a spy model and a spy `diffusion_schedule` (a made-up
linear one, see genimg_kit.probes.generate): the checks see every call the
loop makes.
"""

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.core import check
from genimg_kit.checks.stats import assert_standard_normal
from genimg_kit.probes import generate as probes

# Chosen so that denormalised predictions leave [0, 255] and clipping matters.
MEAN = np.array([100.0, 128.0, 150.0], np.float32).reshape(1, 1, 1, 3)
VARIANCE = np.array([80.0, 90.0, 100.0], np.float32).reshape(1, 1, 1, 3) ** 2

runs = st.tuples(st.integers(1, 2), st.integers(1, 5), st.just(4))


def run(subject, num_images, steps, image_size):
    return subject.probe(probes.generate, num_images=num_images, diffusion_steps=steps,
                         image_size=image_size, mean=MEAN, variance=VARIANCE)


def expected_times(steps):
    return 1.0 - np.arange(steps) / steps


@check("generate", "returns (num_images, size, size, 3) images in [0, 255]",
       hint="denormalise with normalizer.mean and sqrt(normalizer.variance), then clip to [0, 255]",
       given=runs)
def output_shape_and_range(subject, run_args):
    num_images, steps, size = run_args
    images = run(subject, num_images, steps, size)["images"]
    assert images.shape == (num_images, size, size, 3), (
        f"expected shape {(num_images, size, size, 3)}, got {images.shape}"
    )
    assert np.all((images >= 0) & (images <= 255)), (
        f"values outside [0, 255]: min {images.min():.4g}, max {images.max():.4g}"
    )


@check("generate", "denoises diffusion_steps times, at t = 1, 1 - 1/S, ..., 1/S", weight=2.0,
       hint="start at t = 1 (pure noise) and step down by 1 / diffusion_steps; "
            "get each step's rates from diffusion_schedule",
       given=runs)
def steps_and_rates(subject, run_args):
    num_images, steps, size = run_args
    out = run(subject, num_images, steps, size)
    calls = int(out["calls"])
    assert calls == steps, f"with diffusion_steps={steps}, model.denoise was called {calls} times"
    times = expected_times(steps)
    want_noise, want_signal = probes.spy_schedule(times, np)
    shape = (steps,) + (1,) * (out["noise_rates"].ndim - 1)
    got_noise = out["noise_rates"].reshape(steps, -1)[:, 0]
    got_signal = out["signal_rates"].reshape(steps, -1)[:, 0]
    for k in range(steps):
        assert np.allclose(out["noise_rates"][k], want_noise.reshape(shape)[k], atol=1e-5) and \
            np.allclose(out["signal_rates"][k], want_signal.reshape(shape)[k], atol=1e-5), (
            f"step {k} of {steps}: expected the rates of t = {times[k]:.4g} "
            f"(noise {want_noise[k]:.4g}, signal {want_signal[k]:.4g}), "
            f"got noise {got_noise[k]:.4g}, signal {got_signal[k]:.4g}"
        )


@check("generate", "starts from N(0, 1) noise of shape (num_images, size, size, 3)",
       hint="keras.random.normal((num_images, image_size, image_size, 3), seed=model.seed_generator)")
def starts_from_noise(subject):
    out = run(subject, 3, 2, 16)
    assert int(out["calls"]) >= 1, "model.denoise was never called"
    first = out["noisy"][0]
    assert first.shape == (3, 16, 16, 3), f"expected initial noise of shape (3, 16, 16, 3), got {first.shape}"
    assert_standard_normal(first, "the images handed to the first denoising step")


CHECKS = (output_shape_and_range, steps_and_rates, starts_from_noise)
