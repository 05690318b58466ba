"""A tiny, randomly initialised Stable Diffusion 3: the offline stand-in.

`genimg_kit.sd3.load_sd3` returns it when the chapter's model can't be loaded
(no network, no Kaggle access, or `GENIMG_OFFLINE=1`). It is built from the
same KerasHub classes as the real model, with about 2 million parameters
and 64 x 64 images, so every function of `genimg_kit.sd3` runs on it (and
can be tested) in seconds on a laptop CPU. Its images are noise-like blobs,
not pictures.

Everything about the stand-in lives here: its image size, its tokenizer's
vocabulary, its builder, and one workaround the builder needs:

- `_host_random_initializers()`: on JAX, every new weight shape makes
  `jax.random` compile an XLA program (0.2-0.5 s on a CPU), so drawing the
  initial weights that way would take 15-40 s instead of 3.
"""

import contextlib
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
    to judge image quality. It always runs in float32 (JAX on CPU has no
    float16 attention).

    Args:
        seed: int. Seeds `keras.utils.set_random_seed`, so the same seed gives
            the same weights.

    Returns:
        A `keras_hub.models.StableDiffusion3TextToImage`.
    """
    # keras_hub imports TensorFlow (600 MB on JAX): only where a model is built.
    import keras_hub
    from keras_hub.src.models.vae.vae_backbone import VAEBackbone

    vocabulary, merges = tiny_clip_vocabulary()

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
            mmdit_hidden_dim=32,
            mmdit_num_layers=2,
            mmdit_num_heads=2,
            mmdit_position_size=192,
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
