"""Benchmark: the reference's training step vs the chapter's code as printed.

    KERAS_BACKEND=jax python bench/training_step.py [--steps 20]

Same architecture, same batch: the chapter's VAE (its Sampler, its KL
averaged over latent dimensions) and DiffusionModel (global `batch_size`,
methods inside the class) against genimg_ref's (fixed) ones. Median seconds
per `train_on_batch` after warm-up; ratio = chapter / reference, so >= 1.0
means the fixes cost nothing.
"""

import argparse
import statistics
import time

import keras
import numpy as np
from keras import ops

from genimg_kit.models import VAE, DiffusionModel as KitDiffusionModel
from genimg_kit.models import build_decoder, build_encoder, get_unet
from genimg_ref.diffusion import DiffusionModel as ReferenceDiffusionModel
from genimg_ref.vae import build_vae

BATCH_SIZE = 32
IMAGE_SIZE, WIDTHS, BLOCK_DEPTH = 32, [32, 64, 96, 128], 2


# --- the chapter's code, as printed ------------------------------------------

class ChapterSampler(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator()
        self.built = True

    def call(self, z_mean, z_log_var):
        batch_size = ops.shape(z_mean)[0]
        z_size = ops.shape(z_mean)[1]
        epsilon = keras.random.normal((batch_size, z_size), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def chapter_kl_loss(z_mean, z_log_var):
    # The chapter's KL: ops.mean over every element, i.e. averaged over latent dimensions.
    return ops.mean(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=-1)


def build_chapter_vae():
    """The chapter's VAE: its compute_loss is the kit's VAE's (line for line but for
    the KL's reduction), so the kit's model runs it with the chapter's pieces."""
    return VAE(build_encoder(2), build_decoder(2), ChapterSampler(), chapter_kl_loss)


batch_size = BATCH_SIZE  # the chapter's global, read inside DiffusionModel.call


class ChapterDiffusionModel(keras.Model):
    def __init__(self, image_size, widths, block_depth, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.denoising_model = get_unet(image_size, widths, block_depth)
        self.seed_generator = keras.random.SeedGenerator()
        self.loss = keras.losses.MeanAbsoluteError()
        self.normalizer = keras.layers.Normalization()

    def diffusion_schedule(self, diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95):
        start_angle = ops.cast(ops.arccos(max_signal_rate), "float32")
        end_angle = ops.cast(ops.arccos(min_signal_rate), "float32")
        diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)
        return ops.sin(diffusion_angles), ops.cos(diffusion_angles)

    def denoise(self, noisy_images, noise_rates, signal_rates):
        pred_noise_masks = self.denoising_model([noisy_images, noise_rates])
        pred_images = (noisy_images - noise_rates * pred_noise_masks) / signal_rates
        return pred_images, pred_noise_masks

    def call(self, images):
        images = self.normalizer(images)
        noise_masks = keras.random.normal(
            (batch_size, self.image_size, self.image_size, 3), seed=self.seed_generator)
        diffusion_times = keras.random.uniform(
            (batch_size, 1, 1, 1), minval=0.0, maxval=1.0, seed=self.seed_generator)
        noise_rates, signal_rates = self.diffusion_schedule(diffusion_times)
        noisy_images = signal_rates * images + noise_rates * noise_masks
        pred_images, pred_noise_masks = self.denoise(noisy_images, noise_rates, signal_rates)
        return pred_images, pred_noise_masks, noise_masks

    # The chapter's compute_loss is the kit's, line for line.
    compute_loss = KitDiffusionModel.compute_loss


# --- timing -------------------------------------------------------------------

def seconds_per_step(model, batch, steps):
    for _ in range(3):  # compile and warm up
        model.train_on_batch(batch)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.train_on_batch(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    digits = rng.uniform(0, 1, (BATCH_SIZE, 28, 28, 1)).astype("float32")
    images = rng.uniform(0, 255, (BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")

    chapter_vae = build_chapter_vae()
    reference_vae = build_vae(2)
    chapter_diffusion = ChapterDiffusionModel(IMAGE_SIZE, WIDTHS, BLOCK_DEPTH)
    reference_diffusion = ReferenceDiffusionModel(IMAGE_SIZE, WIDTHS, BLOCK_DEPTH)
    for model in (chapter_vae, reference_vae, chapter_diffusion, reference_diffusion):
        model.compile(optimizer=keras.optimizers.Adam())
    for model in (chapter_diffusion, reference_diffusion):
        model.normalizer.adapt(images)

    backend = keras.backend.backend()
    print(f"| model ({backend}, batch {BATCH_SIZE}) | chapter s/step | reference s/step | chapter / reference |")
    print("|---|---|---|---|")
    for name, chapter, reference, batch in (
        ("VAE", chapter_vae, reference_vae, digits),
        (f"diffusion {IMAGE_SIZE} px {WIDTHS}", chapter_diffusion, reference_diffusion, images),
    ):
        # Interleaved, so that load on the machine hits both alike.
        a, b = [], []
        for _ in range(3):
            a.append(seconds_per_step(chapter, batch, args.steps // 3))
            b.append(seconds_per_step(reference, batch, args.steps // 3))
        a, b = statistics.median(a), statistics.median(b)
        print(f"| {name} | {a:.4f} | {b:.4f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
