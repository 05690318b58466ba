"""Limits: one source of every time and memory bound; every default reads it."""

import dataclasses
import zipfile

import pytest

from autograder import cli, limits as limits_module
from autograder.apps import batch as batch_app
from autograder.apps import reconcile as reconcile_app
from autograder.bundle import build_bundle
from autograder.limits import Limits, gradescope_time_limit


def test_the_outer_timeout_is_the_grades_deadline_and_one_start():
    from autograder.limits import DEADLINE_MARGIN_S

    cpu = Limits(profile="cpu")
    assert cpu.submission_seconds() == cpu.deadline_for("cpu") + cpu.start_seconds + DEADLINE_MARGIN_S
    # With "auto" the longer profile's deadline counts (a GPU may turn up).
    auto = Limits()
    assert auto.submission_seconds() == max(d for _, d in auto.deadline_seconds) + auto.start_seconds + DEADLINE_MARGIN_S
    # Raising one bound moves every timeout built from it.
    longer = dataclasses.replace(cpu, deadline_seconds=(("cpu", 300.0), ("gpu", 900.0)))
    assert longer.submission_seconds() == cpu.submission_seconds() + 300.0 - cpu.deadline_for("cpu")


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
    assert cli.main(["limits", "--profile", "cpu", "--part-timeout", "30"]) == 0
    out = capsys.readouterr().out
    limits = Limits(part_seconds=30, profile="cpu")
    assert out.strip() == limits_module.table(limits).strip()
    (row,) = [line.split() for line in out.splitlines() if line.startswith("part_seconds ")]
    assert row[1:3] == ["30", "s"]
    assert f"{limits.submission_seconds():g} s" in out and limits.submission_seconds() != Limits().submission_seconds()


def test_bundle_time_limit_is_derived(tmp_path):
    out = tmp_path / "autograder.zip"
    build_bundle(out)
    script = zipfile.ZipFile(out).read("run_autograder").decode()
    assert f'GENIMG_TIME_LIMIT:-{gradescope_time_limit()}' in script
    assert gradescope_time_limit() < limits_module.GRADESCOPE_TIMEOUT_S
