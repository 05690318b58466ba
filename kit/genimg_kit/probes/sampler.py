"""Probes of `Sampler`: called eagerly, and inside a compiled model."""

import numpy as np

from genimg_kit import probes


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


PROBES = (sampler_eager, sampler_compiled)
