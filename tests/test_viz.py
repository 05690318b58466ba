"""Tests for genimg_kit.viz: every figure is written as a readable PNG."""

import keras
import numpy as np
import pytest
from keras import ops
from matplotlib.image import imread

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
