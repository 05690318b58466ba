"""Part III's figures, drawn by the kit's trained tiny Stable Diffusion 3.

    python bench/flower_sd3_gallery.py [--out docs/gallery]

The chapter's last section on the model `load_sd3()` falls back to offline
(`trained_tiny_sd3()`): prompts it was trained to understand, the negative
prompt "blue color", a `num_steps` sweep, and the walk from "a red flower"
to "a blue flower" (the answer key's `interpolate_text_embeddings`, whose
slerp the student writes), whole and zoomed into t in [0.5, 0.6]. Each
figure is written as `trained-sd3_<name>.png`; the script prints how long
each took, and how red and how blue each image is (a channel's mean excess
over the other two, in levels of 0..255), so that the figures' claims can be
read off as numbers too.
"""

import argparse
import os
import time

import numpy as np

from genimg_kit import sd3, viz
from genimg_ref.text_to_image import interpolate_text_embeddings

PROMPTS = (
    "a red flower",
    "a blue flower",
    "a yellow flower",
    "a flower with five white petals",
    "a pink flower with a brown centre",
    "a flower with nine orange petals",
)
NEGATIVE_PROMPTS = ("a flower", "a purple flower")
SWEEP = (5, 10, 15, 20, 25)
STEPS = 28  # The chapter's default number of steps.
SEED = 0


def redness_blueness(image):
    """(R - (G + B) / 2, B - (R + G) / 2), mean over the image, in levels."""
    r, g, b = np.moveaxis(image.astype("float64"), -1, 0)
    return float(np.mean(r - (g + b) / 2)), float(np.mean(b - (r + g) / 2))


def colour_labels(images, labels):
    """Each label with the image's redness and blueness under it."""
    return [
        f"{label}\nred {red:+.0f} blue {blue:+.0f}"
        for label, (red, blue) in zip(labels, map(redness_blueness, images))
    ]


def prompts_figure(task):
    images = [sd3.sd3_generate(task, p, num_steps=STEPS, seed=SEED) for p in PROMPTS]
    return images, PROMPTS, f"trained tiny SD3: prompts ({STEPS} steps, seed {SEED})"


def negative_prompt_figure(task):
    images, labels = [], []
    for prompt in NEGATIVE_PROMPTS:
        for negative in ("", "blue color"):
            for seed in (SEED, SEED + 1):
                images.append(
                    sd3.sd3_generate(
                        task, prompt, negative, num_steps=STEPS, seed=seed
                    )
                )
                labels.append(f"'{prompt}', negative '{negative}', seed {seed}")
    title = "trained tiny SD3: the negative prompt 'blue color'"
    return images, labels, title


def num_steps_figure(task):
    prompt = "a flower with six pink petals"
    images = [sd3.sd3_generate(task, prompt, num_steps=n, seed=SEED) for n in SWEEP]
    labels = [f"{n} steps" for n in SWEEP]
    return images, labels, f"trained tiny SD3: '{prompt}', num_steps sweep"


def walk_figure(task, start=0.0, stop=1.0):
    red = sd3.get_text_embeddings(task, "a red flower")
    blue = sd3.get_text_embeddings(task, "a blue flower")
    path = interpolate_text_embeddings(red, blue, start=start, stop=stop, num=9)
    images = sd3.images_from_embeddings(task, path, num_steps=STEPS, seed=SEED)
    labels = [f"t = {t:.3f}" for t in np.linspace(start, stop, 9)]
    title = f"trained tiny SD3: slerp from 'a red flower' to 'a blue flower', t in [{start}, {stop}]"
    return list(images), labels, title


FIGURES = {
    "prompts": prompts_figure,
    "negative_prompt": negative_prompt_figure,
    "num_steps": num_steps_figure,
    "walk": walk_figure,
    "walk_zoom": lambda task: walk_figure(task, 0.5, 0.6),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join("docs", "gallery"))
    args = parser.parse_args()
    start = time.time()
    task = sd3.trained_tiny_sd3()
    print(f"loaded the trained model in {time.time() - start:.1f} s")
    for name, figure in FIGURES.items():
        start = time.time()
        images, labels, title = figure(task)
        seconds = time.time() - start
        labels = colour_labels(images, labels)
        path = os.path.join(args.out, f"trained-sd3_{name}.png")
        viz.plot_image_strip(np.stack(images), path, labels=labels, title=title)
        print(f"{path}: {seconds:.1f} s")
        for label in labels:
            print("   ", label.replace("\n", ": "))


if __name__ == "__main__":
    main()
