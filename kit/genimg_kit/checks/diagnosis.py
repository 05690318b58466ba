"""Naming the misconception: a failed part's numbers compared with the catalogue of mistakes.

A part's public check module may define `diagnose(subject)`. It calls the
part on fixed inputs of its own (never a hidden check's), computes with numpy
what each mistake of its catalogue would have returned on them, and returns
the first `Misconception` the submission's outputs match (`first_match`), or
None. The runner asks only once a part has failed, and hangs the sentence on
its first failed check, where every report shows it: a diagnosis is about
this submission's numbers, and it never costs or gives points.
"""

import dataclasses
import importlib

import numpy as np

from genimg_kit.parts import module_of


@dataclasses.dataclass(frozen=True)
class Misconception:
    label: str  # what the class report counts: "KL averaged over the latent dimensions"
    sentence: str  # what the student reads, one sentence about their numbers


def matches(got, want, rtol=1e-3, atol=1e-4):
    """`got` has `want`'s shape and values."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=atol))


def first_match(got, catalogue, rtol=1e-3, atol=1e-4):
    """The first Misconception of `catalogue` [(Misconception, outputs), ...] whose
    outputs (a tuple, like `got`) the submission's match, or None."""
    for misconception, want in catalogue:
        if all(matches(g, w, rtol, atol) for g, w in zip(got, want, strict=True)):
            return misconception
    return None


def diagnose(part, subject):
    """The Misconception `part`'s failed outputs match, or None (no catalogue, no match,
    or the diagnosis itself failed: it costs nothing either way)."""
    module = importlib.import_module(f"genimg_kit.checks.{module_of(part)}")
    diagnose_part = getattr(module, "DIAGNOSES", {}).get(part)
    if diagnose_part is None:
        return None
    try:
        return diagnose_part(subject)
    except Exception:  # the student's code raised, or returned something unusable
        return None
