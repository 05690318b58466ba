"""Probes of `denoise`, with a spy standing in for the U-Net."""

import numpy as np

from genimg_kit import probes
from genimg_kit.probes.gradients import named_gradients, sum_gradients


def check_network_inputs(inputs):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise TypeError("denoising_model must be called with one list [noisy_images, noise_rates]")


class SpyNetwork:
    """Stands in for the U-Net: records its inputs, returns a fixed noise mask."""

    def __init__(self, noise_mask):
        self.noise_mask = noise_mask
        self.calls = []

    def __call__(self, inputs, training=None):
        check_network_inputs(inputs)
        self.calls.append([probes.to_numpy(x, "network input") for x in inputs])
        return probes.keras_module().ops.convert_to_tensor(self.noise_mask)


def denoise(namespace, noisy_images, noise_rates, signal_rates, noise_mask):
    """Calls denoise with a network that always predicts `noise_mask`."""
    ops = probes.keras_module().ops
    network = SpyNetwork(noise_mask)
    out = probes.graded(namespace, "denoise")(
        network,
        ops.convert_to_tensor(noisy_images),
        ops.convert_to_tensor(noise_rates),
        ops.convert_to_tensor(signal_rates),
    )
    first, second = probes.pair(out, "denoise", "pred_images, pred_noise_masks")
    result = {"first": probes.to_numpy(first, "denoise's first output"),
              "second": probes.to_numpy(second, "denoise's second output"),
              "network_calls": np.array(len(network.calls))}
    if network.calls:
        result["seen_images"], result["seen_rates"] = network.calls[0]
    return result


class PredictionSpy:
    """Stands in for the U-Net, returning `prediction`: a tensor being differentiated."""

    def __init__(self, prediction):
        self.prediction = prediction

    def __call__(self, inputs, training=None):
        check_network_inputs(inputs)  # not recorded: traced inputs have no numpy value
        return self.prediction


def denoise_gradients(namespace, noisy_images, noise_rates, signal_rates, noise_mask):
    """Gradients of sum(pred_images) and sum(pred_noise_masks) with respect to
    the network's prediction (`noise_mask`, returned by the spy) and the noisy images."""
    ops = probes.keras_module().ops
    piece = probes.graded(namespace, "denoise")

    def split(noisy, prediction):
        out = piece(PredictionSpy(prediction), noisy, ops.convert_to_tensor(noise_rates),
                    ops.convert_to_tensor(signal_rates))
        return probes.pair(out, "denoise", "pred_images, pred_noise_masks")

    _, (images_row, masks_row) = sum_gradients(split, [noisy_images, noise_mask])
    return {
        **named_gradients(images_row, ["d_pred_images_d_noisy_images", "d_pred_images_d_prediction"]),
        **named_gradients(masks_row[1:], ["d_pred_noise_masks_d_prediction"]),
    }


PROBES = (denoise, denoise_gradients)
