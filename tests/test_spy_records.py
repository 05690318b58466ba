"""A spy sees a compiled loop as it sees a Python one: `probes.record` copies what
it is handed eagerly, from inside `keras.ops.fori_loop` (traced on JAX) and from
inside the backend's own compiled function (jax.jit, tf.function), in order."""

import keras
import numpy as np
import pytest
from keras import ops

from genimg_kit import probes


def compiled(fn):
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


def doubling_loop(sink, steps=4):
    def body(k, x):
        probes.record(sink, (x, ops.cast(k, "float32")), "loop state")
        return x * 2.0

    return lambda x: ops.fori_loop(0, steps, body, x)


@pytest.mark.parametrize("how", ["eager", "compiled"])
def test_every_iteration_is_recorded_in_order(how):
    sink = []
    loop = doubling_loop(sink)
    out = (compiled(loop) if how == "compiled" else loop)(ops.ones((2,)))
    probes.to_numpy(out, "loop output")
    probes.wait_for_records()
    assert [float(k) for _, k in sink] == [0.0, 1.0, 2.0, 3.0]
    for k, (x, _) in enumerate(sink):
        np.testing.assert_array_equal(x, np.full(2, 2.0 ** k, np.float32))


def test_concrete_values_are_recorded_at_once():
    sink = []
    probes.record(sink, (ops.ones((3,)),), "value")
    assert len(sink) == 1 and sink[0][0].shape == (3,)
    with pytest.raises(TypeError, match="value should be a tensor of numbers"):
        probes.record(sink, ("text",), "value")
