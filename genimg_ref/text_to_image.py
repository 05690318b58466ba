"""Text-to-image with KerasHub's Stable Diffusion 3, chapter 17's last section.

`slerp` walks along the great circle between two prompt embeddings, so the
images in between stay "on the sphere" of plausible embeddings instead of
cutting through the low-norm interior as a straight line would.
"""

import numpy as np
from keras import ops

# Above this cosine the two vectors are (numerically) parallel: sin(theta) is
# ~0 and the slerp weights are 0 / 0, so interpolate linearly instead.
PARALLEL_DOT = 0.9995


def slerp(t, v1, v2):
    """Spherical interpolation from v1 (t = 0) to v2 (t = 1), any shape.

    The angle comes from the flattened, normalised vectors. Called eagerly,
    on tensors or arrays of any float dtype (a mixed-precision SD3 gives
    float16 embeddings). Finite for parallel or identical inputs (falls back
    to linear interpolation), float32 out.
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


def interpolate_text_embeddings(embeddings_1, embeddings_2, start=0, stop=1, num=10):
    """`num` embeddings on the slerp path from `embeddings_1` to `_2`, as in the chapter.

    Both arguments are the 4-tuples of `sd3.get_text_embeddings`:
    (positive sequence, negative sequence, positive pooled, negative pooled).
    As in the chapter (listing 17.10), only the positive sequence and the
    positive pooled vector are interpolated; the negative ones are kept from
    `embeddings_1` (both prompts use the same negative prompt). `t` runs over
    `linspace(start, stop, num)`: from 0 to 1 the first and last entries are
    the two inputs (up to float rounding); 0.5 to 0.6 zooms into the middle.

    Returns:
        A list of `num` tuples with the structure of the inputs.
    """
    positive_1, negative_1, pooled_1, negative_pooled_1 = embeddings_1
    positive_2, _, pooled_2, _ = embeddings_2
    path = []
    for t in np.linspace(start, stop, num):
        t = float(t)
        path.append(
            (
                slerp(t, positive_1, positive_2),
                negative_1,
                slerp(t, pooled_1, pooled_2),
                negative_pooled_1,
            )
        )
    return path


def morph_strip(
    task,
    prompt_1,
    prompt_2,
    num_points=5,
    num_steps=28,
    guidance_scale=7.0,
    seed=0,
):
    """Images along the text-embedding path from `prompt_1` to `prompt_2`.

    Every frame starts from the *same* initial noise (drawn once from `seed`),
    so the only thing that changes along the strip is the text embedding.

    Returns:
        `uint8` array `(num_points, H, W, 3)`.
    """
    # Imported here: it loads KerasHub, which `slerp` alone doesn't need.
    from genimg_kit import sd3

    embeddings_1 = sd3.get_text_embeddings(task, prompt_1)
    embeddings_2 = sd3.get_text_embeddings(task, prompt_2)
    latents = sd3.initial_latents(task, seed=seed)
    frames = [
        sd3.scale_output(
            sd3.denoise_with_text_embeddings(
                task,
                embeddings,
                num_steps=num_steps,
                guidance_scale=guidance_scale,
                latents=latents,
            )
        )
        for embeddings in interpolate_text_embeddings(
            embeddings_1, embeddings_2, num=num_points
        )
    ]
    return np.stack(frames)
