"""Probes of `Sampler`: called eagerly, inside a compiled model, and differentiated."""

import numpy as np

from genimg_kit import probes
from genimg_kit.probes.gradients import named_gradients, sum_gradients


def sampler_eager(namespace, z_mean, z_log_var, calls):
    """One Sampler layer called `calls` times eagerly on the same inputs."""
    layer = probes.graded(namespace, "Sampler")()
    draws = [probes.to_numpy(layer(z_mean, z_log_var), "Sampler output") for _ in range(int(calls))]
    return {"z": np.stack(draws)}


def sampler_compiled(namespace, z_mean, z_log_var, calls):
    """Sampler inside a functional model (unknown batch size), run compiled."""
    keras = probes.keras_module()
    latent_dim = z_mean.shape[-1]
    mean_in = keras.Input(shape=(latent_dim,))
    log_var_in = keras.Input(shape=(latent_dim,))
    outputs = probes.graded(namespace, "Sampler")()(mean_in, log_var_in)
    model = keras.Model([mean_in, log_var_in], outputs)
    draws = [
        probes.to_numpy(model.predict_on_batch([z_mean, z_log_var]), "Sampler output")
        for _ in range(int(calls))
    ]
    return {"z": np.stack(draws)}


def sampler_gradients(namespace, z_mean, z_log_var):
    """z and d sum(z) / d z_mean, d sum(z) / d z_log_var, all from one call (one eps)."""
    keras = probes.keras_module()
    layer = probes.graded(namespace, "Sampler")()
    if keras.backend.backend() == "jax":
        # Inside jax.vjp the SeedGenerator's state cannot be assigned a traced value:
        # stateless_call reads it from the list passed in (the layer's non-trainable
        # variables) instead. It needs a built layer, so one eager call builds it first.
        layer(z_mean, z_log_var)
        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def draw(m, v):
            return (layer.stateless_call(trainable, non_trainable, m, v)[0],)
    else:
        def draw(m, v):
            return (layer(m, v),)

    (z,), (row,) = sum_gradients(draw, [z_mean, z_log_var])
    return {"z": z, **named_gradients(row, ["d_z_mean", "d_z_log_var"])}


PROBES = (sampler_eager, sampler_compiled, sampler_gradients)
