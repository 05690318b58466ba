"""The kit's trained tiny Stable Diffusion 3 draws what its prompts say.

`load_sd3()`'s offline model was trained on captioned drawings of flowers
(`bench/train_tiny_sd3.py`). These tests check what the chapter's last
section claims, on that model, by measuring colours in what it draws: the
colour a prompt names is the colour that comes out; a negative prompt takes
away the colour it names; more steps approach the many-step image; a
spherical walk from one prompt's embeddings to another's changes the colour
in order. Passes with KERAS_BACKEND=jax and =tensorflow.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from keras import ops

from genimg_kit import sd3, tiny_sd3

SEED = 1
NUM_IMAGES = 6  # Per prompt: every measurement is a mean over several flowers.
STEPS = 20


@pytest.fixture(scope="module")
def task():
    return tiny_sd3.trained_tiny_sd3()


def colour_scores(images):
    """How red, blue and yellow uint8 RGB images are, on average.

    Each score is a mean over all pixels, in levels of 0..255 (the green
    background is alike in every image): red is R - (G + B) / 2, blue
    B - (R + G) / 2, and yellow, red and green together, min(R, G) - B.
    """
    r, g, b = np.moveaxis(np.asarray(images, dtype="float64"), -1, 0)
    return {
        "red": float(np.mean(r - (g + b) / 2)),
        "blue": float(np.mean(b - (r + g) / 2)),
        "yellow": float(np.mean(np.minimum(r, g) - b)),
    }


def generated(task, prompt, negative_prompt=None):
    """`NUM_IMAGES` images of a prompt, from the same seeded noise every call."""
    negatives = None if negative_prompt is None else [negative_prompt] * NUM_IMAGES
    return sd3.sd3_generate(
        task, [prompt] * NUM_IMAGES, negatives, num_steps=STEPS, seed=SEED
    )


def slerp(t, a, b):
    """Spherical interpolation of two tensors, seen as flat vectors (t in [0, 1])."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    cos = np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    wa, wb = np.sin((1 - t) * theta), np.sin(t * theta)
    return ((wa * a + wb * b) / np.sin(theta)).astype("float32")


def test_the_colour_a_prompt_names_is_the_colour_that_comes_out(task):
    scores = {
        colour: colour_scores(generated(task, f"a {colour} flower"))
        for colour in ("red", "blue", "yellow")
    }
    for colour in scores:
        others = [c for c in scores if c != colour]
        # E.g. "a red flower" is redder than "a blue" and "a yellow flower".
        assert all(
            scores[colour][colour] > scores[other][colour] + 5 for other in others
        ), (colour, scores)


def test_the_negative_prompt_takes_away_the_colour_it_names(task):
    """The chapter's negative prompt, "blue color", on "a flower" (any colour)
    and on "a purple flower" (a blue-red colour: it should lose its blue)."""
    for prompt in ("a flower", "a purple flower"):
        plain = colour_scores(generated(task, prompt))
        steered = colour_scores(generated(task, prompt, "blue color"))
        assert steered["blue"] < plain["blue"] - 5, (prompt, plain, steered)


def test_more_steps_approach_the_many_step_image(task):
    embeddings = sd3.get_text_embeddings(task, "a flower with six pink petals")
    latents = sd3.initial_latents(task, seed=SEED, batch_size=1)
    sweep = [5, 10, 15, 20, 25]
    images = sd3.images_from_embeddings(task, [embeddings], num_steps=50, latents=latents)
    reference = images[0].astype("float64")
    distances = [
        np.abs(
            sd3.images_from_embeddings(
                task, [embeddings], num_steps=n, latents=latents
            )[0]
            - reference
        ).mean()
        for n in sweep
    ]
    assert all(a > b for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] < distances[0] / 2, distances


def test_a_slerp_walk_from_red_to_blue_turns_blue_in_order(task):
    red = sd3.get_text_embeddings(task, "a red flower")
    blue = sd3.get_text_embeddings(task, "a blue flower")
    path = [
        tuple(
            slerp(t, ops.convert_to_numpy(r), ops.convert_to_numpy(b))
            if i in (0, 2)  # The positive prompt's sequence and pooled vector.
            else ops.convert_to_numpy(r)
            for i, (r, b) in enumerate(zip(red, blue))
        )
        for t in np.linspace(0.0, 1.0, 7)
    ]
    frames = sd3.images_from_embeddings(task, path, num_steps=STEPS, seed=SEED)
    blueness = np.array([colour_scores(f)["blue"] - colour_scores(f)["red"] for f in frames])
    change = blueness[-1] - blueness[0]
    assert change > 20, blueness  # From red to blue, by much.
    # In order: no frame steps back by more than 5% of the whole change.
    assert np.all(np.diff(blueness) > -0.05 * change), blueness


def test_offline_load_sd3_is_the_trained_model(capsys, monkeypatch):
    """What a notebook offline gets, and what the note tells its student."""
    monkeypatch.setattr(sd3, "trained_tiny_sd3", lambda: "the trained model")
    assert sd3.load_sd3(offline=True) == "the trained model"
    note = capsys.readouterr().out
    assert "trained on captioned drawings of flowers" in note
    for word in tiny_sd3.FLOWER_WORDS:
        assert word in note


def test_the_tokenizer_keeps_every_caption_word_whole(task):
    tokenizer = task.preprocessor.clip_l_preprocessor.tokenizer
    words = " ".join(tiny_sd3.FLOWER_WORDS)
    ids = ops.convert_to_numpy(task.preprocessor.generate_preprocess([words])["clip_l"])[0]
    tokens = [tokenizer.token_to_id(w + "</w>") for w in tiny_sd3.FLOWER_WORDS]
    assert list(ids[1 : len(tokens) + 1]) == tokens


_DRAW_ONE = """
import json, sys
import numpy as np
from genimg_kit import sd3, tiny_sd3
task = tiny_sd3.trained_tiny_sd3()
latents = np.random.default_rng(0).standard_normal((1, 8, 8, 16)).astype("float32")
embeddings = sd3.get_text_embeddings(task, "a yellow flower", "blue color")
image = sd3.denoise_with_text_embeddings(task, embeddings, num_steps=10, latents=latents)
json.dump(np.asarray(image).tolist(), sys.stdout)
"""


@pytest.mark.one_backend
def test_the_shipped_weights_draw_the_same_image_on_jax_and_tensorflow():
    images = []
    for backend in ("jax", "tensorflow"):
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run(
            [sys.executable, "-c", _DRAW_ONE],
            env=env, capture_output=True, text=True, check=True, timeout=300,
        ).stdout
        images.append(np.array(json.loads(out)))
    assert images[0].shape == (64, 64, 3)
    # Same weights, same noise: the same image, up to float32 rounding.
    assert np.abs(images[0] - images[1]).max() < 1e-3
