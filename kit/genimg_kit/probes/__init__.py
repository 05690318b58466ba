"""Probes: the only code that touches a student's implementation.

A probe takes numpy arrays, calls one graded name from the student's
namespace (with spies standing in for models and schedules where the part
calls them), and returns a dict of numpy arrays: what came out, and what the
spies saw. It judges nothing; the checks do. The grader runs probes in a
sandboxed child process and receives only these arrays.

One module per part, laid out like `genimg_kit.checks`; each lists its
probes (`PROBES`). A check hands `subject.probe` the probe function itself;
the sandbox child finds it again by name in `PROBES`. This package
holds what the probes share: the graded-name lookup, the conversion to
numpy, the message of a raised exception. The per-part modules look these
up on this package when they run (`probes.to_numpy(...)`), so there is one
of each.

The spies return arbitrary but deterministic values: they hold no
implementation of any graded piece.
"""

import random
import sys
import traceback

import numpy as np

from genimg_kit.parts import MissingName, near_misses, part_modules
from genimg_kit.text import plain

def describe_exception(error):
    """`TypeError: ...` plus the innermost frame that raised it."""
    frames = traceback.extract_tb(error.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        line = (last.line or "").strip()  # none where the code ran from a string, as a kept statement does
        where = f" (in {last.name}, line {last.lineno}" + (f": {line})" if line else ")")
    # Keras colours some messages for terminals; a report is plain text (the one sanitiser).
    return plain(f"{type(error).__name__}: {error}{where}")[:2000]


def keras_module():
    """Keras, imported on first use: the checks import the probes without it."""
    import keras

    return keras


def set_seed(seed):
    """`keras.utils.set_random_seed(seed)`, without importing TensorFlow for it.

    Keras seeds TensorFlow too whenever it is installed (for tf.data), and
    importing it to do so costs 550 MB on JAX: more than half a grading
    container's memory. No probe uses tf.data, so on another backend the
    same seeds are set (Python, NumPy, Keras's global seed generator) and
    TensorFlow only when graded code has imported it already.
    """
    keras = keras_module()
    if keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules:
        keras.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def release_memory():
    """Hands back what the last part's probes left behind, before the next part.

    JAX keeps every compiled function (hundreds of MB after a training run),
    and glibc keeps freed memory for reuse; a container counts both. Dropping
    JAX's caches and trimming the heap keeps the next part's peak to its own.
    """
    import gc

    gc.collect()
    if keras_module().backend.backend() == "jax":
        import jax

        jax.clear_caches()
        gc.collect()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def graded(namespace, name):
    """The graded `name` of the submission's namespace; when it is missing, the
    functions and classes the submission defines under a name close to it."""
    value = namespace.get(name)
    if value is None:
        own = {n: v for n, v in namespace.items()
               if callable(v) and getattr(v, "__module__", None) == namespace.get("__name__")}
        raise MissingName([name], [f"found `{n}`: the checks look for the name `{name}`"
                                   for n in near_misses(name, own)])
    return value


def to_numpy(value, what):
    """Converts a tensor or array-like of numbers to numpy, or says what it got."""
    keras = keras_module()
    try:
        array = np.asarray(keras.ops.convert_to_numpy(value))
    except Exception:
        raise TypeError(f"{what} should be a tensor of numbers, got {type(value).__name__}") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{what} should be a tensor of numbers, got dtype {array.dtype}")
    return array


def record(sink, values, what):
    """Appends numpy copies of `values` (tensors) to `sink`, the way a spy remembers
    what it was handed: at once when they are concrete, and from inside compiled code
    (keras.ops.fori_loop on JAX, jax.jit, tf.function) each time it runs, in order,
    so that a compiled loop is seen as a Python one is. `wait_for_records` then makes
    sure every copy has arrived."""
    backend = keras_module().backend.backend()
    if backend == "jax":
        import jax

        if any(isinstance(value, jax.core.Tracer) for value in values):
            jax.debug.callback(lambda *arrays: sink.append([np.asarray(a) for a in arrays]), *values,
                               ordered=True)
            return
    elif backend == "tensorflow" and not _tensorflow().executing_eagerly():
        def copy(*arrays):
            sink.append([np.asarray(a) for a in arrays])
            return np.int32(0)

        _tensorflow().numpy_function(copy, list(values), "int32", stateful=True)
        return
    sink.append([to_numpy(value, what) for value in values])


def wait_for_records():
    """Returns once every copy `record` asked compiled code for has been made."""
    if keras_module().backend.backend() == "jax":
        import jax

        jax.effects_barrier()


def _tensorflow():
    import tensorflow

    return tensorflow


def pair(value, what, names):
    """`value` when it is a pair; `what` should have returned (`names`)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{what} should return a pair ({names}), got {type(value).__name__}")
    return value


# The per-part modules use the helpers above: imported after them.
_MODULES = part_modules("genimg_kit.probes")
PROBES = {probe.__name__: probe for module in _MODULES for probe in module.PROBES}
assert len(PROBES) == sum(len(module.PROBES) for module in _MODULES), "probe names must be unique"
