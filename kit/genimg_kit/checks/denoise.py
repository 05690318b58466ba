"""Public checks of `denoise`: split noisy images into images and noise."""

import collections

import numpy as np
from hypothesis import strategies as st

from genimg_kit.checks.assertions import assert_close, assert_gradient
from genimg_kit.checks.core import check
from genimg_kit.checks.diagnosis import Misconception, first_match
from genimg_kit.checks.strategies import float_arrays, floats, gaussian_array
from genimg_kit.probes import denoise as probes


# Named, so that a counterexample names every input.
Process = collections.namedtuple("Process", "images noise noisy_images noise_rates signal_rates")


@st.composite
def forward_process(draw):
    """Clean images, noise, and rates on the unit circle; noisy = s * x + n * e."""
    batch, size = draw(st.sampled_from([1, 3])), 2
    images = draw(float_arrays((batch, size, size, 3), -2.0, 2.0))
    noise = draw(float_arrays((batch, size, size, 3), -2.0, 2.0))
    angles = np.array(draw(st.lists(floats(0.1, 1.4), min_size=batch, max_size=batch)), np.float32)
    noise_rates = np.sin(angles).reshape(batch, 1, 1, 1).astype(np.float32)
    signal_rates = np.cos(angles).reshape(batch, 1, 1, 1).astype(np.float32)
    noisy = (signal_rates * images + noise_rates * noise).astype(np.float32)
    return Process(images, noise, noisy, noise_rates, signal_rates)


def run(subject, noisy, noise_rates, signal_rates, noise_mask):
    return subject.probe(probes.denoise, noisy_images=noisy, noise_rates=noise_rates,
                         signal_rates=signal_rates, noise_mask=noise_mask)


@check("denoise", "calls denoising_model once with [noisy_images, noise_rates]",
       hint="the network is conditioned on the noise rates: denoising_model([noisy_images, noise_rates])",
       given=forward_process())
def network_inputs(subject, process):
    _, noise, noisy, noise_rates, signal_rates = process
    out = run(subject, noisy, noise_rates, signal_rates, noise)
    assert int(out["network_calls"]) == 1, (
        f"expected one call of denoising_model, got {int(out['network_calls'])}"
    )
    assert_close(out["seen_images"], noisy, "first network input (should be noisy_images)")
    assert_close(out["seen_rates"], noise_rates, "second network input (should be noise_rates)")


@check("denoise", "with a perfect noise predictor, returns (clean images, that noise)", weight=2.0,
       hint="noisy = signal_rate * image + noise_rate * noise: solve for the image; "
            "return (pred_images, pred_noise_masks) in that order",
       given=forward_process())
def inverts_forward_process(subject, process):
    images, noise, noisy, noise_rates, signal_rates = process
    out = run(subject, noisy, noise_rates, signal_rates, noise)
    assert_close(out["first"], images, "pred_images (first output)", rtol=1e-3, atol=1e-3)
    assert_close(out["second"], noise, "pred_noise_masks (second output)")


@check("denoise", "gradients: d sum(pred_noise_masks) / d prediction = 1, d sum(pred_images) / d "
       "prediction = -noise_rates / signal_rates, d sum(pred_images) / d noisy_images = 1 / signal_rates",
       weight=2.0,
       hint="the U-Net learns through these gradients: none at all means they were cut (return the "
            "prediction attached, no ops.stop_gradient, no numpy); a factor off means the formula is "
            "(which rate divides, which multiplies)",
       given=forward_process())
def gradients(subject, process):
    _, noise, noisy, noise_rates, signal_rates = process
    out = subject.probe(probes.denoise_gradients, noisy_images=noisy, noise_rates=noise_rates,
                        signal_rates=signal_rates, noise_mask=noise)
    ones = np.ones(noisy.shape)
    assert_gradient(out, "d_pred_noise_masks_d_prediction", ones,
                    "d sum(pred_noise_masks) / d the network's prediction")
    assert_gradient(out, "d_pred_images_d_prediction", -ones * noise_rates / signal_rates,
                    "d sum(pred_images) / d the network's prediction", rtol=1e-3)
    assert_gradient(out, "d_pred_images_d_noisy_images", ones / signal_rates,
                    "d sum(pred_images) / d noisy_images", rtol=1e-3)


# The last steps of generation (t near 1): the schedule's signal rates fall to its minimum, 0.02.
NOISIEST_SIGNAL_RATES = np.array([0.1, 0.05, 0.02], np.float32).reshape(3, 1, 1, 1)


@check("denoise", "splits the noisiest images too: signal rates down to the schedule's 0.02",
       hint="divide by the signal rates as they are: clipping or flooring them (to avoid a small "
            "divisor) makes every prediction of the first steps of generation wrong")
def noisiest_steps(subject):
    signal_rates = NOISIEST_SIGNAL_RATES
    noise_rates = np.sqrt(1.0 - signal_rates.astype(np.float64) ** 2).astype(np.float32)
    images, noise = gaussian_array(3, (3, 2, 2, 3)), gaussian_array(4, (3, 2, 2, 3))
    noisy = (signal_rates * images + noise_rates * noise).astype(np.float32)
    out = run(subject, noisy, noise_rates, signal_rates, noise)
    want = (noisy.astype(np.float64) - noise_rates * noise) / signal_rates  # exact for these float32 inputs
    assert_close(out["first"], want, "pred_images (first output) at signal rates 0.1, 0.05 and 0.02",
                 rtol=1e-3, atol=1e-3)


CHECKS = (network_inputs, inverts_forward_process, gradients, noisiest_steps)


# --- naming the mistake (genimg_kit.checks.diagnosis) ---------------------------------------

# Signal rates from the start of the schedule to its noisiest end.
DIAGNOSTIC_SIGNAL_RATES = np.array([0.9, 0.5, 0.05], np.float32).reshape(3, 1, 1, 1)


def diagnostic_inputs():
    signal_rates = DIAGNOSTIC_SIGNAL_RATES
    noise_rates = np.sqrt(1.0 - signal_rates.astype(np.float64) ** 2).astype(np.float32)
    noisy, mask = gaussian_array(5, (3, 2, 2, 3)), gaussian_array(6, (3, 2, 2, 3))
    return noisy, noise_rates, signal_rates, mask


def catalogue(noisy, noise_rates, signal_rates, mask):
    """What each catalogued mistake returns: (first output, second output, the network's rates)."""
    x, n, s, e = (a.astype(np.float64) for a in (noisy, noise_rates, signal_rates, mask))
    return [
        (Misconception("denoise's outputs returned in the wrong order",
                       "your outputs match (pred_noise_masks, pred_images): the pair comes back swapped"),
         (e, (x - n * e) / s, n)),
        (Misconception("denoise multiplies by the signal rate",
                       "your pred_images match (noisy - noise_rates * mask) * signal_rates: "
                       "solving for the image divides by the signal rate"),
         ((x - n * e) * s, e, n)),
        (Misconception("denoise's rates swapped",
                       "your pred_images match (noisy - signal_rates * mask) / noise_rates: "
                       "the two rates trade places"),
         ((x - s * e) / n, e, n)),
        (Misconception("denoise adds the noise back",
                       "your pred_images match (noisy + noise_rates * mask) / signal_rates: "
                       "the predicted noise must be taken away"),
         ((x + n * e) / s, e, n)),
        (Misconception("denoise's divisor floored",
                       "your pred_images match a signal rate floored at 0.1: right early in "
                       "generation, wrong at its noisiest steps"),
         ((x - n * e) / np.maximum(s, 0.1), e, n)),
        (Misconception("network conditioned on the signal rates",
                       "the network was handed the signal rates: it is conditioned on the noise rates"),
         ((x - n * e) / s, e, s)),
    ]


def diagnose(subject):
    inputs = diagnostic_inputs()
    out = run(subject, *inputs)
    return first_match((out["first"], out["second"], out["seen_rates"]), catalogue(*inputs))


DIAGNOSES = {"denoise": diagnose}
