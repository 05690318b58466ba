"""Compiled sampler vs the chapter's eager sampling loop, on this machine's backend.

    KERAS_BACKEND=jax python bench/sampler_speed.py
    KERAS_BACKEND=tensorflow python bench/sampler_speed.py

For two U-Nets (a tiny 16 px one and the chapter's 32 px [32, 64, 96, 128]
x 2) it times `generate` (the chapter's Python loop) and `generate_compiled`
from the same seed-generator state, checks that they return the same images,
and prints a markdown table with medians over repeats after a warm-up call.

The "floor" is diffusion_steps x one compiled forward pass of the U-Net: the
network work no sampler can avoid. A compiled sampler can only remove the
per-step Python and dispatch overhead above it, so judge it by how close it
gets to the floor rather than by a fixed speed-up (which depends on the model
size and the backend). The floor is timed as diffusion_steps separate calls,
so it holds one call overhead per step: for a tiny U-Net, where that overhead
is much of the cost, a compiled loop can come in under it.

The machine's load average is printed with the table: on a shared machine,
all the times stretch together (the three timings take turns, so the ratios
suffer less than the seconds).
"""

import argparse
import os
import statistics
import time

import keras
import numpy as np
from keras import ops

from genimg_kit.data import procedural_flowers
from genimg_ref.diffusion import DiffusionModel, generate, generate_compiled

CONFIGS = {
    "tiny 16 px [16, 32] x 1": (16, [16, 32], 1),
    "chapter 32 px [32, 64, 96, 128] x 2": (32, [32, 64, 96, 128], 2),
}


def make_model(image_size, widths, block_depth):
    """An untrained model whose U-Net predicts non-zero noise.

    A fresh U-Net's last layer is zero-initialised, so it would predict zero
    noise and every sampler would trivially agree; small random weights there
    make the comparison of images meaningful.
    """
    model = DiffusionModel(image_size, widths, block_depth, seed=0)
    model.normalizer.adapt(procedural_flowers(64, image_size))
    last = model.denoising_model.layers[-1]
    rng = np.random.default_rng(0)
    last.kernel.assign(rng.normal(0.0, 0.002, last.kernel.shape).astype("float32"))
    return model


def compiled_forward_pass(network):
    """One U-Net forward pass, compiled the way `generate_compiled` compiles it."""
    if keras.backend.backend() == "jax":
        import jax

        forward = jax.jit(
            lambda trainable, non_trainable, inputs: network.stateless_call(
                trainable, non_trainable, inputs, training=False
            )[0]
        )
        trainable = [v.value for v in network.trainable_variables]
        non_trainable = [v.value for v in network.non_trainable_variables]
        return lambda inputs: forward(trainable, non_trainable, inputs).block_until_ready()
    import tensorflow as tf

    forward = tf.function(lambda inputs: network(inputs, training=False), jit_compile=False)
    return lambda inputs: forward(inputs).numpy()


def median_seconds(functions, repeats):
    """{name: median seconds per call} after one warm-up call of each.

    The functions take turns within each repeat, so that a machine shared
    with other work slows them alike rather than whichever ran last.
    """
    for fn in functions.values():
        fn()  # Warm-up: compilation and first-call costs are not measured.
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bench(name, config, num_images, diffusion_steps, repeats):
    model = make_model(*config)
    state = ops.convert_to_numpy(model.seed_generator.state)

    def sampler(generate_fn):
        # Every call starts from the same seed-generator state, so every call
        # draws the same starting noise and must return the same images.
        def run():
            model.seed_generator.state.assign(state)
            return ops.convert_to_numpy(generate_fn(model, num_images, diffusion_steps))

        return run

    eager, compiled = sampler(generate), sampler(generate_compiled)
    max_diff = float(np.abs(eager() - compiled()).max())
    image_size = config[0]
    noisy_images = np.random.default_rng(1).normal(size=(num_images, image_size, image_size, 3))
    inputs = [noisy_images.astype("float32"), np.full((num_images, 1, 1, 1), 0.5, dtype="float32")]
    forward = compiled_forward_pass(model.denoising_model)

    def floor():
        for _ in range(diffusion_steps):
            forward(inputs)

    seconds = median_seconds({"eager": eager, "compiled": compiled, "floor": floor}, repeats)
    return {
        "name": name,
        "params": model.denoising_model.count_params(),
        "eager": seconds["eager"],
        "compiled": seconds["compiled"],
        "floor": seconds["floor"],
        "max_diff": max_diff,
    }


def print_table(rows, num_images, diffusion_steps, repeats):
    # Timings on a machine shared with other work: say how busy it was.
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nbackend {keras.backend.backend()}, {num_images} images, {diffusion_steps} steps, "
        f"median of {repeats} after a warm-up; {os.cpu_count()} CPUs, load average {load}\n"
    )
    columns = [
        "U-Net", "params", "eager s", "compiled s", "eager / compiled",
        "floor s", "compiled / floor", "max abs diff (0-255)",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|---" + "|---:" * (len(columns) - 1) + "|")
    for r in rows:
        print(
            f"| {r['name']} | {r['params']:,} | {r['eager']:.3f} | {r['compiled']:.3f} "
            f"| {r['eager'] / r['compiled']:.1f}x | {r['floor']:.3f} "
            f"| {r['compiled'] / r['floor']:.2f}x | {r['max_diff']:.1e} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    rows = [
        bench(name, config, args.num_images, args.steps, args.repeats)
        for name, config in CONFIGS.items()
    ]
    print_table(rows, args.num_images, args.steps, args.repeats)


if __name__ == "__main__":
    main()
