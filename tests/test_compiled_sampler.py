"""Tests for genimg_ref.diffusion.generate_compiled, the compiled twin of `generate`.

From the same seed-generator state it must return the images `generate`
returns (up to float32 rounding: compiled code may fuse and reorder
operations, and denoising divides by signal rates as small as 0.02), draw
new noise on each call, and follow the model's weights as they change.
"""

import keras
import numpy as np
import pytest
from keras import ops

from genimg_kit.data import procedural_flowers
from genimg_ref import diffusion
from genimg_ref.diffusion import DiffusionModel, generate, generate_compiled

TOLERANCE = 1e-3  # max abs difference, on the [0, 255] scale
N = 4  # one image count throughout: on JAX every new shape costs compilations


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("GENIMG_OFFLINE", "1")


def randomise_last_layer(model, seed, scale=0.002):
    """Makes the U-Net predict non-zero noise.

    Its last layer starts at zero, and a model that predicts zero noise gives
    the same images from any correct or incorrect sampling loop.
    """
    last = model.denoising_model.layers[-1]
    rng = np.random.default_rng(seed)
    last.kernel.assign(rng.normal(0.0, scale, last.kernel.shape).astype("float32"))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = DiffusionModel(16, [16, 32], 1, seed=0)
    model.normalizer.adapt(procedural_flowers(64, 16))
    randomise_last_layer(model, seed=0)
    return model


def from_state(model, state, generate_fn, num_images, steps):
    model.seed_generator.state.assign(state)
    return ops.convert_to_numpy(generate_fn(model, num_images, steps))


def seed_state(model):
    return ops.convert_to_numpy(model.seed_generator.state)


@pytest.mark.parametrize("steps", [10, 3])
def test_same_images_as_generate_from_the_same_seed(model, steps):
    state = seed_state(model)
    expected = from_state(model, state, generate, N, steps)
    state_after_generate = seed_state(model)
    images = from_state(model, state, generate_compiled, N, steps)
    assert images.shape == (N, 16, 16, 3)
    # An untrained U-Net's images are mostly clipped to 0 or 255; enough
    # pixels (~4%, over a hundred) stay inside for a meaningful comparison.
    assert ((expected > 0) & (expected < 255)).mean() > 0.01
    assert np.abs(images - expected).max() <= TOLERANCE
    # Both advance the seed generator by the same draw.
    np.testing.assert_array_equal(seed_state(model), state_after_generate)


def test_each_call_draws_new_noise(model):
    first = ops.convert_to_numpy(generate_compiled(model, N, 10))
    second = ops.convert_to_numpy(generate_compiled(model, N, 10))
    assert np.abs(first - second).max() > 1.0


def test_follows_the_weights_after_they_change(model):
    state = seed_state(model)
    before = from_state(model, state, generate_compiled, N, 10)
    randomise_last_layer(model, seed=1)
    after = from_state(model, state, generate_compiled, N, 10)
    expected = from_state(model, state, generate, N, 10)
    assert np.abs(after - before).max() > 1.0  # no stale weights baked in
    assert np.abs(after - expected).max() <= TOLERANCE


def test_compiles_once_per_model_and_shape(model):
    sampler = diffusion._compiled_sampler(model, N, 10)
    assert diffusion._compiled_sampler(model, N, 10) is sampler
    assert diffusion._compiled_sampler(model, N, 5) is not sampler
