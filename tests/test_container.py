"""The grading machine's own limits: read from its cgroup, and never blamed on a student.

`autograder.isolation.container.detect` reads cgroup trees laid out here in tmp_path
(v1 and v2, limits on the process's folder and on an ancestor). A child
that the container's OOM killer kills makes the record's status
"environment" (the grade is not valid), while a child that kills itself in
a container whose OOM-kill count does not move is the submission's doing.
The kernel's count is played by a fake container whose count rises after
the sandbox has started (graded code cannot write outside its scratch
folder, so it cannot play it). A container too small for the backend is refused before any grading. The
last test grades the reference in a real cgroup of Gradescope's default
768 MB (root only).
"""

import os
import sys

import pytest

from autograder import cli, grade as grading
from autograder.isolation import container
from autograder.limits import Limits
from tests import cgroup

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
MB = 2**20


def write_tree(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_v1_limits_of_the_folder_and_its_ancestors(tmp_path):
    write_tree(tmp_path, {
        "memory/memory.limit_in_bytes": "9223372036854771712",  # no limit at the root
        "memory/grading/memory.limit_in_bytes": str(2048 * MB),
        "memory/grading/job/memory.limit_in_bytes": str(768 * MB),
        "memory/grading/job/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        "cpu,cpuacct/grading/job/cpu.cfs_quota_us": "50000",
        "cpu,cpuacct/grading/job/cpu.cfs_period_us": "100000",
        "self": "12:memory:/grading/job\n4:cpu,cpuacct:/grading/job\n1:name=systemd:/\n",
    })
    found = container.detect(tmp_path, tmp_path / "self")
    assert (found.memory_mb, found.cpus, found.cgroup, found.memory_limited) == (768, 0.5, "v1", True)
    assert found.oom_kills() == 3


def test_v2_takes_the_tightest_limit_along_the_path(tmp_path):
    write_tree(tmp_path, {
        "cgroup.controllers": "cpu memory pids\n",
        "outer/memory.max": str(640 * MB),
        "outer/cpu.max": "max 100000\n",
        "outer/inner/memory.max": "max\n",
        "outer/inner/cpu.max": "150000 100000\n",
        "outer/inner/memory.events": "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n",
        "self": "0::/outer/inner\n",
    })
    found = container.detect(tmp_path, tmp_path / "self")
    assert (found.memory_mb, found.cpus, found.cgroup) == (640, 1.5, "v2")
    assert found.oom_kills() == 2


def test_no_cgroup_means_the_machines_own_size(tmp_path):
    write_tree(tmp_path, {"self": ""})
    found = container.detect(tmp_path, tmp_path / "self")
    assert not found.memory_limited and found.oom_kills() is None and found.cgroup == ""
    assert found.memory_mb > 0 and found.cpus >= 1


# kl_loss dies of SIGKILL, as a child that the container's OOM killer picked would.
KILLED = """\
import os, signal


def kl_loss(z_mean, z_log_var):
    os.kill(os.getpid(), signal.SIGKILL)
"""


class FakeContainer(container.Container):
    """A small container whose kernel's OOM-kill count rises, when `oom_rises`, once it
    has been read at the sandbox's start (as it would for a child the OOM killer took)."""

    def oom_kills(self):
        reads = self.__dict__.setdefault("_reads", [])
        reads.append(None)
        return int(bool(os.environ.get("GENIMG_TEST_OOM_RISES")) and len(reads) > 1)


def small_container(monkeypatch, memory_mb=24_000):
    fake = FakeContainer(memory_mb=memory_mb, cpus=2.0, cgroup="v1", memory_limited=True)
    monkeypatch.setattr(container, "detect", lambda: fake)


def test_a_child_the_containers_oom_killer_took_is_not_the_students_zero(tmp_path, monkeypatch):
    small_container(monkeypatch)
    monkeypatch.setenv("GENIMG_TEST_OOM_RISES", "1")
    path = tmp_path / "submission.py"
    path.write_text(KILLED)
    record = grading.grade(path, parts=["kl_loss"], backend=BACKEND)
    assert record.status == "environment"
    assert "ran out of memory" in record.message and "not the submission's fault" in record.message
    assert all(c.message == record.message for c in record.checks()), [c.message for c in record.checks()]
    assert "killed by signal" not in record.message


def test_a_child_that_kills_itself_is_the_submissions_doing(tmp_path, monkeypatch):
    small_container(monkeypatch)
    path = tmp_path / "submission.py"
    path.write_text(KILLED)
    record = grading.grade(path, parts=["kl_loss"], backend=BACKEND)
    assert record.status == "ok" and record.score == 0
    assert "killed by signal 9" in next(record.checks()).message


def test_a_container_too_small_for_the_backend_is_refused_before_grading(tmp_path, monkeypatch, capsys):
    small_container(monkeypatch, memory_mb=300)
    limits = Limits()
    path = tmp_path / "submission.py"
    path.write_text(KILLED)
    record = grading.grade(path, parts=["kl_loss"], backend=BACKEND)
    need = limits.container_need(BACKEND)
    assert need > 300 and record.status == "environment" and record.seconds < 5
    assert f"it has 300 MB, and grading on {BACKEND} needs about {need} MB" in record.message
    assert cli.main([str(path), "--parts", "kl_loss", "--backend", BACKEND]) == 3
    assert "Autograder Settings" in capsys.readouterr().out


GRADESCOPE_DEFAULT_MB = 768


@pytest.mark.slow
@pytest.mark.skipif(bool(cgroup.unavailable()), reason=cgroup.unavailable() or "a cgroup can be made")
@pytest.mark.parametrize("memory_mb", sorted({GRADESCOPE_DEFAULT_MB, Limits().container_need(BACKEND)}))
def test_the_reference_in_a_container_of_gradescopes_size(memory_mb):
    """Full marks where the backend fits (tensorflow: 768 MB, Gradescope's default);
    below the measured need, the honest refusal, at once, naming the size that works."""
    grade = ("import sys; from autograder.grade import grade; r = grade(sys.argv[1], backend=sys.argv[2]); "
             "print(r.status, r.score, r.message)")
    run = cgroup.run([sys.executable, "-c", grade, str(cli.DEFAULT_SUBMISSION), BACKEND], memory_mb=memory_mb)
    assert run.completed.returncode == 0, run.completed.stderr[-3000:]
    need = Limits().container_need(BACKEND)
    if memory_mb >= need:
        assert run.completed.stdout.split()[:2] == ["ok", "100.0"], run.completed.stdout
        assert run.oom_kills == 0 and 0 < run.peak_mb <= memory_mb
    else:
        assert run.completed.stdout.startswith("environment 0.0 "), run.completed.stdout
        assert f"needs about {need} MB" in run.completed.stdout and run.oom_kills == 0
