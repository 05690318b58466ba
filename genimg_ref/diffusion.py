"""The denoising diffusion model of chapter 17, section "Diffusion models".

Training adds noise to images at a random "diffusion time" t in [0, 1] and
teaches a U-Net to predict that noise; generation starts from pure noise and
walks t from 1 down to 0, denoising and re-noising a little less at each step
(deterministic DDIM sampling).
"""

import weakref

import keras
from keras import ops

from genimg_kit import models


def diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
    """The cosine schedule: rates for diffusion times in [0, 1], same shape.

    The angle grows linearly with t, from arccos(max_signal_rate) at t = 0 to
    arccos(min_signal_rate) at t = 1, and the rates are its sine and cosine,
    so noise_rates**2 + signal_rates**2 == 1 at every t.
    Returns (noise_rates, signal_rates).
    """
    start_angle = ops.arccos(max_signal_rate)
    end_angle = ops.arccos(min_signal_rate)
    diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)
    signal_rates = ops.cos(diffusion_angles)
    noise_rates = ops.sin(diffusion_angles)
    return noise_rates, signal_rates


def denoise(denoising_model, noisy_images, noise_rates, signal_rates):
    """Splits noisy images into predicted clean images and predicted noise.

    The network sees the noisy images and the noise rates (its notion of
    time); since noisy = signal_rate * image + noise_rate * noise, the image
    follows from the predicted noise by solving for it, at every rate the
    schedule gives: signal rates fall to 0.02 at the noisiest step. The two
    rates come from one schedule (noise_rates**2 + signal_rates**2 == 1).
    Returns (pred_images, pred_noise_masks).
    """
    pred_noise_masks = denoising_model([noisy_images, noise_rates])
    pred_images = (noisy_images - noise_rates * pred_noise_masks) / signal_rates
    return pred_images, pred_noise_masks


def generate(model, num_images, diffusion_steps):
    """Deterministic DDIM sampling, as in the chapter; images in [0, 255].

    `model` provides `image_size`, `seed_generator`, `normalizer` (with `mean`
    and `variance`) and `denoise(noisy_images, noise_rates, signal_rates)`.
    Steps run at times 1, 1 - 1/S, ..., 1/S; after each denoising the
    predicted image and noise are remixed with the *next* step's rates.
    """
    image_size = model.image_size
    noise = keras.random.normal(
        (num_images, image_size, image_size, 3), seed=model.seed_generator
    )
    step_size = 1.0 / diffusion_steps
    next_noisy_images = noise
    for step in range(diffusion_steps):
        noisy_images = next_noisy_images
        diffusion_times = ops.ones((num_images, 1, 1, 1)) - step * step_size
        noise_rates, signal_rates = diffusion_schedule(diffusion_times)
        pred_images, pred_noises = model.denoise(noisy_images, noise_rates, signal_rates)
        next_diffusion_times = diffusion_times - step_size
        next_noise_rates, next_signal_rates = diffusion_schedule(next_diffusion_times)
        next_noisy_images = next_signal_rates * pred_images + next_noise_rates * pred_noises
    images = model.normalizer.mean + pred_images * ops.sqrt(model.normalizer.variance)
    return ops.clip(images, 0.0, 255.0)


# ---------------------------------------------------------------------------
# Reference assembly (not graded): the kit's model wired to the pieces above.
# ---------------------------------------------------------------------------


class DiffusionModel(models.DiffusionModel):
    """The kit's `DiffusionModel` with this module's schedule, denoise and generate."""

    def __init__(self, image_size, widths, block_depth, **kwargs):
        super().__init__(
            image_size, widths, block_depth, diffusion_schedule, denoise, generate, **kwargs
        )


def train_diffusion(
    dataset,
    epochs,
    widths=(32, 64, 96, 128),
    block_depth=2,
    batch_size=None,
    learning_rate=1e-3,
    callbacks=(),
    seed=None,
    verbose="auto",
):
    """Trains a fresh `DiffusionModel` on images in [0, 255], as the chapter does.

    Args:
        dataset: a batched `tf.data.Dataset` (e.g. `load_flowers()`) or an
            array (N, s, s, 3); the image size is read from it.
        epochs: passes over the data.
        widths, block_depth: the U-Net's shape (the chapter's by default).
        batch_size: batch size for an array (Keras' default 32 when None);
            a dataset is already batched.
        learning_rate, callbacks, seed, verbose: passed on to
            `compile_diffusion_model`, `fit` and the model.

    The normaliser is adapted to the data first: the added noise has mean 0
    and variance 1, so the images must too. Returns (model, history).
    """
    shape = dataset.element_spec.shape if hasattr(dataset, "element_spec") else dataset.shape
    model = DiffusionModel(shape[1], list(widths), block_depth, seed=seed)
    model.normalizer.adapt(dataset)
    models.compile_diffusion_model(model, learning_rate=learning_rate)
    history = model.fit(
        dataset, epochs=epochs, batch_size=batch_size, callbacks=list(callbacks), verbose=verbose
    )
    return model, history


# ---------------------------------------------------------------------------
# A compiled sampler: `generate`, with the whole denoising loop compiled.
# ---------------------------------------------------------------------------

# model -> {(num_images, diffusion_steps): compiled sampling function}. Weak
# keys: a compiled function does not keep a discarded model alive.
_COMPILED_SAMPLERS = weakref.WeakKeyDictionary()


def generate_compiled(model, num_images, diffusion_steps):
    """The images `generate(model, num_images, diffusion_steps)` would return, faster.

    `generate` runs its loop in Python, dispatching every operation of every
    step on its own. Here the loop itself is compiled into one program:
    `jax.jit` of a `lax.fori_loop` over the U-Net's `stateless_call` on JAX,
    a `tf.function` around a `tf.while_loop` on TensorFlow. The compiled
    function is cached per (model, num_images, diffusion_steps); only the
    first call pays for compilation, and it reads the model's current weights
    on every call, so it stays valid while training goes on.

    The starting noise is drawn exactly as `generate` draws it (eagerly, from
    `model.seed_generator`), so from the same seed-generator state both return
    the same images, up to float32 rounding.
    """
    image_size = model.image_size
    noise = keras.random.normal(
        (num_images, image_size, image_size, 3), seed=model.seed_generator
    )
    pred_images = _compiled_sampler(model, num_images, diffusion_steps)(noise)
    images = model.normalizer.mean + pred_images * ops.sqrt(model.normalizer.variance)
    return ops.clip(images, 0.0, 255.0)


def _compiled_sampler(model, num_images, diffusion_steps):
    samplers = _COMPILED_SAMPLERS.setdefault(model, {})
    key = (num_images, diffusion_steps)
    if key not in samplers:
        compile_sampler = _SAMPLER_COMPILERS.get(keras.backend.backend())
        if compile_sampler is None:
            raise NotImplementedError(
                f"generate_compiled supports the jax and tensorflow backends, "
                f"not {keras.backend.backend()!r}; use generate()."
            )
        samplers[key] = compile_sampler(model.denoising_model, diffusion_steps)
    return samplers[key]


def _sampling_loop(predict_noise, noise, diffusion_steps):
    """`generate`'s loop as a `fori_loop`; returns the last predicted images.

    `predict_noise([noisy_images, noise_rates])` is the U-Net. The loop state
    is (next noisy images, predicted images): the final images are the last
    step's prediction, as in `generate`.
    """
    num_images = ops.shape(noise)[0]
    step_size = 1.0 / diffusion_steps
    # step * step_size rounded to float32 exactly as `generate` rounds it.
    offsets = ops.convert_to_tensor([i * step_size for i in range(diffusion_steps)])

    def step(index, state):
        noisy_images, _ = state
        diffusion_times = ops.ones((num_images, 1, 1, 1)) - offsets[index]
        noise_rates, signal_rates = diffusion_schedule(diffusion_times)
        pred_images, pred_noises = denoise(predict_noise, noisy_images, noise_rates, signal_rates)
        next_noise_rates, next_signal_rates = diffusion_schedule(diffusion_times - step_size)
        next_noisy_images = next_signal_rates * pred_images + next_noise_rates * pred_noises
        return next_noisy_images, pred_images

    _, pred_images = ops.fori_loop(0, diffusion_steps, step, (noise, noise))
    return pred_images


def _jax_sampler(network, diffusion_steps):
    import jax

    def sample(trainable_values, non_trainable_values, noise):
        # A pure function of the weights: jit traces it once, and the weights
        # enter as arguments rather than as constants baked into the program.
        def predict_noise(inputs):
            pred_noises, _ = network.stateless_call(
                trainable_values, non_trainable_values, inputs, training=False
            )
            return pred_noises

        return _sampling_loop(predict_noise, noise, diffusion_steps)

    compiled = jax.jit(sample)

    def run(noise):
        return compiled(
            [v.value for v in network.trainable_variables],
            [v.value for v in network.non_trainable_variables],
            noise,
        )

    return run


def _tensorflow_sampler(network, diffusion_steps):
    import tensorflow as tf

    # A tf.function reads the variables it captures at every call. Without
    # XLA: TensorFlow's own CPU kernels ran this loop faster than XLA did,
    # and gave bit-identical images to `generate`.
    @tf.function(jit_compile=False)
    def sample(noise):
        return _sampling_loop(
            lambda inputs: network(inputs, training=False), noise, diffusion_steps
        )

    return sample


_SAMPLER_COMPILERS = {"jax": _jax_sampler, "tensorflow": _tensorflow_sampler}
