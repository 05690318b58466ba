"""Figures for chapter 17, written to image files.

Every function draws on a `matplotlib.figure.Figure` of its own rather than
through `pyplot`: that needs no display and no backend (it works on a
headless grader), leaves the notebook's plotting state alone, and frees the
figure when the function returns. Each returns the path it wrote; in a
notebook, show the file with `IPython.display.Image(path)`.

Images are drawn pixel for pixel. A figure's size is computed from the
images it shows, at `DPI` pixels per inch, so that each image pixel becomes a
whole square of screen pixels (nearest-neighbour, never smoothed, never
shrunk): a 512 x 512 Stable Diffusion image is drawn at 512 x 512, and a
32 x 32 flower is enlarged 8 times, to `MIN_IMAGE_PX`. Titles and captions are
wrapped to the width they have, and the figure grows to fit them, so no text
is ever cut off at the edge.
"""

import math
import os

import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

# Figures are laid out in pixels; inches are pixels / DPI.
DPI = 100
# Small images are enlarged by a whole factor until their longer side is at
# least this many pixels; larger ones are drawn at their own size.
MIN_IMAGE_PX = 256
# The latent grid's mosaic is enlarged likewise to at least this side.
MIN_LATENT_GRID_PX = 800
# Spacing, in pixels: around the figure, and between cells and texts.
_PAD = 8
_GAP = 8
TITLE_FONTSIZE = 12
LABEL_FONTSIZE = 10


def _save(figure, path):
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    # An explicit dpi: the pixel-exact layout must not depend on rcParams.
    figure.savefig(path, dpi=figure.dpi)
    return path


def _as_uint8(images):
    # Images come in [0, 255] (generated) or in [0, 1] (decoded digits).
    images = keras.ops.convert_to_numpy(images).astype("float32")
    if images.max() <= 1.0:
        images = images * 255
    images = np.clip(images, 0, 255).round().astype("uint8")
    # Grey images as (h, w): `_show` draws them.
    return images[..., 0] if images.shape[-1] == 1 else images


def _show(axes, image):
    """Draws a uint8 image, (h, w) grey or (h, w, 3) colour, as it is.

    Grey images are drawn as RGB with three equal channels: no colour map,
    so no rescaling and no rounding to a colour table's 256 entries. The
    nearest-neighbour interpolation keeps whole-factor enlargements crisp
    squares of the image's pixels.
    """
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    axes.imshow(image, interpolation="nearest")
    axes.axis("off")


def zoom_factor(image_px, min_px=MIN_IMAGE_PX):
    """The whole enlargement factor that brings `image_px` to `min_px` or more.

    1 for images already that large: an image is never drawn smaller than
    its own resolution.
    """
    return max(1, math.ceil(min_px / image_px))


def _wrap(text, width_px, renderer, fontsize):
    """Greedy word wrap of `text` into lines of at most `width_px` pixels.

    Widths are measured with the renderer's own font metrics, not guessed
    from a character count. A single word wider than `width_px` gets a line
    of its own; the caller widens the figure for it.
    """
    prop = FontProperties(size=fontsize)

    def width(s):
        return renderer.get_text_width_height_descent(s, prop, ismath=False)[0]

    lines = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and width(candidate) > width_px:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    widest = max(width(line) for line in lines if line) if any(lines) else 0.0
    return "\n".join(lines), widest


def image_figure(images, num_rows, num_cols, labels=None, title=None):
    """Lays out images in a grid, pixel for pixel, with wrapped texts.

    The layout behind `plot_image_grid` and `plot_image_strip`. Each image is
    enlarged by `zoom_factor` (a whole number, so each pixel is a square) and
    never shrunk. Captions are wrapped to the width of a cell, the title to
    the width of the grid, and the figure is made tall enough (and, for a
    word too long to wrap, wide enough) to hold them.

    Args:
        images: (k, h, w, 3) colour or (k, h, w, 1) grey images, with values
            in [0, 255], or in [0, 1] when no value exceeds 1. Cells beyond
            the k-th stay empty.
        num_rows, num_cols: the grid's shape.
        labels: optional captions, one per image, under the images.
        title: optional title above the grid.

    Returns:
        The `matplotlib.figure.Figure`, `DPI` pixels per inch.
    """
    images = _as_uint8(images)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images.")
    image_h, image_w = images.shape[1:3]
    zoom = zoom_factor(max(image_h, image_w))
    cell_w, cell_h = image_w * zoom, image_h * zoom

    figure = Figure(dpi=DPI)
    FigureCanvasAgg(figure)  # For the renderer that measures the texts.
    renderer = figure.canvas.get_renderer()

    captions = []
    for label in labels if labels is not None else []:
        text, widest = _wrap(label, cell_w, renderer, LABEL_FONTSIZE)
        cell_w = max(cell_w, math.ceil(widest))
        captions.append(figure.text(0, 0, text, fontsize=LABEL_FONTSIZE, ha="center", va="top"))
    caption_h = max(
        (math.ceil(c.get_window_extent(renderer).height) + _GAP // 2 for c in captions),
        default=0,
    )

    grid_w = num_cols * cell_w + (num_cols - 1) * _GAP
    width = grid_w + 2 * _PAD
    title_h = 0
    if title:
        text, widest = _wrap(title, grid_w, renderer, TITLE_FONTSIZE)
        width = max(width, math.ceil(widest) + 2 * _PAD)
        title_text = figure.text(0.5, 0, text, fontsize=TITLE_FONTSIZE, ha="center", va="top")
        title_h = math.ceil(title_text.get_window_extent(renderer).height) + _GAP
    row_h = cell_h + caption_h
    height = 2 * _PAD + title_h + num_rows * row_h + (num_rows - 1) * _GAP
    figure.set_size_inches(width / DPI, height / DPI)

    if title:
        title_text.set_position((0.5, 1 - _PAD / height))
    left = (width - grid_w) // 2  # The grid is centred under a wider title.
    for i in range(num_rows * num_cols):
        row, col = divmod(i, num_cols)
        x = left + col * (cell_w + _GAP) + (cell_w - image_w * zoom) // 2
        top = _PAD + title_h + row * (row_h + _GAP)  # From the figure's top.
        y = height - top - image_h * zoom  # matplotlib counts from the bottom.
        axes = figure.add_axes([x / width, y / height, image_w * zoom / width, image_h * zoom / height])
        axes.axis("off")
        if i < len(images):
            _show(axes, images[i])
        if i < len(captions):
            captions[i].set_position(((x + image_w * zoom / 2) / width, (y - _GAP / 2) / height))
    return figure


def decode_latent_grid(decoder, n=30, digit_size=28, scale=1.0):
    """Decodes an n x n grid of 2D latent points: (n * n, digit_size, digit_size).

    Row by row from the top: the grid spans [-scale, scale] on both latent
    axes, z[0] growing to the right and z[1] upwards, as in a plot. `decoder`
    is as for `plot_latent_grid`.
    """
    grid_x = np.linspace(-scale, scale, n)
    grid_y = np.linspace(-scale, scale, n)[::-1]
    z = np.array([[x, y] for y in grid_y for x in grid_x], dtype="float32")
    if hasattr(decoder, "predict"):
        decoded = decoder.predict(z, batch_size=len(z), verbose=0)
    else:
        decoded = decoder(z)
    return keras.ops.convert_to_numpy(decoded).reshape(n * n, digit_size, digit_size)


def plot_latent_grid(decoder, path, n=30, digit_size=28, scale=1.0):
    """Decodes an n x n grid of 2D latent points and draws the digits.

    The grid spans [-scale, scale] on both latent axes: z[0] grows to the
    right and z[1] upwards, as in a plot. Neighbouring digits blend into
    each other: a VAE's latent space is continuous.

    As in the chapter the axes are off, and the digits fill the whole image:
    no frame, no margins, and a side of exactly `n * digit_size` pixels times
    a whole enlargement factor (at least `MIN_LATENT_GRID_PX`), so that the
    image cuts into n x n tiles of one digit each. Grey levels are on a
    fixed scale, 0 black and 1 white: a decoder that draws flat grey shows
    flat grey, instead of having its faint noise stretched into contrast.

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
    digits = decode_latent_grid(decoder, n, digit_size, scale).reshape(n, n, digit_size, digit_size)
    # (row, col, y, x) -> one (n * digit_size, n * digit_size) mosaic.
    mosaic = digits.transpose(0, 2, 1, 3).reshape(n * digit_size, n * digit_size)

    # The fixed scale: [0, 1] -> [0, 255], whatever range the digits span.
    mosaic = np.round(np.clip(mosaic, 0.0, 1.0) * 255).astype("uint8")

    side = mosaic.shape[0] * zoom_factor(mosaic.shape[0], MIN_LATENT_GRID_PX)
    figure = Figure(figsize=(side / DPI, side / DPI), dpi=DPI)
    _show(figure.add_axes([0, 0, 1, 1]), mosaic)
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

    Each image at its own resolution or enlarged (see `image_figure`).

    Args:
        images: (k, h, w, 3) colour or (k, h, w, 1) grey images, with values
            in [0, 255], or in [0, 1] when no value exceeds 1. Cells beyond
            the k-th stay empty.
        path: where to write the figure.
        num_rows, num_cols: the grid's shape.
        title: an optional title above the grid, wrapped to fit.
    """
    return _save(image_figure(images, num_rows, num_cols, title=title), path)


def plot_image_strip(images, path, labels=None, title=None):
    """Draws images side by side in one row, e.g. a morph between prompts.

    Each image at its own resolution or enlarged (see `image_figure`).

    Args:
        images: as for `plot_image_grid`.
        path: where to write the figure.
        labels: optional captions, one per image (e.g. interpolation
            weights), written under the images.
        title: an optional title above the strip, wrapped to fit.
    """
    return _save(image_figure(images, 1, len(images), labels=labels, title=title), path)
