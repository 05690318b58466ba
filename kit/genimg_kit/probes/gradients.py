"""Differentiating a piece with the Keras backend's own autodiff (jax.vjp or a
TensorFlow GradientTape): what every gradient probe shares."""

from genimg_kit import probes


def sum_gradients(function, inputs):
    """Calls `function(*inputs)` (a tuple of tensors) once, under the backend's autodiff.

    Returns (outputs, gradients) as numpy: gradients[i][j] = d sum(outputs[i]) / d inputs[j],
    None where TensorFlow's tape finds no path (JAX gives zeros instead). On JAX a
    piece that turns a tensor into numpy raises a TypeError that says so.
    """
    keras = probes.keras_module()
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        untraceable = (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError)
        try:
            outputs, pullback = jax.vjp(lambda *xs: tuple(function(*xs)), *inputs)
        except untraceable as error:
            # The original traceback is kept: the message names the student's line, not this one.
            raise TypeError(
                "cannot be differentiated: a tensor was turned into numpy or a Python number "
                f"({str(error).splitlines()[0]})"
            ).with_traceback(error.__traceback__) from None
        gradients = [
            pullback(tuple(jnp.ones_like(o) if k == i else jnp.zeros_like(o) for k, o in enumerate(outputs)))
            for i in range(len(outputs))
        ]
    else:
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(x) for x in inputs]
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(tensors)
            outputs = tuple(function(*tensors))
            totals = [keras.ops.sum(o) for o in outputs]
        gradients = [tape.gradient(total, tensors) for total in totals]
    return (
        [probes.to_numpy(o, f"output {i + 1}") for i, o in enumerate(outputs)],
        [[None if g is None else probes.to_numpy(g, "gradient") for g in row] for row in gradients],
    )


def named_gradients(gradients, names):
    """{name: gradient} for the gradients that exist: a missing key means none flowed."""
    return {name: g for name, g in zip(names, gradients) if g is not None}
