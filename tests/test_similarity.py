"""The similarity check (autograder.report.similarity) on the synthetic class of tests/synthetic_class.py."""

import pytest

from autograder.report.similarity import FLAG_AT, compare, graded_code, normalise
from genimg_kit.parts import GRADED_NAMES
from tests.synthetic_class import (POOLS, STARTER, copied_pairs, disguise, notebook, write_class)

# Source code compared as text: no Keras in it.
pytestmark = pytest.mark.one_backend


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    students = write_class(tmp_path_factory.mktemp("class"))
    result = compare({s.name: s.path for s in students}, starter=STARTER)
    return students, result


def test_copied_pairs_rank_above_every_independent_pair_and_are_flagged(synthetic):
    students, result = synthetic
    truth = copied_pairs(students)
    assert len(truth) == 3
    scores = {(p.first, p.second): p.score for p in result.pairs}
    copied = [scores[pair] for pair in truth]
    independent = [score for pair, score in scores.items() if pair not in truth]
    assert min(copied) > max(independent), (copied, max(independent))
    flagged = {(p.first, p.second) for p in result.flagged}
    precision = len(flagged & truth) / len(flagged)
    recall = len(flagged & truth) / len(truth)
    print(f"similarity on the synthetic class at FLAG_AT={FLAG_AT}: precision {precision:.2f}, recall {recall:.2f}; "
          f"copied pairs {min(copied):.2f}-{max(copied):.2f}, independent at most {max(independent):.2f}")
    assert (precision, recall) == (1.0, 1.0)
    assert [(p.first, p.second) for p in result.pairs[:len(truth)]] == sorted(
        truth, key=lambda pair: (-scores[pair], pair))


def test_a_disguise_normalises_to_the_same_code():
    for name, pool in POOLS.items():
        for source in pool:
            assert normalise(disguise(source)) == normalise(source), name
            assert disguise(source) != source


def test_copies_reordered_into_one_cell_are_read_as_the_same_code(synthetic):
    students, result = synthetic
    for first, second in copied_pairs(students):
        assert result.codes[first].text == result.codes[second].text
        assert list(result.codes[second].pieces) == list(GRADED_NAMES)  # the copy's last definitions, not the stubs
        assert result.codes[first].pieces != result.codes[second].pieces  # as written they differ


def test_flagged_pair_details_name_the_matching_pieces(synthetic):
    students, result = synthetic
    copy = next(s for s in students if s.kind == "copied")
    pair = next(p for p in result.pairs if copy.name in (p.first, p.second) and p.score >= FLAG_AT)
    first_slices, second_slices, by_piece = result.details(pair)
    assert set(by_piece) == set(GRADED_NAMES) and all(score == 1.0 for score in by_piece.values())
    assert first_slices.shape[0] == 2 and first_slices.shape[1] >= 1 and second_slices.shape[1] >= 1
    unrelated = result.pairs[-1]
    assert any(score < 1.0 for score in result.details(unrelated)[2].values() if score is not None)


def test_the_unreadable_notebook_is_left_out_with_its_reason(synthetic):
    students, result = synthetic
    broken = next(s for s in students if s.kind == "broken")
    assert "could not be read" in result.skipped[broken.name]
    assert broken.name not in result.codes
    assert len(result.pairs) == len(result.codes) * (len(result.codes) - 1) // 2


def test_the_starter_code_counts_for_nobody(tmp_path):
    # Two students who filled in only kl_loss, each differently; the other stubs as handed out.
    one, two = POOLS["kl_loss"][0], POOLS["kl_loss"][1]
    (tmp_path / "a.ipynb").write_text(notebook({"kl_loss": one}))
    (tmp_path / "b.ipynb").write_text(notebook({"kl_loss": two}))
    (tmp_path / "untouched.ipynb").write_text(notebook({}))
    sources = {p.stem: p for p in tmp_path.glob("*.ipynb")}
    without = compare(sources)
    discounted = compare(sources, starter=STARTER)
    assert without.pairs[0].score >= FLAG_AT  # the stubs they share make them look alike
    assert "no graded code of its own" in discounted.skipped["untouched"]
    assert [(p.first, p.second) for p in discounted.pairs] == [("a", "b")]
    assert discounted.pairs[0].score < FLAG_AT


def test_helpers_the_graded_pieces_call_are_compared_too(tmp_path):
    path = tmp_path / "helper.py"
    path.write_text("from keras import ops\n\n\ndef _terms(m, v):\n    return 1 + v - ops.square(m) - ops.exp(v)\n\n\n"
                    "def kl_loss(z_mean, z_log_var):\n    return -0.5 * ops.sum(_terms(z_mean, z_log_var), axis=-1)\n\n\n"
                    "def unused(x):\n    return x\n")
    code = graded_code("helper", path)
    assert list(code.pieces) == ["kl_loss", "_terms"]
    assert "ops.exp(v1)" in code.text and "unused" not in code.text
