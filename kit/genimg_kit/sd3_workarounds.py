"""The machinery behind `genimg_kit.sd3`: compiled steps, and a KerasHub 0.32 fix.

`genimg_kit.sd3` reads like the chapter; what it needs besides lives here,
one piece per problem:

- `compile_for_task()`: calling the backbone's steps (`encode_text_step`,
  `denoise_step`, `decode_step`) eagerly costs seconds per step on JAX, even
  for the tiny model; this runs them compiled (`jax.jit` or `tf.function`).
- `padded_sigmas()` and `compiled_denoise_step()`: a compiled step freezes
  the scheduler's noise table ("sigmas") in as a constant; these pass the
  table in as an input, so one compiled step serves every `num_steps`.
- `use_safe_generate_function()`: KerasHub 0.32's `task.generate()` compiles
  its sampler once and freezes into it the noise table of its first call's
  `num_steps`: a later call with fewer steps stops short of zero noise, one
  with more indexes past the end of the table (black images on JAX, an error
  on TensorFlow). This gives `generate()` a compiled sampler that takes the
  current table as an input, so any `num_steps` works without recompiling.
"""

import itertools

import keras
from keras import ops


def _cache(task):
    """This module's per-task cache of compiled functions, kept on the task
    (so it goes away with it) but hidden from Keras' attribute tracking."""
    cache = task.__dict__.get("_genimg_compiled")
    if cache is None:
        cache = {}
        object.__setattr__(task, "_genimg_compiled", cache)
    return cache


def compile_for_task(task, name, fn):
    """Returns `fn` compiled for the task's backend, cached under `name`.

    `fn` may call the task's layers; its arguments must be tensors (or nested
    tuples / dicts of tensors). On JAX the model's variables are passed in
    explicitly (`keras.StatelessScope`), the way KerasHub compiles `generate`.
    """
    cache = _cache(task)
    if name in cache:
        return cache[name]
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        trainable = task.trainable_variables
        non_trainable = task.non_trainable_variables

        @jax.jit
        def stateless_fn(state, *args):
            mapping = itertools.chain(
                zip(trainable, state[0]), zip(non_trainable, state[1])
            )
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)

        def compiled(*args):
            state = (
                [v.value for v in trainable],
                [v.value for v in non_trainable],
            )
            return stateless_fn(state, *args)

    elif backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(fn, reduce_retracing=True)
    else:  # torch, numpy: run eagerly.
        compiled = fn
    cache[name] = compiled
    return compiled


def padded_sigmas(backbone):
    """The scheduler's current noise table, zero-padded to a fixed length.

    The table has `num_steps + 1` entries; padding it (to 64, or the next
    power of two) lets one compiled function serve every `num_steps`, since
    the loop only ever reads the first `num_steps + 1` entries.
    """
    sigmas = backbone.scheduler.sigmas
    length = int(sigmas.shape[0])
    padded = max(64, 1 << (length - 1).bit_length())
    return ops.pad(ops.cast(sigmas, "float32"), [[0, padded - length]])


def _with_sigmas(backbone, sigmas, fn, *args):
    """Calls `fn(*args)` with the scheduler's noise table set to `sigmas`.

    Inside a compiled function this makes the table an *input* instead of a
    constant frozen in at compile time.
    """
    scheduler = backbone.scheduler
    saved = scheduler.sigmas
    scheduler.sigmas = sigmas
    try:
        return fn(*args)
    finally:
        scheduler.sigmas = saved


def compiled_denoise_step(task, guided):
    """`backbone.denoise_step`, compiled, taking the noise table as input."""
    backbone = task.backbone

    def step_fn(latents, embeddings, step, sigmas, guidance_scale):
        num_steps = sigmas.shape[0] - 1  # Unused: the table is set.
        return _with_sigmas(
            backbone,
            sigmas,
            backbone.denoise_step,
            latents,
            embeddings,
            step,
            num_steps,
            guidance_scale if guided else None,
        )

    return compile_for_task(task, f"denoise_step_guided={guided}", step_fn)


def _safe_generate_function(task):
    """A `generate_function` for `task.generate` that reads the current table.

    Same computation as KerasHub's own (`task.generate_step`: encode, a
    `fori_loop` of `denoise_step`, decode), but the noise table is passed in
    at every call instead of being frozen in at the first one.
    """
    backbone = task.backbone

    def generate_fn(latents, token_ids, num_steps, guidance_scale, sigmas):
        return _with_sigmas(
            backbone,
            sigmas,
            task.generate_step,
            latents,
            token_ids,
            num_steps,
            guidance_scale,
        )

    compiled = compile_for_task(task, "generate_step", generate_fn)

    def generate_function(latents, token_ids, num_steps, guidance_scale):
        # `task.generate` has just called `configure_scheduler(num_steps)`.
        sigmas = padded_sigmas(backbone)
        return compiled(latents, token_ids, num_steps, guidance_scale, sigmas)

    return generate_function


def use_safe_generate_function(task):
    """Makes `task.generate` sample with `_safe_generate_function`'s sampler.

    Installed once per task, it stays until `task.compile()` resets it.
    """
    cache = _cache(task)
    if "safe_generate" not in cache:
        cache["safe_generate"] = _safe_generate_function(task)
    # `generate` uses `task.generate_function` when it is set.
    task.generate_function = cache["safe_generate"]
