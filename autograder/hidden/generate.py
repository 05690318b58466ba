import numpy as np

from genimg_kit.checks.core import assert_close, check
from genimg_kit.checks.generate import MEAN, VARIANCE, expected_times, run, runs
from genimg_kit.probes import generate as probes


def predictions(out, k):
    return probes.spy_prediction(out["noisy"][k], out["noise_rates"][k], out["signal_rates"][k], np)


@check("generate", "remixes each prediction with the NEXT step's rates", weight=2.0,
       hint="next_noisy = next_signal_rates * pred_images + next_noise_rates * pred_noises, "
            "with the rates of t - 1/diffusion_steps",
       given=runs.filter(lambda r: r[1] >= 2))
def remix_with_next_rates(subject, run_args):
    num_images, steps, size = run_args
    out = run(subject, num_images, steps, size)
    assert int(out["calls"]) == steps, f"expected {steps} denoising calls, got {int(out['calls'])}"
    next_noise, next_signal = probes.spy_schedule(expected_times(steps) - 1.0 / steps, np)
    for k in range(steps - 1):
        pred_images, pred_noises = predictions(out, k)
        want = next_signal[k] * pred_images + next_noise[k] * pred_noises
        assert_close(out["noisy"][k + 1], want, f"noisy images handed to step {k + 1} of {steps}",
                     rtol=1e-3, atol=1e-3)


@check("generate", "returns the last prediction, denormalised and clipped", weight=2.0,
       hint="images = normalizer.mean + pred_images * sqrt(normalizer.variance), clipped to [0, 255]",
       given=runs)
def denormalised_output(subject, run_args):
    num_images, steps, size = run_args
    out = run(subject, num_images, steps, size)
    assert int(out["calls"]) == steps, f"expected {steps} denoising calls, got {int(out['calls'])}"
    pred_images, _ = predictions(out, steps - 1)
    want = np.clip(MEAN + pred_images * np.sqrt(VARIANCE), 0.0, 255.0)
    assert_close(out["images"], want, "output images", rtol=1e-3, atol=1e-2)


CHECKS = (remix_with_next_rates, denormalised_output)
