"""Probes of `kl_loss`: its values, and its gradients."""

from genimg_kit import probes
from genimg_kit.probes.gradients import named_gradients, sum_gradients


def kl_loss(namespace, z_mean, z_log_var):
    keras = probes.keras_module()
    out = probes.graded(namespace, "kl_loss")(
        keras.ops.convert_to_tensor(z_mean), keras.ops.convert_to_tensor(z_log_var)
    )
    return {"kl": probes.to_numpy(out, "kl_loss output")}


def kl_loss_gradients(namespace, z_mean, z_log_var):
    """d sum(kl_loss) / d z_mean and / d z_log_var."""
    loss = probes.graded(namespace, "kl_loss")
    _, (row,) = sum_gradients(lambda m, v: (loss(m, v),), [z_mean, z_log_var])
    return named_gradients(row, ["d_z_mean", "d_z_log_var"])


PROBES = (kl_loss, kl_loss_gradients)
