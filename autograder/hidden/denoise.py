import numpy as np

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.denoise import forward_process, run
from genimg_kit.checks.strategies import gaussian_array


@check("denoise", "with any predictor: pred_images = (noisy - noise_rates * mask) / signal_rates, mask returned as is",
       hint="divide by the signal rate; return the network's mask unchanged, second",
       given=forward_process())
def arbitrary_predictor(subject, process):
    _, noise, noisy, noise_rates, signal_rates = process
    mask = gaussian_array(7, noisy.shape)
    out = run(subject, noisy, noise_rates, signal_rates, mask)
    want = (noisy.astype(np.float64) - noise_rates * mask) / signal_rates
    assert_close(out["second"], mask, "pred_noise_masks (second output)")
    assert_close(out["first"], want, "pred_images (first output)", rtol=1e-3, atol=1e-3)


CHECKS = (arbitrary_predictor,)
