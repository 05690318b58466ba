"""Probe of `generate`: a spy model and a spy schedule see every call the loop makes."""

import numpy as np

from genimg_kit import probes
from genimg_kit.probes.denoise import SpyNetwork


def spy_schedule(times, xp):
    """A made-up schedule (linear noise rate) the spy hands to `generate`.

    `xp` is keras.ops (in the probe) or numpy (in the checks).
    """
    noise_rates = 0.1 + 0.8 * times
    return noise_rates, xp.sqrt(1.0 - noise_rates * noise_rates)


def spy_prediction(noisy_images, noise_rates, signal_rates, xp):
    """Made-up, deterministic (pred_images, pred_noises) for the spy model."""
    return 1.5 * xp.tanh(noisy_images) + signal_rates, 0.5 * noisy_images - noise_rates


class _Normalizer:
    def __init__(self, mean, variance):
        self.mean, self.variance = mean, variance


class SpyDiffusionModel:
    """What `generate` may use: image_size, seed_generator, normalizer,
    denoising_model and denoise(noisy_images, noise_rates, signal_rates)."""

    def __init__(self, image_size, mean, variance):
        keras = probes.keras_module()
        self.image_size = image_size
        self.seed_generator = keras.random.SeedGenerator(1234)
        ops = keras.ops
        self.normalizer = _Normalizer(ops.convert_to_tensor(mean), ops.convert_to_tensor(variance))
        self.denoising_model = SpyNetwork(np.zeros((1, image_size, image_size, 3), "float32"))
        self.calls = []

    def denoise(self, noisy_images, noise_rates, signal_rates):
        ops = probes.keras_module().ops
        self.calls.append([probes.to_numpy(x, "denoise input")
                           for x in (noisy_images, noise_rates, signal_rates)])
        return spy_prediction(noisy_images, noise_rates, signal_rates, ops)


def generate(namespace, num_images, diffusion_steps, image_size, mean, variance):
    """Runs generate on a spy model, with the spy schedule as `diffusion_schedule`.

    Returns the output and, per denoising call k, the noisy images and rates
    the model was handed (arrays stacked along a first axis of length calls).
    """
    ops = probes.keras_module().ops
    model = SpyDiffusionModel(int(image_size), mean, variance)

    def schedule(diffusion_times, *args, **kwargs):
        return spy_schedule(ops.convert_to_tensor(diffusion_times, "float32"), ops)

    generate_fn = probes.graded(namespace, "generate")
    # `generate` looks diffusion_schedule up in its own module's globals.
    scope = getattr(generate_fn, "__globals__", namespace)
    missing = object()
    saved = scope.get("diffusion_schedule", missing)
    scope["diffusion_schedule"] = schedule
    try:
        images = generate_fn(model, int(num_images), int(diffusion_steps))
    finally:
        if saved is missing:
            del scope["diffusion_schedule"]
        else:
            scope["diffusion_schedule"] = saved
    result = {"images": probes.to_numpy(images, "generate output"), "calls": np.array(len(model.calls))}
    for key, index in (("noisy", 0), ("noise_rates", 1), ("signal_rates", 2)):
        try:
            result[key] = np.stack([c[index] for c in model.calls]) if model.calls else np.zeros(0)
        except ValueError:
            raise TypeError(f"generate handed model.denoise {key} of changing shapes") from None
    return result


PROBES = (generate,)
