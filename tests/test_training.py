"""Training smoke tests: the reference VAE and diffusion model learn, offline.

A few epochs on a few hundred examples: enough to see the loss fall (the
mean over the first epoch against the mean over the last), not to learn
anything pretty. Run on both backends, as for tests/test_models.py.
"""

import warnings

import keras
import numpy as np
import pytest

from genimg_kit.data import load_mnist_digits, procedural_flowers
from genimg_kit.models import VisualizationCallback, checkpoint_callback
from genimg_ref.diffusion import train_diffusion
from genimg_ref.vae import train_vae


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GENIMG_OFFLINE", "1")
    keras.utils.set_random_seed(0)


def fit_quietly(train, *args, **kwargs):
    """Runs `train`, returning its result and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(*args, **kwargs)
    return result, [str(w.message) for w in caught]


def test_vae_learns_offline_mnist():
    digits = load_mnist_digits()[:256]
    (vae, history), messages = fit_quietly(train_vae, digits, epochs=2, batch_size=32, verbose=0)
    logs = history.history
    assert logs["loss"][-1] < logs["loss"][0]
    assert logs["reconstruction_loss"][-1] < logs["reconstruction_loss"][0]
    # Equal batches, scalar trackers: the epoch means add up to the loss.
    np.testing.assert_allclose(
        np.add(logs["reconstruction_loss"], logs["kl_loss"]), logs["loss"], rtol=1e-4
    )
    assert not [m for m in messages if "unbuilt state" in m]


def test_diffusion_learns_procedural_flowers_and_checkpoints(tmp_path):
    # On TensorFlow, 250 images in batches of 32 leave a last batch of 26: fit
    # then traces its step with an unknown batch size, and the step must read
    # it from the batch (the chapter's global `batch_size` bug). JAX traces
    # every batch shape separately, so there a partial batch would only cost
    # a second compilation (~30 s here): it gets full batches.
    num_images = 250 if keras.backend.backend() == "tensorflow" else 256
    images = procedural_flowers(num_images, 16)
    checkpoint_path = tmp_path / "diffusion.weights.h5"
    callbacks = [
        checkpoint_callback(str(checkpoint_path)),
        VisualizationCallback(4, 3, out_dir=tmp_path / "grids", every=2),
    ]
    (model, history), messages = fit_quietly(
        train_diffusion,
        images,
        epochs=3,
        widths=[16, 32],
        block_depth=1,
        batch_size=32,
        callbacks=callbacks,
        seed=0,
        verbose=0,
    )
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    # The checkpoint watches a metric that fit really logs, so it says nothing.
    assert callbacks[0].monitor in history.history
    assert not [m for m in messages if "save best model" in m.lower()]
    assert checkpoint_path.exists()
    assert [p.name for p in (tmp_path / "grids").iterdir()] == ["epoch_002.png"]
    # The saved weights load back into a model of the same shape.
    model.load_weights(str(checkpoint_path))


def test_the_chapters_checkpoint_warns_and_ours_does_not(tmp_path):
    # What fit logs at the end of an epoch without validation data.
    logs = {"loss": 0.5}
    chapter = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "chapter.weights.h5"), save_weights_only=True, save_best_only=True
    )
    ours = checkpoint_callback(str(tmp_path / "ours.weights.h5"))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    results = {}
    for name, callback in [("chapter", chapter), ("ours", ours)]:
        callback.set_model(model)
        _, results[name] = fit_quietly(callback.on_epoch_end, 0, logs)
    assert "Can save best model only with val_loss available." in results["chapter"]
    assert not [m for m in results["ours"] if "best model" in m]
    assert (tmp_path / "ours.weights.h5").exists()
