"""The denoising diffusion model of chapter 17, section "Diffusion models".

Training adds noise to images at a random "diffusion time" t in [0, 1] and
teaches a U-Net to predict that noise; generation starts from pure noise and
walks t from 1 down to 0, denoising and re-noising a little less at each step
(deterministic DDIM sampling).
"""

import keras
from keras import ops


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
    follows from the predicted noise by solving for it.
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
