"""Probe of `kl_loss`."""

from genimg_kit import probes


def kl_loss(namespace, z_mean, z_log_var):
    keras = probes.keras_module()
    out = probes.graded(namespace, "kl_loss")(
        keras.ops.convert_to_tensor(z_mean), keras.ops.convert_to_tensor(z_log_var)
    )
    return {"kl": probes.to_numpy(out, "kl_loss output")}


PROBES = (kl_loss,)
