"""Limits: one source of every time and memory bound; every default reads it."""

import dataclasses
import zipfile

import pytest

from autograder import cli, limits as limits_module
from autograder.apps import batch as batch_app
from autograder.apps import reconcile as reconcile_app
from autograder.bundle import build_bundle
from autograder.limits import Limits, gradescope_time_limit
from genimg_kit.parts import PARTS


def test_submission_deadline_is_the_sum_of_what_every_part_may_take():
    limits = Limits(profile="cpu")
    per_part = {part: limits.start_seconds + limits.load_seconds + limits.seconds_for(part, "cpu")
                for part in PARTS}
    assert limits.submission_seconds() == sum(per_part.values())
    assert limits.submission_seconds(["kl_loss"]) == per_part["kl_loss"]
    # A convergence part gets its profile's longer limit; with "auto" the longer profile counts.
    assert limits.seconds_for("vae_convergence", "cpu") == dict(limits.convergence_seconds)["cpu"]
    assert limits.seconds_for("kl_loss", "gpu") == limits.part_seconds
    auto = dataclasses.replace(limits, profile="auto")
    assert auto.submission_seconds(["vae_convergence"]) == (
        limits.start_seconds + limits.load_seconds + max(s for _, s in limits.convergence_seconds))
    # Raising one bound moves every deadline built from it.
    longer = dataclasses.replace(limits, part_seconds=limits.part_seconds + 10)
    properties = [p for p in PARTS if "convergence" not in PARTS[p].tags]
    assert longer.submission_seconds() == limits.submission_seconds() + 10 * len(properties)


def test_gpu_memory_cap_adds_the_runtimes_share():
    limits = Limits(memory_mb=3000)
    assert limits.memory_for("cpu") == 3000
    assert limits.memory_for("gpu") == 3000 + limits.gpu_runtime_mb


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="profile"):
        Limits(profile="tpu")


@pytest.mark.parametrize("parser", [cli.build_parser(), batch_app.build_parser(), reconcile_app.build_parser()],
                         ids=["grade", "batch", "reconcile"])
def test_every_cli_default_is_the_limits_default(parser):
    defaults = Limits()
    assert parser.get_default("part_timeout") == defaults.part_seconds
    assert parser.get_default("memory_mb") == defaults.memory_mb
    if any(action.dest == "timeout" for action in parser._actions):
        assert parser.get_default("timeout") is None  # None: computed from the limits actually used


def test_limits_command_prints_the_table_of_the_options_given(capsys):
    assert cli.main(["limits", "--profile", "cpu", "--parts", "kl_loss", "--part-timeout", "30"]) == 0
    out = capsys.readouterr().out
    limits = Limits(part_seconds=30, profile="cpu")
    assert out.strip() == limits_module.table(limits, ["kl_loss"]).strip()
    assert f"{limits.submission_seconds(['kl_loss']):g} s" in out


def test_bundle_time_limit_is_derived(tmp_path):
    out = tmp_path / "autograder.zip"
    build_bundle(out)
    script = zipfile.ZipFile(out).read("run_autograder").decode()
    assert f'GENIMG_TIME_LIMIT:-{gradescope_time_limit()}' in script
    assert gradescope_time_limit() < limits_module.GRADESCOPE_TIMEOUT_S
