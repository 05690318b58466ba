"""Which device the Keras backend computes on (the sandbox child reports it at start-up)."""

from genimg_kit import probes


def accelerator():
    """"gpu" when the Keras backend computes on a GPU, else "cpu"."""
    backend = probes.keras_module().backend.backend()
    if backend == "jax":
        import jax

        return "gpu" if jax.default_backend() == "gpu" else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    return "cpu"
