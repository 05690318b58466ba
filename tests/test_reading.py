"""The submission reader is the grader's own process reading hostile bytes.

Attacks of each kind the reader must hold (links out of the submission,
files that are not files, sizes, parsers that give up, statements by the
thousand), each checked for what it must not do (read through, hang, crash,
take the honest cells down with it) and for what it must do: say so in a
note, and read the rest.

The reader never imports Keras: the module runs on the tensorflow pass (one_backend).
"""

import ast
import json
import os
import random
import threading

import nbformat
import pytest

from autograder.batch.dask_client import pack
from autograder.grade import grade
from autograder.limits import Limits
from autograder.submission import read_submission, units_from_source
from autograder.submission_files import UnreadableSubmission
from tests._submissions import CORRECT, write

pytestmark = pytest.mark.one_backend

MARKER = "genimg-secret-marker-31337"


def notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb)


def defined(submission):
    return {node.name for unit in submission.units for node in ast.parse(unit.source).body
            if isinstance(node, ast.FunctionDef)}


def note_texts(submission):
    return [n.text for n in submission.skipped if n.kind == "load_error"]


@pytest.fixture
def secret(tmp_path):
    """A file outside every submission, readable only by its owner, holding a marker and
    code that would score (a submission must never get either through a link)."""
    path = tmp_path / "outside" / "secret.py"
    write(path.parent, path.name, f"# {MARKER}\n{CORRECT}")
    path.chmod(0o600)
    return path


# --- links --------------------------------------------------------------------


def test_a_file_linked_in_a_folder_is_refused_and_said(tmp_path, secret):
    folder = tmp_path / "alice"
    write(folder, "own.py", "import math\n")
    (folder / "solution.py").symlink_to(secret)
    (folder / "notes.ipynb").symlink_to(secret)
    read = read_submission(folder)
    assert "kl_loss" not in defined(read)
    assert MARKER not in json.dumps([u.source for u in read.units] + note_texts(read))
    linked = [t for t in note_texts(read) if "symbolic link" in t]
    assert {t.split(":")[0] for t in linked} == {"solution.py", "notes.ipynb"}


def test_a_linked_folder_is_not_entered(tmp_path, secret):
    folder = tmp_path / "bob"
    write(folder, "main.py", "import math\n")
    (folder / "pieces").symlink_to(secret.parent, target_is_directory=True)
    read = read_submission(folder)
    assert "kl_loss" not in defined(read)
    assert any(t.startswith("pieces:") and "symbolic link" in t for t in note_texts(read))


def test_a_link_deep_in_the_folder_is_refused(tmp_path, secret):
    folder = tmp_path / "carol"
    write(folder / "a" / "b", "ok.py", "def helper():\n    return 1\n")
    (folder / "a" / "b" / "c.py").symlink_to(secret)
    read = read_submission(folder)
    assert defined(read) == {"helper"}
    assert any(t.startswith("a/b/c.py:") for t in note_texts(read))


def test_a_submission_that_is_itself_a_link_is_not_read(tmp_path, secret):
    link = tmp_path / "dave.py"
    link.symlink_to(secret)
    with pytest.raises(UnreadableSubmission, match="symbolic link") as caught:
        read_submission(link)
    assert MARKER not in str(caught.value)
    record = grade(link, parts=["kl_loss"])
    assert record.status == "error" and record.score == 0
    assert MARKER not in json.dumps(record.to_json())


def test_the_dask_packer_sends_only_what_the_reader_reads(tmp_path, secret):
    folder = tmp_path / "erin"
    write(folder, "mine.py", CORRECT)
    (folder / "theirs.py").symlink_to(secret)
    is_dir, files = pack(folder)
    assert is_dir and set(files) == {"mine.py"}
    with pytest.raises(UnreadableSubmission):
        link = tmp_path / "frank.ipynb"
        link.symlink_to(secret)
        pack(link)


# --- files that are not files, and sizes -----------------------------------------


def test_a_fifo_is_not_waited_on(tmp_path):
    folder = tmp_path / "gina"
    write(folder, "ok.py", CORRECT)
    os.mkfifo(folder / "pipe.py")
    os.mkfifo(folder / "pipe.ipynb")
    result = {}
    reader = threading.Thread(target=lambda: result.setdefault("read", read_submission(folder)), daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "the reader blocked on a FIFO"
    read = result["read"]
    assert "kl_loss" in defined(read)
    assert sorted(t.split(":")[0] for t in note_texts(read) if "not a regular file" in t) == [
        "pipe.ipynb", "pipe.py"]


def test_files_and_sources_past_their_bounds_cost_only_themselves(tmp_path):
    folder = tmp_path / "hana"
    write(folder, "a_ok.py", CORRECT)
    write(folder, "b_big.py", "x = 1\n" * 2000)  # 12 000 bytes
    read = read_submission(folder, Limits(file_bytes=10_000))
    assert "kl_loss" in defined(read)
    assert any(t.startswith("b_big.py:") and "10000" in t for t in note_texts(read))

    cells = notebook(CORRECT, "y = 2\n" * 1000, "def later():\n    return 3\n")
    path = write(tmp_path, "hana.ipynb", cells)
    read = read_submission(path, Limits(source_bytes=5_000))
    assert defined(read) == {"kl_loss", "later"}
    assert any('the cell starting "y = 2"' in t and "5000" in t for t in note_texts(read))

    read = read_submission(path, Limits(sources_bytes=len(CORRECT) + 10))
    assert defined(read) == {"kl_loss"}
    assert any('the cell starting "def later():"' in t and "bytes of source" in t for t in note_texts(read))


def test_the_files_of_a_folder_share_one_budget(tmp_path):
    folder = tmp_path / "ivan"
    for name in ("a.py", "b.py", "c.py"):
        write(folder, name, f"# {'x' * 400}\ndef {name[0]}_piece():\n    return 1\n")
    read = read_submission(folder, Limits(submission_bytes=900))
    assert defined(read) == {"a_piece", "b_piece"}
    assert any(t.startswith("c.py:") and "used up" in t for t in note_texts(read))


# --- parsers that give up ----------------------------------------------------------

BOMBS = {
    "a chain of attributes": "x = a" + ".b" * 60_000,
    "a chain of calls": "x = f" + "()" * 60_000,
    "nested conditional expressions": "x = " + "1 if a else " * 40_000 + "1",
    "nested lambdas": "f = " + "lambda: " * 40_000 + "1",
    "a long sum": "x = " + "+".join(["a"] * 60_000),
    "a tower of unary minus": "x = " + "-" * 100_000 + "1",
    "nested subscripts": "x = a" + "[0]" * 60_000,
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_cell_the_parser_gives_up_on_costs_only_that_cell(tmp_path, bomb):
    path = write(tmp_path, "jack.ipynb", notebook("import math", BOMBS[bomb], CORRECT))
    read = read_submission(path)
    assert "kl_loss" in defined(read)
    assert [t.split('"')[1][:6] for t in note_texts(read)] == [BOMBS[bomb][:6]]
    script = write(tmp_path, "jack.py", BOMBS[bomb])
    read = read_submission(script)
    assert not read.units and any(t.startswith("jack.py") for t in note_texts(read))


def test_a_notebook_too_deeply_nested_for_json_costs_only_that_file(tmp_path):
    folder = tmp_path / "kate"
    write(folder, "pieces.py", CORRECT)
    write(folder, "deep.ipynb", '{"cells": [], "metadata": ' + "[" * 200_000 + "]" * 200_000 + "}")
    (folder / "binary.ipynb").write_bytes(b"\xff\xfe" + os.urandom(64))
    read = read_submission(folder)
    assert "kl_loss" in defined(read)
    unreadable = sorted(t.split(" ")[0] for t in note_texts(read) if "not a readable notebook" in t)
    assert unreadable == ["binary.ipynb", "deep.ipynb"]


def test_a_bomb_in_an_honest_notebook_still_scores_full_marks(tmp_path):
    bombs = [BOMBS["a long sum"], BOMBS["nested lambdas"], "%%bash\necho hi", "!rm -rf /"]
    path = write(tmp_path, "leo.ipynb", notebook(*bombs, CORRECT))
    record = grade(path, parts=["kl_loss"])
    assert record.status == "ok" and record.score == record.max_score > 0
    failed = [n.text for n in record.notes if n.kind == "load_error"]
    assert len(failed) == 2, failed
    assert all(t.startswith(f'leo.ipynb, the cell starting "{bomb[:40]}...":') for t, bomb in zip(failed, bombs))


# --- linear reading ----------------------------------------------------------------


def test_units_are_the_statements_source_exactly():
    """The reader cuts statements out of the source itself (ast.get_source_segment re-splits
    the whole source per statement: quadratic); the cut must be the same, byte for byte."""
    pieces = ["x = 1", "y = 'caf\u00e9 \u2603'; z = [\n  1,\n  2]", "def f(a):\n    return a  # \u00e9\u00e9",
              "class C:\n    v = 'tab\\t'", "w = (1 +\n     2)", "import os, sys", "\u00e9t\u00e9 = 3",
              "q = 1 \\\n    + 2", "print('skipped')", "s = '''multi\nline'''"]
    rng = random.Random(7)
    for trial in range(40):
        chosen = [rng.choice(pieces) for _ in range(12)]
        ending = rng.choice(["\n", "\r\n"])
        source = ending.join(chosen).replace("\n", ending) if ending == "\r\n" else "\n".join(chosen)
        if trial % 5 == 0:
            source = "\f" + source  # a form feed is not a line break for the parser
        units, _ = units_from_source(source, "cell")
        expected = [ast.get_source_segment(source, node) for node in ast.parse(source).body
                    if not (isinstance(node, ast.Expr))]
        assert [u.source for u in units] == expected


def test_thousands_of_statements_are_all_read(tmp_path):
    source = "\n".join(f"v{i} = {i}" for i in range(15_000)) + "\n" + CORRECT
    read = read_submission(write(tmp_path, "many.py", source))
    assert len(read.units) == 15_000 + 2 and "kl_loss" in defined(read)


def test_statements_not_run_are_listed_up_to_a_bound(tmp_path):
    source = "\n".join(f"print({i})" for i in range(500))
    read = read_submission(write(tmp_path, "loud.py", source), Limits(skipped_listed=50))
    skipped = [n.text for n in read.skipped if n.kind == "skipped"]
    assert len(skipped) == 51 and skipped[-1] == "... and 450 more top-level statements not run"


def test_reconcile_reads_a_submitted_notebook_as_the_grader_does(tmp_path, secret):
    """nbgrader's submitted/ folder holds what students uploaded: reconcile's staging copy
    and its tamper comparison read it with the reader's rules, not through a link or a FIFO."""
    from autograder.course import reconcile

    linked, fifo = tmp_path / "mallory.ipynb", tmp_path / "oscar.ipynb"
    linked.symlink_to(secret)
    os.mkfifo(fifo)
    records = reconcile._grade_files({"mallory": linked, "oscar": fifo}, ["kl_loss"], tmp_path / "staged",
                                     tmp_path / "out", workers=1, timeout=60, backend=None, limits=Limits(),
                                     progress=False)
    assert records["mallory"].status == records["oscar"].status == "error"
    assert "symbolic link" in records["mallory"].message and "not a regular file" in records["oscar"].message
    assert MARKER not in json.dumps([r.to_json() for r in records.values()])
    assert reconcile.changed_since_autograde(fifo, linked) is None
