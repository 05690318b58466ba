"""The check battery against the reference, the mutant catalogue and the
correct variants, in this process (the sandbox is tested in test_grader)."""

import pytest

from autograder.hidden import HIDDEN
from genimg_kit.checks.battery import run_part
from genimg_kit.checks.subject import LocalSubject
from genimg_kit.parts import PARTS, part_points
from tests.mutants import (CORRECT_VARIANTS, DIAGNOSED, GRADIENT_MUTANTS, MODULE_OF_PART, MUTANTS, namespace_of,
                          reference_source)


@pytest.mark.parametrize("part", list(PARTS))
def test_reference_scores_full_points(part):
    result = run_part(part, LocalSubject(namespace_of(reference_source(MODULE_OF_PART[part]))), HIDDEN)
    failed = [(c.id, c.message) for c in result.checks if not c.passed]
    assert result.points == pytest.approx(part_points(part)), failed


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_loses_points(mutant):
    result = run_part(mutant.part, LocalSubject(namespace_of(mutant.source())), HIDDEN)
    assert result.points < part_points(mutant.part) - 1e-6, "the battery did not catch this bug"
    failed = [c for c in result.checks if not c.passed]
    assert all(c.message for c in failed), "every failed check says what went wrong"
    named = [(c.misconception, c.diagnosis) for c in failed if c.diagnosis]
    assert len(named) <= 1 and all(c.diagnosis for c in failed[:1]) == bool(named), "once, on the first failure"
    if mutant.id in DIAGNOSED:
        assert named and named[0][0] == DIAGNOSED[mutant.id], named


@pytest.mark.parametrize("variant", CORRECT_VARIANTS, ids=[f"{p}: {t}" for p, t, _ in CORRECT_VARIANTS])
def test_correct_variant_keeps_full_points(variant):
    part, _, source = variant
    result = run_part(part, LocalSubject(namespace_of(source)), HIDDEN)
    failed = [(c.id, c.message, c.counterexample) for c in result.checks if not c.passed]
    assert result.points == pytest.approx(part_points(part)), failed
    assert not any(c.diagnosis for c in result.checks)


# The checks that differentiate a piece; every other check looks at values only.
GRADIENT_CHECKS = {"sampler.gradients", "kl_loss.gradients", "diffusion_schedule.rates_have_gradients",
                   "diffusion_schedule.exact_derivatives", "denoise.gradients"}


@pytest.mark.parametrize("mutant", GRADIENT_MUTANTS, ids=[m.id for m in GRADIENT_MUTANTS])
def test_gradient_bug_passes_value_checks_and_fails_gradient_checks(mutant):
    namespace = namespace_of(mutant.source())
    result = run_part(mutant.part, LocalSubject(namespace), HIDDEN)
    failed = {c.id: c.message for c in result.checks if not c.passed}
    assert failed, "the gradient checks did not catch this bug"
    assert set(failed) <= GRADIENT_CHECKS, f"not a gradient-only bug: {failed}"
    assert all(failed.values()), "every failed check says what went wrong"
    if mutant.loses:
        convergence = run_part(mutant.loses, LocalSubject(namespace), HIDDEN)
        assert convergence.points < part_points(mutant.loses) - 1e-6, "convergence did not catch it"


def test_catalogue_size():
    # The floor: 30 bugs across all six parts, 8 correct variants.
    assert len(MUTANTS) >= 30 and {m.part for m in MUTANTS} == set(PARTS) - {"vae_convergence", "diffusion_convergence"}
    assert len(CORRECT_VARIANTS) >= 8


def test_public_checks_alone_pass_the_reference_and_report_counterexamples():
    namespace = namespace_of(reference_source("vae.py").replace("-0.5 * (", "0.5 * ("))
    result = run_part("kl_loss", LocalSubject(namespace))
    assert all(not c.hidden for c in result.checks)
    failed = [c for c in result.checks if not c.passed]
    # The counterexample names the piece's own arguments (mean_and_log_var draws both).
    assert any(c.counterexample.startswith("z_mean=[[") and ", z_log_var=[[" in c.counterexample
               for c in failed)
