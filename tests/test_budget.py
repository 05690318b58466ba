"""The notebook's budget switch: which budget is chosen, and what each one asks for."""

import math

import pytest

from genimg_kit import budget
from genimg_kit.budget import BUDGETS, select_budget


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("GENIMG_BUDGET", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(budget, "_gpu_visible", lambda: False)


def test_auto_is_cpu_without_a_gpu_and_full_with_one(monkeypatch):
    assert select_budget().name == "cpu"
    monkeypatch.setattr(budget, "_gpu_visible", lambda: True)
    assert select_budget("auto").name == "full"


def test_auto_says_what_full_costs_before_it_starts_and_how_to_choose_cpu(monkeypatch, capsys):
    monkeypatch.setattr(budget, "_gpu_visible", lambda: True)
    select_budget("auto")
    said = capsys.readouterr()
    assert said.err == ""  # nbgrader zeroes a cell that writes to stderr
    full = BUDGETS["full"]
    for fact in (f"{full.vae_steps:,} VAE steps", f"{full.diffusion_epochs} epochs", "minutes to an hour on a GPU",
                 "Kaggle", "licence", 'select_budget("cpu")'):
        assert fact in said.out, (fact, said.out)


def test_a_budget_the_student_chose_is_not_questioned(monkeypatch, capsys):
    monkeypatch.setattr(budget, "_gpu_visible", lambda: True)
    select_budget("full")
    select_budget("cpu")
    monkeypatch.setenv("GENIMG_BUDGET", "full")
    select_budget("auto")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("value, expected", [("fast", "fast"), ("full", "full"), ("auto", "cpu"),
                                             ("", "cpu")])
def test_the_environment_variable_chooses_under_auto(monkeypatch, value, expected):
    monkeypatch.setenv("GENIMG_BUDGET", value)
    assert select_budget().name == expected


def test_an_unknown_name_in_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("GENIMG_BUDGET", "quick")
    with pytest.raises(ValueError, match="'quick'"):
        select_budget()


def test_an_explicit_name_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("GENIMG_BUDGET", "fast")
    assert select_budget("full").name == "full"


@pytest.mark.parametrize("asked", ["auto", "cpu", "full"])
def test_nbgrader_always_grades_in_fast(monkeypatch, asked):
    # A student who set "full" must not make autograde train for hours.
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert select_budget(asked).name == "fast"


def test_unknown_budget_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="fast, cpu, full"):
        select_budget("gpu")


@pytest.mark.parametrize("num_digits", [512, 5000, 70000])
@pytest.mark.parametrize("name", list(BUDGETS))
def test_vae_epochs_make_at_least_the_budgets_steps(name, num_digits):
    b = BUDGETS[name]
    epochs = b.vae_epochs(num_digits)
    steps = epochs * math.ceil(num_digits / b.vae_batch_size)
    assert steps >= b.vae_steps
    # ... and not a whole extra epoch more than needed.
    assert (epochs - 1) * math.ceil(num_digits / b.vae_batch_size) < b.vae_steps or epochs == 1


def test_full_is_the_chapters_budget():
    full = BUDGETS["full"]
    # 30 epochs of MNIST's 70,000 digits at batch 128; 100 epochs of 128 px flowers.
    assert full.vae_epochs(70_000) == 30 and full.vae_batch_size == 128
    assert (full.image_size, full.diffusion_epochs, full.diffusion_batch_size) == (128, 100, 32)
    assert full.widths == (32, 64, 96, 128) and full.block_depth == 2
    assert full.sd3_steps == 28 and not full.offline


def test_budgets_grow_from_fast_to_full():
    fast, cpu, full = (BUDGETS[n] for n in ("fast", "cpu", "full"))
    assert fast.offline and not cpu.offline
    assert fast.vae_steps < cpu.vae_steps < full.vae_steps
    assert fast.diffusion_epochs < cpu.diffusion_epochs < full.diffusion_epochs
    assert fast.image_size <= cpu.image_size < full.image_size
