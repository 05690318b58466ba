"""Hostile submissions: each must cost only its own points and leave the
grader standing with an honest score."""

import json

import pytest

from autograder import cli
from autograder.grade import grade
from autograder.limits import Limits
from genimg_kit.parts import part_points
from tests.mutants import reference_source

SCHEDULE = reference_source("diffusion.py")
WRONG_KL = "from keras import ops\n\ndef kl_loss(z_mean, z_log_var):\n    return ops.sum(z_mean, axis=-1) * 0.0 + 1.0\n"
FAST = Limits(part_seconds=15, load_seconds=60)


def run(tmp_path, source, limits=FAST, parts=("kl_loss", "diffusion_schedule")):
    path = tmp_path / "submission.py"
    path.write_text(SCHEDULE + "\n" + source)
    return grade(path, parts=list(parts), limits=limits)


def assert_honest(result, kl_message=None):
    assert result.parts["diffusion_schedule"].points == pytest.approx(part_points("diffusion_schedule")), "the other part is still graded"
    kl = result.parts["kl_loss"]
    assert kl.points < 5.0
    if kl_message:
        assert any(kl_message in c.message for c in kl.checks), [c.message for c in kl.checks]


@pytest.mark.parametrize("body, message", [
    ("import os\n    os._exit(3)", "exited with code 3"),
    ("while True:\n        pass", "did not answer within"),
    ("import time\n    time.sleep(10**6)", "did not answer within"),
    ("raise SystemExit(0)", "SystemExit"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("return 'a string'", "should be a tensor of numbers"),
    ("return object()", "should be a tensor of numbers"),
    ("import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)", "killed by signal 9"),
])
def test_crashing_or_hanging_stub_costs_only_its_part(tmp_path, body, message):
    result = run(tmp_path, f"def kl_loss(z_mean, z_log_var):\n    {body}\n")
    assert_honest(result, message)


def test_memory_growth_is_stopped(tmp_path):
    stub = "def kl_loss(z_mean, z_log_var):\n    hog = []\n    while True:\n        hog.append(bytearray(50 * 2**20))\n"
    result = run(tmp_path, stub, Limits(part_seconds=60, memory_mb=3000))
    assert_honest(result, "more than 3000 MiB")


def test_patching_numpy_and_keras_in_the_submission_never_gains(tmp_path):
    """The checks run in the grader's process, out of reach; what the probes run on in
    the child is watched: patching it voids the grade instead of faking one."""
    tricks = (
        "import numpy as np\nimport keras\nimport genimg_kit.checks.assertions as assertions\n"
        "import genimg_kit.checks.core as core\n"
        "np.allclose = lambda *a, **k: True\nnp.isfinite = lambda x: np.ones(np.shape(x), bool)\n"
        "keras.ops.isclose = lambda *a, **k: True\nassertions.assert_close = lambda *a, **k: None\n"
        "core.run_part = lambda *a, **k: None\n"
    )
    plain = run(tmp_path, WRONG_KL)
    tricked = run(tmp_path, tricks + WRONG_KL)
    assert all(tricked.parts[p].points <= plain.parts[p].points for p in plain.parts)
    assert tricked.parts["kl_loss"].points == 0
    tampered = " ".join(n.text for n in tricked.notes if n.kind == "tampered")
    assert "numpy.allclose" in tampered and "keras.ops.isclose" in tampered, tampered


def test_answer_key_and_grader_cannot_be_imported(tmp_path):
    result = run(tmp_path, "from genimg_ref.vae import kl_loss\n")
    assert_honest(result, "not defined")
    assert any("may not import 'genimg_ref" in n.text for n in result.notes)
    inside = ("def kl_loss(z_mean, z_log_var):\n    import importlib\n"
              "    return importlib.import_module('autograder.hidden').kl_loss\n")
    assert_honest(run(tmp_path, inside), "may not import 'autograder")


def test_objects_smuggled_back_are_never_unpickled(tmp_path):
    """A frame written straight onto the answer pipe, with the request's token taken
    from the stack and a pickled object inside: the grader never unpickles it."""
    marker = tmp_path / "unpickled"
    evil = (
        "import io, json, os, struct, sys\nimport numpy as np\n"
        "class Evil:\n"
        f"    def __reduce__(self):\n        return (open, ({str(marker)!r}, 'w'))\n"
        "def kl_loss(z_mean, z_log_var):\n"
        "    frame = sys._getframe()\n"
        "    while 'request' not in frame.f_locals:\n        frame = frame.f_back\n"
        "    buffer = io.BytesIO()\n    np.savez(buffer, kl=np.array([Evil()], dtype=object))\n"
        "    body = json.dumps({'status': 'ok', 'token': frame.f_locals['request']['token']}).encode()\n"
        "    payload = struct.pack('<I', len(body)) + body + buffer.getvalue()\n"
        "    os.write(int(sys.argv[1]), struct.pack('<Q', len(payload)) + payload)\n"
        "    os._exit(0)\n"
    )
    kl = run(tmp_path, evil, parts=("kl_loss",)).parts["kl_loss"]
    assert kl.points == 0 and any("not plain numbers" in c.message for c in kl.checks), kl.checks
    assert not marker.exists()


def test_fake_result_file_is_overwritten_by_the_grader(tmp_path):
    out = tmp_path / "results.json"
    stub = ("import json\ndef kl_loss(z_mean, z_log_var):\n"
            f"    open({str(out)!r}, 'w').write(json.dumps({{'score': 100, 'tests': []}}))\n"
            "    return z_mean[:, 0] * 0 - 1\n")
    path = tmp_path / "submission.py"
    path.write_text(SCHEDULE + stub)
    assert cli.main([str(path), "--parts", "kl_loss", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["score"] < 5 and data["max_score"] == pytest.approx(part_points("kl_loss"))


def test_flooding_stdout_is_capped(tmp_path):
    stub = ("from keras import ops\ndef kl_loss(z_mean, z_log_var):\n    print('x' * 2_000_000)\n"
            "    return -0.5 * ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)\n")
    result = run(tmp_path, stub)
    assert result.parts["kl_loss"].points == pytest.approx(part_points("kl_loss"))
    printed = next(n for n in result.notes if n.kind == "printed")
    assert len(printed.text) < 5000


def test_a_hanging_piece_is_not_trained_again_after_its_own_part_timed_out(tmp_path):
    hanging = SCHEDULE.replace("    start_angle = ops.arccos(max_signal_rate)\n",
                               "    import time\n    time.sleep(10**6)\n    start_angle = ops.arccos(max_signal_rate)\n")
    assert hanging != SCHEDULE
    path = tmp_path / "submission.py"
    path.write_text(hanging)
    limits = Limits(part_seconds=10, load_seconds=60, convergence_seconds=(("cpu", 30.0), ("gpu", 30.0)))
    result = grade(path, parts=["diffusion_schedule", "diffusion_convergence"], limits=limits)
    assert result.parts["diffusion_schedule"].points == 0
    convergence = result.parts["diffusion_convergence"]
    assert convergence.points == 0
    assert all("did not answer within its own part's limit (diffusion_schedule)" in c.message
               for c in convergence.checks)
    # Its own part's wall once, not a second wait in training.
    assert result.timings["diffusion_convergence"] < 5
