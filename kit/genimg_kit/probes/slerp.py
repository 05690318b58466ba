"""Probe of `slerp`."""

from genimg_kit import probes


def slerp(namespace, t, v1, v2):
    ops = probes.keras_module().ops
    out = probes.graded(namespace, "slerp")(float(t), ops.convert_to_tensor(v1), ops.convert_to_tensor(v2))
    return {"out": probes.to_numpy(out, "slerp output")}


PROBES = (slerp,)
