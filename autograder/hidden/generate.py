import numpy as np

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.generate import MEAN, RUNS, VARIANCE, predictions, run


@check("generate", "returns the last prediction, denormalised and clipped", weight=2.0,
       hint="images = normalizer.mean + pred_images * sqrt(normalizer.variance), clipped to [0, 255], "
            "with pred_images from the last denoising step",
       given=RUNS)
def denormalised_output(subject, num_images, diffusion_steps, image_size):
    out = run(subject, num_images, diffusion_steps, image_size)
    assert int(out["network_calls"]) >= 1, "generate never ran the denoising network"
    pred_images, _ = predictions(out, -1)
    want = np.clip(MEAN + pred_images * np.sqrt(VARIANCE), 0.0, 255.0)
    assert_close(out["images"], want, "output images (the last network call's pred_images, "
                 "denormalised and clipped)", rtol=1e-3, atol=1e-2)


CHECKS = (denormalised_output,)
