"""Text-to-image with KerasHub's Stable Diffusion 3, chapter 17's last section.

`slerp` walks along the great circle between two prompt embeddings, so the
images in between stay "on the sphere" of plausible embeddings instead of
cutting through the low-norm interior as a straight line would.
"""

from keras import ops

# Above this cosine the two vectors are (numerically) parallel: sin(theta) is
# ~0 and the slerp weights are 0 / 0, so interpolate linearly instead.
PARALLEL_DOT = 0.9995


def slerp(t, v1, v2):
    """Spherical interpolation from v1 (t = 0) to v2 (t = 1), any shape.

    The angle comes from the flattened, normalised vectors. Called eagerly.
    Finite for parallel or identical inputs (falls back to linear
    interpolation), float32 out.
    """
    v1 = ops.cast(v1, "float32")
    v2 = ops.cast(v2, "float32")
    v1_norm = ops.linalg.norm(ops.ravel(v1))
    v2_norm = ops.linalg.norm(ops.ravel(v2))
    dot = ops.clip(ops.sum(v1 * v2) / (v1_norm * v2_norm), -1.0, 1.0)
    if float(ops.abs(dot)) > PARALLEL_DOT:
        return (1.0 - t) * v1 + t * v2
    theta_0 = ops.arccos(dot)
    sin_theta_0 = ops.sin(theta_0)
    theta_t = theta_0 * t
    s0 = ops.sin(theta_0 - theta_t) / sin_theta_0
    s1 = ops.sin(theta_t) / sin_theta_0
    return s0 * v1 + s1 * v2
