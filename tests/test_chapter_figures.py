"""What the budgets draw: digits a classifier reads, in the reference's training and in the solutions.

- The reference, trained at the `cpu` budget on the offline digits, draws
  a latent grid in which a classifier trained on real MNIST reads at least 7
  digit classes (the chapter's figure; a collapsed grid shows 2 or 3).
- The committed solutions notebook, executed at the `cpu` budget, shows
  such a grid, and its flowers beat the untrained model's by the kernel
  distance it printed.

Slow (minutes of training): marked `slow`, run by `.ci/run` with the rest.
The training test runs on TensorFlow only: the same 4,000 steps take 30
minutes on JAX's CPU, more than CI can give one test.
"""

import base64
import io
import json
import os
import re

import keras
import pytest
from PIL import Image

from genimg_kit.budget import BUDGETS
from genimg_kit.data import load_mnist_digits
from genimg_kit.models import build_decoder
from genimg_kit.quality import digit_classes, tiles_of_latent_grid_figure
from genimg_kit.viz import decode_latent_grid
from genimg_ref.vae import train_vae

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(ROOT, "solutions", "ch17_image_generation.ipynb")
MIN_CLASSES = 7


def test_untrained_decoder_draws_no_digits():
    # The measure can fail: a decoder that learned nothing shows no digits.
    keras.utils.set_random_seed(0)
    assert len(digit_classes(decode_latent_grid(build_decoder(2)))) <= 1


@pytest.mark.skipif(keras.backend.backend() == "jax",
                    reason="30 min on JAX's CPU (0.45 s a step: XLA's Conv2DTranspose backward), "
                           "5 min on TensorFlow; JAX trains the same VAE in test_training.py and "
                           "the convergence checks")
def test_cpu_budget_vae_draws_digits_of_most_classes():
    budget = BUDGETS["cpu"]
    keras.utils.set_random_seed(1337)
    digits = load_mnist_digits(offline=True)
    vae, _ = train_vae(digits, budget.vae_epochs(len(digits)), batch_size=budget.vae_batch_size,
                       learning_rate=budget.vae_learning_rate, verbose=0)
    classes = digit_classes(decode_latent_grid(vae.decoder, n=30))
    assert len(classes) >= MIN_CLASSES, f"the grid shows digit classes {classes} only"


def _solutions():
    with open(SOLUTIONS) as f:
        return json.load(f)


def _outputs_of(nb, marker):
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert len(cells) == 1, f"{len(cells)} code cells call {marker}"
    return cells[0]["outputs"]


def _stdout(outputs):
    return "".join("".join(o.get("text", "")) for o in outputs if o.get("name") == "stdout")


def test_solutions_were_executed_at_the_cpu_budget():
    setup = _stdout(_outputs_of(_solutions(), "BUDGET = select_budget"))
    assert "Budget 'cpu'" in setup


def test_solutions_latent_grid_reads_as_digits():
    outputs = _outputs_of(_solutions(), "plot_latent_grid(")
    data = next(o["data"] for o in outputs if "image/jpeg" in o.get("data", {}))
    figure = Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"]))).convert("L")
    classes = digit_classes(tiles_of_latent_grid_figure(figure, n=30))
    assert len(classes) >= MIN_CLASSES, f"the committed grid shows digit classes {classes} only"


def test_solutions_flowers_beat_the_untrained_model():
    line = _stdout(_outputs_of(_solutions(), "kernel_distance(samples"))
    match = re.search(r"([-\d.]+) trained, ([-\d.]+) untrained; two sets of training flowers: ([-\d.]+)", line)
    assert match, line
    trained, untrained, real = (float(x) for x in match.groups())
    assert real < trained < untrained / 100
