import numpy as np

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.strategies import mean_and_log_var
from genimg_kit.probes import kl_loss as probes


@check("kl_loss", "matches the closed form -0.5 * sum(1 + log_var - mean^2 - exp(log_var))",
       weight=2.0,
       hint="sum over latent dimensions, keep the batch axis",
       given=mean_and_log_var())
def closed_form(subject, inputs):
    z_mean, z_log_var = (x.astype(np.float64) for x in inputs)
    want = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)
    out = subject.probe(probes.kl_loss, z_mean=inputs[0], z_log_var=inputs[1])["kl"]
    assert_close(out, want, "kl_loss", rtol=1e-4, atol=1e-4)


CHECKS = (closed_form,)
