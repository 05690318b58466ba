"""Trains the kit's tiny text-to-image model on captioned, drawn flowers.

    taskset -c 1 python bench/train_tiny_sd3.py [--out PATH] [--seed 0]

The result, `kit/genimg_kit/weights/tiny_sd3_flowers.npz`, is what
`genimg_kit.tiny_sd3.trained_tiny_sd3()` loads, and what `load_sd3()` falls
back to offline. Everything comes from KerasHub's own Stable Diffusion 3
classes (`flower_sd3_architecture()`); only the weights are learned here, in
two stages, the way latent diffusion models are trained:

1. **The VAE** learns to squeeze a 64 x 64 flower into (8, 8, 16) latents and
   back (a reconstruction loss and a small KL term). The latents' mean and
   spread then become the backbone's `shift` and `scale`, which bring them to
   zero mean and unit variance for the diffuser.
2. **The MMDiT and both CLIP text encoders** learn, together, rectified flow:
   a noisy latent `x = (1 - sigma) * x0 + sigma * noise` should predict the
   velocity `noise - x0`, which is what `FlowMatchEulerDiscreteScheduler`'s
   Euler steps follow from `sigma = 1` (pure noise) to `sigma = 0`. Noise
   levels are drawn as the sampler visits them (uniform, then shifted by the
   scheduler's `shift`). The caption of 15% of the images is replaced by the
   empty prompt, so the model also learns the unconditional velocity that
   classifier-free guidance and negative prompts subtract.

Each flower's caption is written from the parameters it was drawn with:
petal colour by name, number of petals, centre colour, in one of several
phrasings (`CAPTION_TEMPLATES`), e.g. "a flower with six pink petals" or
"blue color" (the chapter's negative prompt). Drawing reuses the kit's
procedural flowers (`genimg_kit.data`), with named petal colours.

Seeded: the same `--seed` draws the same flowers and captions and starts from
the same weights. TensorFlow runs it (set here unless `KERAS_BACKEND` says
otherwise): on a CPU it trains these small convolutions and attention layers
about twice as fast as JAX. The run prints its wall time per stage.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from genimg_kit import data  # noqa: E402
from genimg_kit.tiny_sd3 import (  # noqa: E402
    CENTRE_COLOURS,
    FLOWER_WEIGHTS,
    PETAL_COLOURS,
    PETAL_NUMBERS,
    TINY_IMAGE_SHAPE,
    flower_sd3_architecture,
    save_flower_sd3,
)

# Petal colours, RGB in 0..255, in the order of `PETAL_COLOURS`.
PETAL_RGB = np.array(
    [
        [225, 35, 35],  # red
        [245, 135, 25],  # orange
        [245, 215, 45],  # yellow
        [245, 135, 190],  # pink
        [140, 60, 200],  # purple
        [40, 90, 230],  # blue
        [235, 235, 235],  # white
    ],
    dtype="float32",
)
# One is chosen per flower. {colour} is the petals' colour ({a_colour}: "a
# red", "an orange"), {number} the number of petals in words, {a_centre} the
# centre's colour ("a brown").
CAPTION_TEMPLATES = (
    "{a_colour} flower",
    "a photo of {a_colour} flower",
    "{colour} color",
    "a flower of {colour} colour",
    "{a_colour} flower with {number} petals",
    "a flower with {number} {colour} petals",
    "{a_colour} flower with {a_centre} centre",
    "a flower with {colour} petals and {a_centre} center",
    "a flower with {number} petals",
    "a flower with {a_centre} centre",
)
PROMPT_DROPOUT = 0.15  # Share of training images shown with the empty prompt.
BACKGROUND_GRID = 4  # `data._draw` blurs a 4 x 4 grid of noise into the background.


def captioned_flowers(num_images, seed=0):
    """Draws flowers with named colours, and writes a caption for each.

    Like `genimg_kit.data.procedural_flowers` (rose-curve petals, a disc, a
    blurred green background), but each flower's petal colour is one of
    `PETAL_COLOURS` (its shade varies a little), its number of petals 5 to 9,
    its centre one of `CENTRE_COLOURS`, and it is drawn near the middle, so
    that a caption can say what it shows.

    Returns:
        `(images, captions)`: uint8 images `(num_images, 64, 64, 3)`, and a
        list of `num_images` strings.
    """
    rng = np.random.default_rng(seed)
    colour = rng.integers(len(PETAL_COLOURS), size=num_images)
    centre = rng.integers(len(CENTRE_COLOURS), size=num_images)
    petals = rng.integers(5, 10, size=num_images)
    u = rng.random((num_images, 10), dtype="float32")
    shade = 0.85 + 0.15 * u[:, 6:7] + rng.normal(0, 0.04, (num_images, 3))
    parameters = {
        "cx": 0.42 + 0.16 * u[:, 0],
        "cy": 0.42 + 0.16 * u[:, 1],
        "radius": 0.3 + 0.12 * u[:, 2],
        "petals": petals.astype("float32"),
        "rotation": 2 * np.pi * u[:, 3],
        "sharpness": 0.3 + 0.9 * u[:, 4],
        "centre": 0.18 + 0.12 * u[:, 5],
        "petal_rgb": np.clip(PETAL_RGB[colour] * shade, 0, 255),
        # `_centre_colour` picks yellow, orange or brown from thirds of [0, 1).
        "centre_rgb": data._centre_colour((centre + 0.5) / 3, u[:, 7]),
        "background_rgb": data._background_colour(u[:, 7], u[:, 8], u[:, 9]),
        "noise": rng.random(
            (num_images, BACKGROUND_GRID, BACKGROUND_GRID), dtype="float32"
        ),
    }
    images = data._draw(parameters, TINY_IMAGE_SHAPE[0], BACKGROUND_GRID)
    templates = rng.integers(len(CAPTION_TEMPLATES), size=num_images)
    captions = [
        CAPTION_TEMPLATES[t].format(
            colour=PETAL_COLOURS[c],
            a_colour=with_article(PETAL_COLOURS[c]),
            number=PETAL_NUMBERS[p - 5],
            a_centre=with_article(CENTRE_COLOURS[d]),
        )
        for t, c, p, d in zip(templates, colour, petals, centre)
    ]
    return images.round().astype("uint8"), captions


def with_article(word):
    """ "a red", "an orange": the word after its indefinite article."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def to_unit_range(images):
    """uint8 images to float32 in [-1, 1], the range SD3's VAE decodes to."""
    return images.astype("float32") / 127.5 - 1.0


def kl_divergence(_, moments):
    """KL divergence from N(0, 1) of the encoder's Gaussians, per latent value.

    The encoder outputs the means and log-variances of the latents, stacked
    along the channels, as `VAEBackbone`'s sampler reads them.
    """
    mean, log_var = ops.split(moments, 2, axis=-1)
    log_var = ops.clip(log_var, -30.0, 20.0)
    return 0.5 * ops.mean(mean**2 + ops.exp(log_var) - 1.0 - log_var)


def vae_trainer(vae):
    """A model around `vae` that samples its latents with given noise.

    Inputs: images in [-1, 1] and standard normal noise of the latents'
    shape (drawn outside, so training is seeded by NumPy alone). Outputs:
    the reconstruction and the encoder's moments (for `kl_divergence`).
    """
    images = keras.Input(TINY_IMAGE_SHAPE)
    noise = keras.Input((8, 8, 16))
    moments = vae.encoder(images)
    mean, log_var = ops.split(moments, 2, axis=-1)
    latents = mean + ops.exp(0.5 * ops.clip(log_var, -30.0, 20.0)) * noise
    return keras.Model([images, noise], [vae.decoder(latents), moments])


def train_vae(vae, images, steps, batch_size, rng):
    """Trains the VAE to reconstruct `images` (uint8); returns its final loss."""
    trainer = vae_trainer(vae)
    trainer.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(1e-3, steps, alpha=0.05)
        ),
        loss=["mse", kl_divergence],
        loss_weights=[1.0, 1e-4],
    )
    losses = []
    for step in range(steps):
        batch = to_unit_range(images[rng.integers(len(images), size=batch_size)])
        noise = rng.standard_normal((batch_size, 8, 8, 16), dtype="float32")
        losses.append(trainer.train_on_batch([batch, noise], [batch, batch])[0])
        report_progress("VAE", step, steps, losses)
    return float(np.mean(losses[-100:]))


def encode(vae, images, batch_size=250):
    """The VAE's latents (their means) for uint8 `images`, as NumPy."""
    encoder = keras.Model(vae.inputs, vae.encode(vae.inputs[0]))
    return np.concatenate(
        [
            encoder.predict_on_batch(to_unit_range(images[i : i + batch_size]))
            for i in range(0, len(images), batch_size)
        ]
    )


def velocity_model(backbone):
    """The diffuser as a Keras model: (noisy latents, prompts, time) -> velocity.

    The prompts go through the backbone's own `encode_text_step`, so the
    CLIP encoders learn with the MMDiT, and the diffuser sees its inputs as
    `denoise_step` gives them at sampling time. `encode_text_step` always
    encodes a negative prompt too: here it gets the first row only, and its
    output is not used.
    """
    latents = keras.Input(backbone.latent_shape[1:], name="latents")
    timesteps = keras.Input((), name="timesteps")
    token_ids = {
        name: keras.Input((77,), dtype="int32", name=name)
        for name in ("clip_l", "clip_g")
    }
    unused = {name: ops.slice(ids, (0, 0), (1, 77)) for name, ids in token_ids.items()}
    context, _, pooled, _ = backbone.encode_text_step(token_ids, unused)
    velocity = backbone.diffuser(
        {
            "latent": latents,
            "context": context,
            "pooled_projection": pooled,
            "timestep": timesteps,
        }
    )
    return keras.Model([latents, token_ids, timesteps], velocity)


def flow_matching_batch(latents, token_ids, empty_ids, batch_size, shift, rng):
    """One batch of the rectified-flow objective, drawn with `rng`.

    Returns `(inputs, target)`: inputs are the noisy latents
    `(1 - sigma) * x0 + sigma * noise`, the captions' token ids (the empty
    prompt's for `PROMPT_DROPOUT` of them) and the time `1000 * sigma` the
    scheduler hands the diffuser; the target is the velocity `noise - x0`.
    """
    index = rng.integers(len(latents), size=batch_size)
    x0 = latents[index]
    noise = rng.standard_normal(x0.shape, dtype="float32")
    u = rng.random(batch_size, dtype="float32")
    sigma = shift * u / (1 + (shift - 1) * u)  # The scheduler's shifted times.
    s = sigma[:, None, None, None]
    dropped = rng.random(batch_size) < PROMPT_DROPOUT
    ids = {
        name: np.where(dropped[:, None], empty_ids[name], ids[index])
        for name, ids in token_ids.items()
    }
    inputs = [(1 - s) * x0 + s * noise, ids, 1000 * sigma]
    return inputs, noise - x0


def train_diffuser(backbone, latents, token_ids, empty_ids, steps, batch_size, rng):
    """Trains the MMDiT and the CLIP encoders; returns the final loss.

    Adam with a cosine-decaying rate, gradients clipped to norm 1, and an
    exponential moving average of the weights, which become the model's
    weights at the end (diffusion samples are much cleaner from the average).
    """
    model = velocity_model(backbone)
    warmup = min(200, steps // 10)
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(
            0.0, steps - warmup, alpha=0.02, warmup_target=1e-3, warmup_steps=warmup
        ),
        global_clipnorm=1.0,
        use_ema=True,
        ema_momentum=0.998,
    )
    model.compile(optimizer=optimizer, loss="mse")
    losses = []
    for step in range(steps):
        inputs, target = flow_matching_batch(
            latents, token_ids, empty_ids, batch_size, backbone.shift, rng
        )
        losses.append(model.train_on_batch(inputs, target))
        report_progress("MMDiT", step, steps, losses)
    optimizer.finalize_variable_values(model.trainable_variables)
    return float(np.mean(losses[-100:]))


def tokenize(task, captions):
    """Token ids of `captions`, as NumPy arrays keyed "clip_l" and "clip_g"."""
    ids = task.preprocessor.generate_preprocess(list(captions))
    return {name: np.asarray(ops.convert_to_numpy(x)) for name, x in ids.items()}


def copy_weights(source, target):
    """Assigns the weights of one layer to another of the same architecture."""
    for s, t in zip(source.weights, target.weights, strict=True):
        t.assign(s.value)


_START = time.time()


def report_progress(stage, step, steps, losses, every=250):
    """Prints the mean loss of the last `every` steps, and the time so far."""
    if (step + 1) % every == 0 or step + 1 == steps:
        print(
            f"{stage} step {step + 1}/{steps}: loss {np.mean(losses[-every:]):.4f}, "
            f"{time.time() - _START:.0f} s",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=FLOWER_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--vae-steps", type=int, default=1500)
    parser.add_argument("--vae-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=9000)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    images, captions = captioned_flowers(args.images, seed=args.seed)
    timings = {"data": time.time() - _START}

    # Stage 1: the VAE, in a model whose latents are not rescaled yet.
    start = time.time()
    untrained = flower_sd3_architecture(seed=args.seed)
    vae_loss = train_vae(
        untrained.backbone.vae, images, args.vae_steps, args.vae_batch, rng
    )
    latents = encode(untrained.backbone.vae, images)
    vae_shift, vae_scale = float(latents.mean()), float(1 / latents.std())
    timings["VAE"] = time.time() - start

    # Stage 2: the diffuser, on latents brought to zero mean, unit variance.
    start = time.time()
    task = flower_sd3_architecture(vae_scale, vae_shift, seed=args.seed)
    copy_weights(untrained.backbone.vae, task.backbone.vae)
    latents = (latents - vae_shift) * vae_scale
    unique, caption_index = np.unique(captions, return_inverse=True)
    token_ids = {k: v[caption_index] for k, v in tokenize(task, unique).items()}
    empty_ids = tokenize(task, [""])
    diffuser_loss = train_diffuser(
        task.backbone, latents, token_ids, empty_ids, args.steps, args.batch, rng
    )
    timings["MMDiT"] = time.time() - start

    save_flower_sd3(task, args.out, vae_scale, vae_shift)
    print(
        f"VAE reconstruction+KL loss {vae_loss:.4f}, flow-matching loss "
        f"{diffuser_loss:.4f}; latent shift {vae_shift:.4f}, scale "
        f"{vae_scale:.4f}; wrote {args.out} ({os.path.getsize(args.out):,} bytes)"
    )
    print(
        "wall time: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f", total {time.time() - _START:.0f} s"
    )


if __name__ == "__main__":
    main()
