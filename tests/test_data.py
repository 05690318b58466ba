"""Tests for genimg_kit.data: loaders, offline fallbacks, procedural flowers.

Nothing here downloads: the real paths run against a stand-in for
`keras.utils.get_file`. (`test_download_path.py` runs them for real,
against a local server.)
"""

import socket
import time

import keras
import numpy as np
import pytest

from genimg_kit import data
from genimg_kit.data import load_flowers, load_mnist_digits, procedural_flowers


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GENIMG_OFFLINE", "1")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("GENIMG_MNIST_URL", raising=False)
    monkeypatch.delenv("GENIMG_FLOWERS_URL", raising=False)


@pytest.fixture
def no_network(monkeypatch):
    """Makes the real download paths fail as they do offline."""

    def fail(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: no network")

    monkeypatch.setattr(keras.utils, "get_file", fail)


@pytest.fixture(scope="module")
def flowers():
    return procedural_flowers(500, image_size=32, seed=0)


# --- environment switches ---------------------------------------------------


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_offline_mode_reads_env(monkeypatch, value, expected):
    monkeypatch.setenv("GENIMG_OFFLINE", value)
    assert data.offline_mode() is expected


def test_offline_mode_off_without_env(monkeypatch):
    monkeypatch.delenv("GENIMG_OFFLINE")
    assert data.offline_mode() is False


# --- MNIST ------------------------------------------------------------------


def test_mnist_offline_fallback(capsys):
    digits = load_mnist_digits()
    assert digits.shape == (5000, 28, 28, 1)
    assert digits.dtype == np.float32
    assert digits.min() == 0.0 and digits.max() == 1.0
    # Real digits: a dark background with a bright stroke in the middle.
    assert digits[:, :3].mean() < 0.01
    assert digits[:, 10:18, 10:18].mean() > 0.2
    out = capsys.readouterr().out
    assert "MNIST" in out and "offline" in out


def test_mnist_offline_argument_overrides_env(monkeypatch, capsys, no_network):
    monkeypatch.delenv("GENIMG_OFFLINE")
    assert load_mnist_digits(offline=True).shape == (5000, 28, 28, 1)
    assert "could not be downloaded" not in capsys.readouterr().out


def test_mnist_download_failure_falls_back_with_note(monkeypatch, capsys, no_network):
    monkeypatch.delenv("GENIMG_OFFLINE")
    digits = load_mnist_digits()
    assert digits.shape == (5000, 28, 28, 1)
    out = capsys.readouterr().out
    assert "MNIST could not be downloaded" in out and "URL fetch failure" in out


def test_mnist_download_path_joins_splits_and_scales(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=train, y_train=np.zeros(6, np.uint8),
             x_test=test, y_test=np.zeros(4, np.uint8))
    calls = []

    def fake_get_file(**kwargs):
        calls.append((kwargs, socket.getdefaulttimeout()))
        return str(tmp_path / "mnist.npz")

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    before = socket.getdefaulttimeout()
    digits = load_mnist_digits(offline=False)
    assert digits.shape == (10, 28, 28, 1) and digits.dtype == np.float32
    np.testing.assert_allclose(digits[:6, ..., 0], train / 255, rtol=1e-6)
    np.testing.assert_allclose(digits[6:, ..., 0], test / 255, rtol=1e-6)
    [(kwargs, timeout)] = calls
    # From the real URL, Keras's hash is checked.
    assert kwargs == {"fname": "mnist.npz", "origin": data.MNIST_URL, "file_hash": data.MNIST_SHA256}
    # The download ran under a socket timeout (it can't hang), since restored.
    assert timeout is not None and timeout > 0
    assert socket.getdefaulttimeout() == before


def test_mnist_default_download_is_the_one_load_data_makes(monkeypatch):
    # `load_mnist_digits` writes out what `keras.datasets.mnist.load_data()`
    # does so that its URL can change: with the default URL it must ask
    # `get_file` for the same file, from the same origin, with the same hash.
    from keras.src.datasets import mnist

    calls = []

    def record(**kwargs):
        calls.append(kwargs)
        raise Exception("URL fetch failure: recorded, not downloaded")

    monkeypatch.setattr(mnist, "get_file", record)  # the name load_data calls
    monkeypatch.setattr(keras.utils, "get_file", record)
    with pytest.raises(Exception, match="recorded"):
        keras.datasets.mnist.load_data()
    load_mnist_digits(offline=False)  # falls back after the recorded call
    assert len(calls) == 2 and calls[0] == calls[1]


def test_mnist_url_override_skips_the_hash(monkeypatch):
    calls = []

    def fake_get_file(**kwargs):
        calls.append(kwargs)
        raise Exception("URL fetch failure: recorded, not downloaded")

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    monkeypatch.setenv("GENIMG_MNIST_URL", "http://mirror.invalid/mnist.npz")
    load_mnist_digits(offline=False)
    assert calls == [{"fname": "mnist.npz", "origin": "http://mirror.invalid/mnist.npz",
                      "file_hash": None}]


# --- Oxford Flowers ---------------------------------------------------------


def write_mnist_cache(home, x_train):
    (home / "datasets").mkdir(parents=True)
    np.savez(home / "datasets" / "mnist.npz", x_train=x_train, y_train=np.zeros(len(x_train)))


def test_cached_mnist_is_read_from_keras_home(monkeypatch, tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write_mnist_cache(tmp_path, pixels)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    digits = data.cached_mnist_digits()
    assert digits.shape == (7, 28, 28, 1) and digits.dtype == np.float32
    np.testing.assert_allclose(digits[..., 0] * 255, pixels, atol=1e-4)


@pytest.mark.parametrize("content", [None, "not an npz", "wrong shape"])
def test_cached_mnist_absent_or_foreign_gives_none(monkeypatch, tmp_path, content):
    if content == "not an npz":
        (tmp_path / "datasets").mkdir()
        (tmp_path / "datasets" / "mnist.npz").write_text(content)
    elif content == "wrong shape":
        write_mnist_cache(tmp_path, np.zeros((3, 32, 32), np.uint8))
    monkeypatch.setattr(data, "_keras_homes", lambda: [str(tmp_path)])  # not this machine's cache
    assert data.cached_mnist_digits() is None


def test_flowers_offline_fallback(capsys):
    dataset = load_flowers(image_size=32, batch_size=48, offline_images=1024)
    assert tuple(dataset.element_spec.shape) == (48, 32, 32, 3)
    assert dataset.element_spec.dtype.name == "float32"
    batches = [batch.numpy() for batch in dataset]
    # drop_remainder: only full batches.
    assert len(batches) == 1024 // 48
    images = np.concatenate(batches)
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 200
    np.testing.assert_allclose(
        images[:4], procedural_flowers(4, 32).round(), atol=1e-4
    )
    out = capsys.readouterr().out
    assert "Oxford Flowers 102" in out and "offline fallback" in out


def test_flowers_download_failure_falls_back_with_note(monkeypatch, capsys, no_network):
    monkeypatch.delenv("GENIMG_OFFLINE")
    dataset = load_flowers(image_size=16, batch_size=32, offline_images=64)
    assert tuple(dataset.element_spec.shape) == (32, 16, 16, 3)
    out = capsys.readouterr().out
    assert "could not be downloaded" in out and "URL fetch failure" in out


def test_flowers_download_path(monkeypatch, tmp_path):
    from PIL import Image

    # A stand-in for the extracted archive: 5 non-square photos in a subfolder.
    (tmp_path / "jpg").mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        pixels = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "jpg" / f"image_{i:05d}.png")
    calls = []

    def fake_get_file(**kwargs):
        calls.append(kwargs)
        return str(tmp_path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    dataset = load_flowers(image_size=16, batch_size=2, offline=False)
    assert calls == [{"origin": data.FLOWERS_URL, "extract": True}]
    batches = [batch.numpy() for batch in dataset]
    assert [b.shape for b in batches] == [(2, 16, 16, 3)] * 2  # 5 images -> 2 full
    assert all(b.dtype == np.float32 for b in batches)
    assert np.concatenate(batches).max() > 1  # still in [0, 255]


# --- procedural flowers -----------------------------------------------------


def test_procedural_shape_dtype_range(flowers):
    assert flowers.shape == (500, 32, 32, 3)
    assert flowers.dtype == np.float32
    assert flowers.min() >= 0 and flowers.max() <= 255


@pytest.mark.parametrize("size", [16, 64])
def test_procedural_other_sizes(size):
    images = procedural_flowers(3, image_size=size)
    assert images.shape == (3, size, size, 3)


def test_procedural_deterministic(flowers):
    np.testing.assert_array_equal(procedural_flowers(500, 32, seed=0), flowers)


def test_procedural_seeds_differ(flowers):
    other = procedural_flowers(500, 32, seed=1)
    assert np.abs(other - flowers).mean() > 20


def test_procedural_prefix_stable(flowers):
    np.testing.assert_array_equal(procedural_flowers(7, 32), flowers[:7])


def test_procedural_images_not_trivial(flowers):
    assert flowers.std(axis=(1, 2, 3)).min() > 15
    # Images differ from each other, not just within themselves.
    assert np.std(flowers.mean(axis=(1, 2)), axis=0).min() > 10


def test_procedural_flower_on_green_background(flowers):
    corners = flowers[:, [0, 0, -1, -1], [0, -1, 0, -1]]  # (n, 4, 3)
    red, green, blue = corners[..., 0], corners[..., 1], corners[..., 2]
    assert np.all(green > red) and np.all(green > blue)
    assert corners.max() < 200
    # A flower covers much of each image's middle, in colours far from the
    # background's (a green flower still stands out from dark foliage).
    middle = flowers[:, 8:24, 8:24]
    distance = np.linalg.norm(middle - corners.mean(axis=1)[:, None, None], axis=-1)
    assert (distance > 60).mean(axis=(1, 2)).min() > 0.2
    # Petals are bright: each image has a pixel brighter than any background.
    assert flowers.max(axis=(1, 2, 3)).min() > 200


def test_procedural_fast():
    start = time.perf_counter()
    procedural_flowers(5000, image_size=32)
    assert time.perf_counter() - start < 10
