"""Probe of `generate`: a spy network, model and schedule record what the loop computes.

Every correct `generate` runs the denoising network once per step, whether
through `model.denoise`, through `model.denoising_model` (solving for the
images itself) or through the global `denoise`: the spy model's `denoise`
and the global `denoise` stand-in both call the spy network and split its
prediction exactly as the chapter's `denoise` does, so all these routes give
the same numbers, and the network's inputs are where the checks look.
"""

import numpy as np

from genimg_kit import probes


def spy_schedule(times, xp):
    """A made-up schedule (linear noise rate) the spy hands to `generate`.

    `xp` is keras.ops (in the probe) or numpy (in the checks). Its rates lie
    on the unit circle, as every diffusion schedule's do.
    """
    noise_rates = 0.1 + 0.8 * times
    return noise_rates, xp.sqrt(1.0 - noise_rates * noise_rates)


def spy_noise_prediction(noisy_images, noise_rates, xp):
    """The spy network's made-up, deterministic noise prediction."""
    return 0.5 * xp.tanh(noisy_images) + noise_rates


def split(noisy_images, noise_rates, signal_rates, pred_noises):
    """(pred_images, pred_noises): the noisy images solved for the image, as `denoise` does."""
    return (noisy_images - noise_rates * pred_noises) / signal_rates, pred_noises


class SpyNetwork:
    """Stands in for the U-Net: records its inputs [noisy_images, noise_rates]."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise TypeError("denoising_model must be called with one list [noisy_images, noise_rates]")
        ops = probes.keras_module().ops
        noisy_images, noise_rates = (ops.convert_to_tensor(x, "float32") for x in inputs)
        probes.record(self.calls, (noisy_images, noise_rates), "network input")
        return spy_noise_prediction(noisy_images, noise_rates, ops)

    def predict(self, inputs, **kwargs):
        return probes.to_numpy(self(inputs), "network output")


def spy_denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    """The global `denoise` while `generate` runs: the chapter's split, through the spy network."""
    return split(noisy_images, noise_rates, signal_rates, denoising_model([noisy_images, noise_rates]))


class _Normalizer:
    def __init__(self, mean, variance):
        self.mean, self.variance = mean, variance


class SpyDiffusionModel:
    """What `generate` may use, as on the kit's DiffusionModel: image_size,
    seed_generator, normalizer, denoising_model, denoise(noisy_images,
    noise_rates, signal_rates), schedule_fn and denoise_fn."""

    def __init__(self, image_size, mean, variance, schedule):
        keras = probes.keras_module()
        self.image_size = image_size
        self.seed_generator = keras.random.SeedGenerator(1234)
        ops = keras.ops
        self.normalizer = _Normalizer(ops.convert_to_tensor(mean), ops.convert_to_tensor(variance))
        self.denoising_model = SpyNetwork()
        self.schedule_fn, self.denoise_fn = schedule, spy_denoise

    def denoise(self, noisy_images, noise_rates, signal_rates):
        return spy_denoise(self.denoising_model, noisy_images, noise_rates, signal_rates)


def _first_values(arrays):
    """One number per call (a call's times or rates are one value for the whole batch)."""
    return np.array([np.ravel(a)[0] if np.size(a) else np.nan for a in arrays], np.float64)


def generate(namespace, num_images, diffusion_steps, image_size, mean, variance):
    """Runs generate on a spy model, with the spy schedule as `diffusion_schedule`
    and `spy_denoise` as `denoise`.

    Returns the output images; per network call k, the noisy images and noise
    rates the network saw (stacked along a first axis of length
    network_calls); and per schedule call, its time and noise rate.
    """
    ops = probes.keras_module().ops
    schedule_calls = []

    def schedule(diffusion_times, *args, **kwargs):
        times = ops.convert_to_tensor(diffusion_times, "float32")
        rates = spy_schedule(times, ops)
        probes.record(schedule_calls, (times, rates[0]), "schedule value")
        return rates

    model = SpyDiffusionModel(int(image_size), mean, variance, schedule)
    generate_fn = probes.graded(namespace, "generate")
    # `generate` looks its helpers up in its own module's globals: the spies
    # stand in there, so that a bug of the student's own schedule or denoise
    # is not charged to generate.
    scope = getattr(generate_fn, "__globals__", namespace)
    missing = object()
    spies = {"diffusion_schedule": schedule, "denoise": spy_denoise}
    saved = {name: scope.get(name, missing) for name in spies}
    scope.update(spies)
    try:
        images = generate_fn(model, int(num_images), int(diffusion_steps))
    finally:
        for name, value in saved.items():
            if value is missing:
                del scope[name]
            else:
                scope[name] = value
    images = probes.to_numpy(images, "generate output")
    probes.wait_for_records()
    calls = model.denoising_model.calls
    result = {"images": images, "network_calls": np.array(len(calls))}
    for key, index in (("noisy", 0), ("noise_rates", 1)):
        try:
            result[key] = np.stack([c[index] for c in calls]) if calls else np.zeros(0)
        except ValueError:
            raise TypeError(f"generate handed the denoising network {key} of changing shapes") from None
    for key, index in (("schedule_times", 0), ("schedule_noise_rates", 1)):
        result[key] = _first_values([c[index] for c in schedule_calls])
    return result


PROBES = (generate,)
