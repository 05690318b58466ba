"""Tiny Stable Diffusion 3 models: the offline stand-ins for the chapter's.

Both are built from the same KerasHub classes as the real model (CLIP
tokenizers and text encoders, an MMDiT, a VAE, the flow-matching scheduler),
with 64 x 64 images and (8, 8, 16) latents, so every function of
`genimg_kit.sd3` runs on them in seconds on a laptop CPU:

- `trained_tiny_sd3()`: 1.6 million parameters trained on captioned drawings
  of flowers (`bench/train_tiny_sd3.py`); its weights ship in this kit
  (`weights/tiny_sd3_flowers.npz`). `genimg_kit.sd3.load_sd3` returns it when
  the chapter's model can't be loaded (no network, no Kaggle access, or
  `GENIMG_OFFLINE=1`). It draws the flowers its prompts describe, in the
  words of its captions (`FLOWER_WORDS`).
- `build_tiny_sd3()`: about 2 million random weights, whose images are
  noise-like blobs: for tests that check structure, not pictures.

Everything about them lives here: their image size, their tokenizers'
vocabularies, their builders, the trained weights' file format, and one
workaround the builders need:

- `_host_random_initializers()`: on JAX, every new weight shape makes
  `jax.random` compile an XLA program (0.2-0.5 s on a CPU), so drawing the
  initial weights that way would take 15-40 s instead of 3.
"""

import contextlib
import os
import string

import keras
import numpy as np

# The tiny stand-in model: 64 x 64 images, (8, 8, 16) latents.
TINY_IMAGE_SHAPE = (64, 64, 3)

# A few words whose byte-pair merges the tiny tokenizer knows, so that common
# words become a single token (as they would with the real CLIP vocabulary).
# Every other word is spelled out letter by letter.
_TINY_WORDS = (
    "a", "an", "the", "of", "in", "on", "and", "with",
    "cat", "dog", "red", "blue", "green", "photo", "flower", "flowers",
    "field", "friendly", "creature", "astronaut", "elephant", "city",
)

# Every word of the trained model's captions: petal colours, numbers of
# petals, centre colours, and the few words around them.
PETAL_COLOURS = ("red", "orange", "yellow", "pink", "purple", "blue", "white")
CENTRE_COLOURS = ("yellow", "orange", "brown")
PETAL_NUMBERS = ("five", "six", "seven", "eight", "nine")
FLOWER_WORDS = tuple(
    dict.fromkeys(
        PETAL_COLOURS + CENTRE_COLOURS + PETAL_NUMBERS
        + ("a", "an", "photo", "of", "flower", "with", "petals", "and")
        + ("centre", "center", "color", "colour")
    )
)
# Where `trained_tiny_sd3()` finds its weights: in the kit, next to this file.
FLOWER_WEIGHTS = os.path.join(
    os.path.dirname(__file__), "weights", "tiny_sd3_flowers.npz"
)


def tiny_clip_vocabulary(words=_TINY_WORDS):
    """Builds a small CLIP byte-pair vocabulary and its merge rules.

    A CLIP vocabulary holds every character twice: once as it appears inside a
    word (`"c"`) and once at the end of a word (`"t</w>"`). Each merge rule
    `"c a"` glues two adjacent tokens into a new one (`"ca"`); applying
    `"c a"` and then `"ca t</w>"` turns the word "cat" into the single token
    `"cat</w>"`. KerasHub's `CLIPTokenizer` requires both halves of every rule
    to be in the vocabulary, and needs the `<|startoftext|>` and
    `<|endoftext|>` special tokens (the latter also stands for any character
    it does not know).

    Args:
        words: words to learn merges for, left to right.

    Returns:
        `(vocabulary, merges)`: a dict token -> id and a list of `"a b"` rules.
    """
    # Printable ASCII, without the space (the tokenizer splits on spaces).
    characters = [c for c in string.printable if not c.isspace()]
    tokens = characters + [c + "</w>" for c in characters]
    merges = []
    for word in words:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            rule = f"{pieces[0]} {pieces[1]}"
            merged = pieces[0] + pieces[1]
            if rule not in merges:
                merges.append(rule)
                if merged not in tokens:
                    tokens.append(merged)
            pieces = [merged] + pieces[2:]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocabulary = {token: i for i, token in enumerate(tokens)}
    return vocabulary, merges


@contextlib.contextmanager
def _host_random_initializers():
    """On JAX, draws initial weights with NumPy instead of `jax.random`.

    Each new weight shape makes `jax.random` compile a new XLA program, which
    costs 0.2-0.5 s on a CPU: about 70 of them would make building the tiny
    model take 15-40 s instead of 3. The draws are seeded from Keras' own
    seeds, so `keras.utils.set_random_seed` still makes them reproducible.
    Other backends are left alone.
    """
    if keras.config.backend() != "jax":
        yield
        return
    try:
        from keras.src.backend.jax import random as backend_random
        from keras.src.backend.jax.random import jax_draw_seed
    except ImportError:  # Keras internals moved: just be slower.
        yield
        return
    import jax.numpy as jnp

    def rng(seed):
        return np.random.default_rng(np.asarray(jax_draw_seed(seed)).tolist())

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        x = rng(seed).uniform(minval, maxval, size=shape)
        return jnp.asarray(x, dtype=dtype or keras.config.floatx())

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        x = rng(seed).normal(mean, stddev, size=shape)
        return jnp.asarray(x, dtype=dtype or keras.config.floatx())

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        generator = rng(seed)
        x = generator.standard_normal(size=shape)
        outside = np.abs(x) > 2.0  # Redraw beyond two standard deviations.
        while outside.any():
            x[outside] = generator.standard_normal(size=int(outside.sum()))
            outside = np.abs(x) > 2.0
        x = x * stddev + mean
        return jnp.asarray(x, dtype=dtype or keras.config.floatx())

    saved = {
        name: getattr(backend_random, name)
        for name in ("uniform", "normal", "truncated_normal")
    }
    backend_random.uniform = uniform
    backend_random.normal = normal
    backend_random.truncated_normal = truncated_normal
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(backend_random, name, fn)


def build_tiny_sd3(seed=0):
    """Builds a tiny, randomly initialised Stable Diffusion 3 task. No download.

    Same classes as the real model (`StableDiffusion3TextToImage`, with its
    MMDiT diffuser, VAE and two CLIP text encoders, plus the CLIP tokenizers
    and preprocessors), but about 2 million parameters instead of 3 billion,
    no T5 encoder, and 64 x 64 images whose latents are (8, 8, 16). The
    sizes follow KerasHub's own unit test of the task.

    The weights are random, so the "images" it makes are smooth noise; use it
    to check that code runs and that tensors have the shapes you expect, not
    to judge image quality (`trained_tiny_sd3()` is the one that has learned
    to draw). It always runs in float32 (JAX on CPU has no float16
    attention).

    Args:
        seed: int. Seeds `keras.utils.set_random_seed`, so the same seed gives
            the same weights.

    Returns:
        A `keras_hub.models.StableDiffusion3TextToImage`.
    """
    return _tiny_sd3(
        words=_TINY_WORDS,
        mmdit_hidden_dim=32,
        mmdit_num_layers=2,
        mmdit_position_size=192,
        seed=seed,
    )


def flower_sd3_architecture(vae_scale=1.0, vae_shift=0.0, seed=0):
    """The trained model's architecture, with random weights: what training starts from.

    The same classes and the same VAE and CLIP encoders as `build_tiny_sd3`,
    but a tokenizer that knows every word of the flower captions, and a
    wider, deeper MMDiT (hidden size 64, 4 layers). Its position table is
    8 x 8 patches instead of 192 x 192: the (8, 8) latents make 4 x 4
    patches of 2 x 2, so a bigger table would only add 2.4 million weights
    that are never read.

    Args:
        vae_scale, vae_shift: how the VAE's latents are brought to zero mean
            and unit variance for the MMDiT (`(latents - shift) * scale`),
            measured on the training images after the VAE has been trained.
        seed: int, seeds the random initial weights.

    Returns:
        A `keras_hub.models.StableDiffusion3TextToImage`.
    """
    return _tiny_sd3(
        # Caption words first: their merges then outrank the others', so
        # each stays one token ("yellow" would otherwise lose to "e l").
        words=FLOWER_WORDS + _TINY_WORDS,
        mmdit_hidden_dim=64,
        mmdit_num_layers=4,
        mmdit_position_size=8,
        vae_scale=vae_scale,
        vae_shift=vae_shift,
        seed=seed,
    )


def save_flower_sd3(task, path, vae_scale, vae_shift):
    """Writes a trained flower model's weights, in float16, to an `.npz` file.

    One array per weight, named by its place in `task.weights` and its Keras
    path (e.g. `"0123 diffuser/..."`: the two CLIP encoders' paths alike),
    plus the VAE's latent scale and shift. float16
    halves the file (to about 3 MB); loading casts back to float32 on any
    backend, so every backend computes with the very same numbers.
    """
    arrays = {"vae_scale": np.float64(vae_scale), "vae_shift": np.float64(vae_shift)}
    for key, variable in _weights_by_key(task):
        value = keras.ops.convert_to_numpy(variable.value)
        arrays[key] = value.astype("float16")
    np.savez_compressed(path, **arrays)


def trained_tiny_sd3(path=FLOWER_WEIGHTS):
    """The tiny Stable Diffusion 3 trained on captioned flowers. No download.

    `flower_sd3_architecture()` with the weights that ship in this kit,
    trained from scratch (by `bench/train_tiny_sd3.py`) on 64 x 64 drawn
    flowers, each captioned from what was drawn: "a red flower with five
    petals", "a flower with blue petals and a brown centre", "yellow color",
    ... (the words are `FLOWER_WORDS`). It knows petal colours, the number of
    petals (loosely) and the centre's colour, and nothing else: a prompt made
    of other words gives it nothing to follow. Prompts were dropped (made
    empty) for some training images, so classifier-free guidance and
    negative prompts work as in the chapter.

    Args:
        path: the `.npz` file that `save_flower_sd3` wrote.

    Returns:
        A `keras_hub.models.StableDiffusion3TextToImage`, float32.
    """
    with np.load(path) as arrays:
        task = flower_sd3_architecture(
            vae_scale=float(arrays["vae_scale"]),
            vae_shift=float(arrays["vae_shift"]),
        )
        for key, variable in _weights_by_key(task):
            variable.assign(arrays[key].astype("float32"))
    return task


def _weights_by_key(task):
    """`(key, variable)` for each weight: the names `save_flower_sd3` writes."""
    return [(f"{i:04d} {v.path}", v) for i, v in enumerate(task.weights)]


def _tiny_sd3(
    words,
    mmdit_hidden_dim,
    mmdit_num_layers,
    mmdit_position_size,
    vae_scale=1.5305,
    vae_shift=0.0609,
    seed=0,
):
    """Builds a small `StableDiffusion3TextToImage` from KerasHub's classes.

    64 x 64 images; a VAE of four 32-filter stages, whose (8, 8, 16) latents
    the MMDiT denoises in 2 x 2 patches with heads of 32 dimensions; two
    small CLIP text encoders over a byte-pair vocabulary that knows `words`
    as whole tokens. The VAE's default scale and shift are the real SD3's.
    """
    # keras_hub imports TensorFlow (600 MB on JAX): only where a model is built.
    import keras_hub
    from keras_hub.src.models.vae.vae_backbone import VAEBackbone

    vocabulary, merges = tiny_clip_vocabulary(words)

    def clip_preprocessor():
        tokenizer = keras_hub.models.CLIPTokenizer(
            vocabulary=vocabulary, merges=merges
        )
        return keras_hub.models.CLIPPreprocessor(tokenizer, sequence_length=77)

    preprocessor = keras_hub.models.StableDiffusion3TextToImagePreprocessor(
        clip_preprocessor(), clip_preprocessor()
    )

    keras.utils.set_random_seed(seed)
    dtype = "float32"
    vocabulary_size = len(vocabulary)
    with _host_random_initializers():
        vae = VAEBackbone(
            [32] * 4, [1] * 4, [32] * 4, [1] * 4,
            sampler_method="mode",
            scale=vae_scale,
            shift=vae_shift,
            dtype=dtype,
        )
        clip_l = keras_hub.models.CLIPTextEncoder(
            vocabulary_size, 64, 64, 2, 2, 128, "quick_gelu", -2, dtype=dtype
        )
        clip_g = keras_hub.models.CLIPTextEncoder(
            vocabulary_size, 128, 128, 2, 2, 256, "gelu", -2, dtype=dtype
        )
        backbone = keras_hub.models.StableDiffusion3Backbone(
            mmdit_patch_size=2,
            mmdit_hidden_dim=mmdit_hidden_dim,
            mmdit_num_layers=mmdit_num_layers,
            mmdit_num_heads=mmdit_hidden_dim // 32,
            mmdit_position_size=mmdit_position_size,
            mmdit_qk_norm=None,
            mmdit_dual_attention_indices=None,
            vae=vae,
            clip_l=clip_l,
            clip_g=clip_g,
            image_shape=TINY_IMAGE_SHAPE,
            dtype=dtype,
        )
    return keras_hub.models.StableDiffusion3TextToImage(
        backbone=backbone, preprocessor=preprocessor
    )
