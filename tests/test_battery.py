"""Batteries: which checks grade a part, in which order, under which ids.

The order decides which checks a crash fails and numbers the checks in
Gradescope; an id is how records, reports and instructors name a check.
Both are pinned here: changing them changes what past results mean.
"""

import dataclasses

import pytest

from autograder import writers
from autograder.hidden import HIDDEN
from genimg_kit.checks import battery as battery_module
from genimg_kit.checks.battery import PUBLIC, battery
from genimg_kit.parts import PARTS

# (id, weight), public checks first, then hidden ones.
PINNED = {
    "sampler": [("sampler.output_shape", 1), ("sampler.eager_moments", 2), ("sampler.eager_independence", 1),
                ("sampler.compiled_draws", 2), ("sampler.gradients", 2), ("sampler.extreme_log_variances", 1)],
    "kl_loss": [("kl_loss.per_example_shape", 1), ("kl_loss.non_negative", 1),
                ("kl_loss.zero_at_standard_normal", 1), ("kl_loss.monte_carlo", 2), ("kl_loss.gradients", 2),
                ("kl_loss.closed_form", 2)],
    "diffusion_schedule": [("diffusion_schedule.shapes_and_range", 1), ("diffusion_schedule.unit_circle", 1),
                           ("diffusion_schedule.endpoints", 2), ("diffusion_schedule.monotone", 1),
                           ("diffusion_schedule.equal_angle_steps", 2),
                           ("diffusion_schedule.rates_have_gradients", 2),
                           ("diffusion_schedule.positional_bounds", 1),
                           ("diffusion_schedule.linear_angle", 2), ("diffusion_schedule.exact_derivatives", 2)],
    "denoise": [("denoise.network_inputs", 1), ("denoise.inverts_forward_process", 2), ("denoise.gradients", 2),
                ("denoise.noisiest_steps", 1), ("denoise.arbitrary_predictor", 1)],
    "generate": [("generate.output_shape_and_range", 1), ("generate.steps_and_rates", 2),
                 ("generate.starts_from_noise", 1), ("generate.remix_with_next_rates", 2),
                 ("generate.denormalised_output", 2)],
    "slerp": [("slerp.endpoints", 2), ("slerp.parallel_inputs", 2), ("slerp.great_circle", 2),
              ("slerp.float32_out", 1), ("slerp.symmetric", 1)],
    "vae_convergence": [("vae_convergence.vae_loss_falls", 2), ("vae_convergence.vae_kl_bounded", 1),
                        ("vae_convergence.vae_gradient_flow", 2)],
    "diffusion_convergence": [("diffusion_convergence.diffusion_loss_falls", 2),
                              ("diffusion_convergence.diffusion_samples_improve", 2)],
}
HIDDEN_IDS = {"sampler.extreme_log_variances", "kl_loss.closed_form", "diffusion_schedule.linear_angle",
              "diffusion_schedule.exact_derivatives", "denoise.arbitrary_predictor",
              "slerp.symmetric"}


def test_battery_order_ids_and_weights_are_pinned():
    assert list(PUBLIC) == list(PARTS)
    assert {part: [(c.id, c.weight) for c in battery(part, HIDDEN)] for part in PARTS} == PINNED


def test_hidden_checks_come_only_from_the_hidden_mapping():
    assert {c.id for part in PARTS for c in battery(part, HIDDEN) if c.hidden} == HIDDEN_IDS
    for part in PARTS:
        public = battery(part)
        assert not any(c.hidden for c in public)
        assert [c.id for c in public] == [c.id for c in battery(part, HIDDEN) if not c.hidden]


def test_ids_are_unique_and_name_the_check_function():
    checks = [c for part in PARTS for c in battery(part, HIDDEN)]
    assert len({c.id for c in checks}) == len(checks)
    for c in checks:
        assert c.id == f"{c.part}.{c.function.__name__}"
        assert c.description and c.hint, c.id


def test_a_battery_refuses_a_check_of_another_part():
    stray = dataclasses.replace(PUBLIC["slerp"][0])
    with pytest.raises(ValueError, match="slerp.endpoints"):
        battery("kl_loss", {"kl_loss": (stray,)})


def test_the_battery_is_the_same_whatever_was_imported_before():
    before = [c.id for c in battery("kl_loss")]
    import autograder.grade  # noqa: F401  (imported hidden checks once registered themselves)

    assert [c.id for c in battery("kl_loss")] == before
    assert battery_module.battery is battery


def test_gradescope_numbers_come_from_the_ids_not_from_what_was_graded():
    numbers = {c.id: writers.test_number(c.id) for part in PARTS for c in battery(part, HIDDEN)}
    assert len(set(numbers.values())) == len(numbers)
    assert numbers["sampler.output_shape"] == "1.1"
    assert numbers["kl_loss.closed_form"] == "2.6"
    assert numbers["diffusion_convergence.diffusion_samples_improve"] == "8.2"


def test_the_points_table_holds_the_hidden_checks_weight():
    from genimg_kit.parts import PARTS as TABLE

    for part in PARTS:
        assert sum(c.weight for c in HIDDEN.get(part, ())) == TABLE[part].hidden_weight, part


def test_a_public_check_is_worth_the_same_with_or_without_the_hidden_ones():
    from genimg_kit.checks.runner import failed_checks

    for part in PARTS:
        public = {c.id: c.max_points for c in failed_checks(part, battery(part), "x").checks}
        full = {c.id: c.max_points for c in failed_checks(part, battery(part, HIDDEN), "x").checks}
        assert public == {k: v for k, v in full.items() if k in public}, part


# The mistake each part exists to teach: the public checks alone must catch it,
# so that no student sees full marks in the notebook for it.
MAIN_BUGS = {
    "sampler": ["variance used as std"],
    "kl_loss": ["KL sign flipped"],
    "diffusion_schedule": ["linear signal rates"],
    "denoise": ["multiplies by the signal rate"],
    # The two output bugs the clip to [0, 255] hides from a range check (issue 29).
    "generate": ["remixes with the current rates", "variance used as std when denormalising",
                 "returns the noisy images"],
    "slerp": ["slerp as lerp", "slerp as nlerp"],
}


@pytest.mark.parametrize("mutant_id", [m for ids in MAIN_BUGS.values() for m in ids])
def test_the_public_battery_alone_catches_the_parts_main_bug(mutant_id):
    from genimg_kit.checks.battery import run_part
    from genimg_kit.checks.subject import LocalSubject
    from tests.mutants import MUTANTS, namespace_of

    (mutant,) = [m for m in MUTANTS if m.id == mutant_id]
    public = run_part(mutant.part, LocalSubject(namespace_of(mutant.source())))
    assert not any(c.hidden for c in public.checks)
    assert public.points < public.max_points - 1e-6, f"{mutant_id}: full public marks"


def test_a_report_shows_every_distinct_failure_with_its_inputs():
    from hypothesis import strategies as st

    from genimg_kit.checks.core import check
    from genimg_kit.checks.runner import run_checks
    from genimg_kit.checks.subject import LocalSubject
    from genimg_kit.checks.report import format_part

    @check("slerp", "two ways to fail", given=(st.integers(1, 5), st.floats(0.0, 1.0)))
    def two_ways(subject, steps, t):
        assert steps < 3, f"{steps} steps is too many"
        assert t < 0.5, f"t = {t} is too late"

    result = run_checks("slerp", [two_ways], LocalSubject({}))
    text = format_part(result)
    assert "2 distinct failures" in text
    assert "3 steps is too many" in text and "t = 1.0 is too late" in text
    assert "steps=3, t=0.0" in text and "steps=1, t=1.0" in text
    assert "Hypothesis found" not in text and "prop(" not in text


def test_drawn_inputs_read_as_python():
    import numpy as np

    from genimg_kit.checks.verdicts import format_value

    assert format_value((3,)) == "(3,)" and format_value((2, 5)) == "(2, 5)"
    assert format_value(np.array([[0.0, 1.5]], np.float32)) == "[[0.0, 1.5]]"
    assert format_value(np.float32(0.1)) == "0.1" and format_value([1, 2.5]) == "[1, 2.5]"
    assert format_value(np.array([[1.0, 2.0], [3.0, 4.0]] * 15)).startswith("array of shape (30, 2) starting [1.0, 2.0")
    assert format_value(np.zeros((5, 6))) == "np.full((5, 6), 0.0)"
    rates = np.array([0.25, 0.5], np.float32).reshape(2, 1, 1, 1)
    assert format_value(rates) == "np.array([0.25, 0.5]).reshape(2, 1, 1, 1)"
    assert eval(format_value(rates), {"np": np}).tolist() == rates.tolist()


def test_a_drawn_pair_reads_as_its_named_inputs():
    from genimg_kit.checks.core import check
    from genimg_kit.checks.runner import run_checks
    from genimg_kit.checks.subject import LocalSubject
    from genimg_kit.checks.strategies import mean_and_log_var

    @check("kl_loss", "rejects every input", given=mean_and_log_var())
    def rejects(subject, inputs):
        z_mean, _ = inputs
        assert z_mean.size > 99, "too small"

    (result,) = run_checks("kl_loss", [rejects], LocalSubject({})).checks
    assert result.counterexample.startswith("z_mean=[[0.0]], z_log_var=[[")
    assert "inputs=" not in result.counterexample


def test_an_exception_message_reaches_the_report_as_plain_text():
    from genimg_kit.probes import describe_exception

    try:
        raise ValueError("\x1b[1mInvalid dtype\x1b[0m for \x1b[31mz\x1b[0m")
    except ValueError as error:
        text = describe_exception(error)
    assert text.startswith("ValueError: Invalid dtype for z (in test_an_exception_message")
    assert "\x1b" not in text
