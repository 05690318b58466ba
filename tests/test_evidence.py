"""The evidence a probe returns: graded code shares the sandbox child with the probes
that call it, so it can reach them and the answer pipe. Prevention is out of reach in
one process; detection is not: every attack here, at load or from inside a probe,
must be caught, void its part (0 points, whatever it faked) and leave a "tampered"
note that every output shows; and an honest submission graded after them scores full.

The detection does not depend on the backend: the module runs on the tensorflow pass
(one_backend); that an honest grade is never called tampered on either backend is the
reference's 100/100 in tests/test_grader.py, on both passes.
"""

import json
import os
import textwrap

import pytest

from autograder import writers
from autograder.grade import grade
from genimg_kit.parts import part_points
from tests._submissions import CORRECT, write

pytestmark = pytest.mark.one_backend

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")

# kl_loss with the wrong sign: on its own it loses most of the part's points.
WRONG = CORRECT.replace("return -0.5 *", "return 0.5 *")

# A frame of the answer pipe with the right KL, as the child writes one.
FORGE = '''
def _frame(header, arrays):
    import io, json, struct
    import numpy as np
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    body = json.dumps(header).encode()
    payload = struct.pack("<I", len(body)) + body + buffer.getvalue()
    return struct.pack("<Q", len(payload)) + payload


def _right(z_mean, z_log_var):
    import numpy as np
    from keras import ops
    m, v = (np.asarray(ops.convert_to_numpy(x), np.float64) for x in (z_mean, z_log_var))
    return {"kl": (-0.5 * np.sum(1 + v - m ** 2 - np.exp(v), axis=-1)).astype(np.float32)}


def _token():
    import sys
    frame = sys._getframe()
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and "token" in request:
            return request["token"]
        frame = frame.f_back
    return None


def _forge(z_mean, z_log_var, with_token):
    import os, sys
    header = {"status": "ok", **({"token": _token()} if with_token else {})}
    os.write(int(sys.argv[1]), _frame(header, _right(z_mean, z_log_var)))
'''

ATTACKS = {
    "a forged answer on the pipe": FORGE + '''
def kl_loss(z_mean, z_log_var):
    _forge(z_mean, z_log_var, with_token=False)
    raise RuntimeError("the forged answer went first")
''',
    "a forged answer with the request's token, stolen from the stack": FORGE + '''
def kl_loss(z_mean, z_log_var):
    _forge(z_mean, z_log_var, with_token=True)
    raise RuntimeError("the forged answer went first")
''',
    "a forged answer, then the child silenced": FORGE + '''
def kl_loss(z_mean, z_log_var):
    import os
    _forge(z_mean, z_log_var, with_token=True)
    os._exit(0)
''',
    "the probe table's entry replaced at load": WRONG + FORGE + '''
import genimg_kit.probes
genimg_kit.probes.PROBES["kl_loss"] = lambda namespace, z_mean, z_log_var: _right(z_mean, z_log_var)
''',
    "the part's probe module rebound at load": WRONG + FORGE + '''
import genimg_kit.probes.kl_loss
genimg_kit.probes.kl_loss.kl_loss = lambda namespace, z_mean, z_log_var: _right(z_mean, z_log_var)
''',
    "a shared helper's code swapped from inside a probe": WRONG.replace(
        "    return 0.5 *", "    _swap()\n    return 0.5 *") + '''
def _swap():
    import genimg_kit.probes as probes
    probes.to_numpy.__code__ = (lambda value, what: __import__("numpy").zeros(4, "float32")).__code__
''',
    "numpy's savez patched at load": WRONG + '''
import numpy
numpy.savez = lambda file, **arrays: None
''',
    "the probes package swapped in sys.modules from inside a probe": WRONG.replace(
        "    return 0.5 *", "    _swap()\n    return 0.5 *") + '''
def _swap():
    import sys, types
    sys.modules["genimg_kit.probes"] = types.ModuleType("genimg_kit.probes")
''',
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evidence")
    records = {name: grade(write(folder, f"attack_{i}.py", textwrap.dedent(source)), parts=["kl_loss"],
                           backend=BACKEND)
               for i, (name, source) in enumerate(ATTACKS.items())}
    records["honest"] = grade(write(folder, "honest.py", CORRECT), parts=["kl_loss"], backend=BACKEND)
    records["wrong"] = grade(write(folder, "wrong.py", WRONG), parts=["kl_loss"], backend=BACKEND)
    return records


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_tampering_is_detected_and_voids_the_part(graded, attack):
    record = graded[attack]
    assert record.parts["kl_loss"].points == 0, record.parts["kl_loss"].checks
    tampered = [n.text for n in record.notes if n.kind == "tampered"]
    assert tampered, [n.text for n in record.notes]
    # Every output shows it: the text report, Gradescope's visible output, Classroom's JSON.
    assert all(t in writers.text_report(record) for t in tampered)
    assert all(t in writers.gradescope(record)["output"] for t in tampered)
    assert "tamper" in json.dumps(writers.classroom(record))


def test_an_honest_submission_after_the_attacks_scores_full(graded):
    assert graded["honest"].score == part_points("kl_loss")
    assert not [n for n in graded["honest"].notes if n.kind == "tampered"]


def test_a_wrong_submission_is_not_called_tampered(graded):
    record = graded["wrong"]
    assert 0 < record.score < part_points("kl_loss")
    assert not [n for n in record.notes if n.kind == "tampered"]


def test_reconcile_and_the_class_report_flag_detected_tampering(graded, tmp_path):
    from autograder.batch import pool
    from autograder.course import reconcile
    from autograder.report.class_data import load_class

    tampered = graded["a forged answer on the pipe"]
    cell = reconcile.CheckCell("notebook", "kl_loss", "check_kl_loss", 12.0, "kl_loss")
    score, flagged, reason = reconcile.decide(cell, 12.0, tampered)
    assert score == 0 and flagged and "tampering detected" in reason
    assert reconcile.decide(cell, 12.0, graded["honest"])[1] is False
    pool.write_result(tmp_path, "mallory", tampered)
    pool.write_result(tmp_path, "honest", graded["honest"])
    pool.write_summary(tmp_path)
    flags = load_class(tmp_path).flags
    assert set(flags) == {"mallory"} and "tampering detected" in flags["mallory"][0]
