"""Figures for chapter 17, written to image files.

Every function draws on a `matplotlib.figure.Figure` of its own rather than
through `pyplot`: that needs no display and no backend (it works on a
headless grader), leaves the notebook's plotting state alone, and frees the
figure when the function returns. Each returns the path it wrote; in a
notebook, show the file with `IPython.display.Image(path)`.
"""

import os

import keras
import numpy as np
from matplotlib.figure import Figure


def _save(figure, path):
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    figure.savefig(path)
    return path


def _as_uint8(images):
    # Images come in [0, 255] (generated) or in [0, 1] (decoded digits).
    images = keras.ops.convert_to_numpy(images).astype("float32")
    if images.max() <= 1.0:
        images = images * 255
    images = np.clip(images, 0, 255).round().astype("uint8")
    # matplotlib draws (h, w) arrays with a colour map, not (h, w, 1).
    return images[..., 0] if images.shape[-1] == 1 else images


def _show(axes, image):
    # Grey images get a fixed 0..255 scale; colour images ignore it.
    axes.imshow(image, cmap="gray", vmin=0, vmax=255)


def plot_latent_grid(decoder, path, n=30, digit_size=28, scale=1.0):
    """Decodes an n x n grid of 2D latent points and draws the digits.

    The grid spans [-scale, scale] on both latent axes, z[1] growing upwards
    as in a plot. Neighbouring digits blend into each other: a VAE's latent
    space is continuous.

    Args:
        decoder: maps latent points (k, 2) to images (k, digit_size,
            digit_size, 1) in [0, 1]; a Keras model or any callable. All
            n * n points are decoded in one batch.
        path: where to write the figure (PNG, or any format matplotlib
            knows from the file extension).
        n: points per side.
        digit_size: side of one decoded image, in pixels.
        scale: the grid's extent on each latent axis.
    """
    grid_x = np.linspace(-scale, scale, n)
    grid_y = np.linspace(-scale, scale, n)[::-1]
    z = np.array([[x, y] for y in grid_y for x in grid_x], dtype="float32")
    if hasattr(decoder, "predict"):
        decoded = decoder.predict(z, batch_size=len(z), verbose=0)
    else:
        decoded = decoder(z)
    digits = keras.ops.convert_to_numpy(decoded).reshape(n, n, digit_size, digit_size)
    # (row, col, y, x) -> one (n * digit_size, n * digit_size) mosaic.
    mosaic = digits.transpose(0, 2, 1, 3).reshape(n * digit_size, n * digit_size)

    figure = Figure(figsize=(15, 15))
    axes = figure.add_subplot()
    centres = np.arange(digit_size // 2, n * digit_size, digit_size)
    axes.set_xticks(centres, np.round(grid_x, 1))
    axes.set_yticks(centres, np.round(grid_y, 1))
    axes.set_xlabel("z[0]")
    axes.set_ylabel("z[1]")
    axes.imshow(mosaic, cmap="Greys_r")
    return _save(figure, path)


def plot_schedule(schedule_fn, path, num_points=100):
    """Plots a diffusion schedule: noise and signal rates against time.

    Args:
        schedule_fn: maps diffusion times in [0, 1] to
            `(noise_rates, signal_rates)` of the same shape, like the
            chapter's `diffusion_schedule`.
        path: where to write the figure.
        num_points: how many diffusion times to evaluate.
    """
    times = keras.ops.linspace(0.0, 1.0, num_points)
    noise_rates, signal_rates = schedule_fn(times)
    times, noise_rates, signal_rates = (
        keras.ops.convert_to_numpy(x) for x in (times, noise_rates, signal_rates)
    )

    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    axes.plot(times, noise_rates, label="noise rate")
    axes.plot(times, signal_rates, label="signal rate")
    axes.set_xlabel("diffusion time")
    axes.set_ylabel("rate")
    axes.legend()
    return _save(figure, path)


def plot_image_grid(images, path, num_rows, num_cols, title=None):
    """Draws the first num_rows * num_cols images in a grid.

    Args:
        images: (k, h, w, 3) colour or (k, h, w, 1) grey images, with values
            in [0, 255], or in [0, 1] when no value exceeds 1. Cells beyond
            the k-th stay empty.
        path: where to write the figure.
        num_rows, num_cols: the grid's shape.
        title: an optional title above the grid.
    """
    images = _as_uint8(images)
    figure = Figure(figsize=(num_cols * 2.0, num_rows * 2.0))
    for i, axes in enumerate(figure.subplots(num_rows, num_cols, squeeze=False).flat):
        axes.axis("off")
        if i < len(images):
            _show(axes, images[i])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)


def plot_image_strip(images, path, labels=None, title=None):
    """Draws images side by side in one row, e.g. a morph between prompts.

    Args:
        images: as for `plot_image_grid`.
        path: where to write the figure.
        labels: optional captions, one per image (e.g. interpolation
            weights), written under the images.
        title: an optional title above the strip.
    """
    images = _as_uint8(images)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images.")
    figure = Figure(figsize=(len(images) * 2.0, 2.6))
    for i, axes in enumerate(figure.subplots(1, len(images), squeeze=False).flat):
        _show(axes, images[i])
        axes.set_xticks([])
        axes.set_yticks([])
        if labels is not None:
            axes.set_xlabel(str(labels[i]))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(figure, path)
