import numpy as np

from genimg_kit.checks.assertions import assert_close
from genimg_kit.checks.core import check
from genimg_kit.checks.stats import assert_standard_normal
from genimg_kit.probes import sampler as probes


@check("sampler", "z = z_mean exactly when the variance vanishes, scale exp(0.5 * log_var) when large",
       hint="z = z_mean + exp(0.5 * z_log_var) * eps")
def extreme_log_variances(subject):
    z_mean = np.tile(np.array([[-1.5, 0.0, 2.5]], np.float32), (1000, 1))
    tiny = np.full_like(z_mean, -30.0)
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=tiny, calls=1)["z"][0]
    assert_close(z, z_mean, "z with z_log_var = -30 (variance ~ 1e-13)", atol=1e-4)
    large = np.full_like(z_mean, 4.0)
    z = subject.probe(probes.sampler_eager, z_mean=z_mean, z_log_var=large, calls=1)["z"][0]
    assert_standard_normal((z - z_mean) / np.exp(2.0), "(z - z_mean) / exp(0.5 * 4) with z_log_var = 4")


CHECKS = (extreme_log_variances,)
