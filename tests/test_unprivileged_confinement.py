"""Confinement as a normal user (issue 14): the same autograder/isolation/confine, run by an
unprivileged uid, enters its namespaces through a user namespace that maps the user
to itself and holds every guarantee.

The grader's Python here lives under /root (mode 700), where no other user can
start it, so the attacker runs the system's Python with a copy of the confine
package (standard library only) in a world-readable folder, as uid 65534 (`setpriv`),
and attacks from inside: a write to a folder that user may write, a read of a
file that user may read, a TCP connection and a UDP datagram to listeners of
this test, a signal to this test's process, a daemon in its own session.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from autograder.isolation import confine
from tests.as_users import NOBODY, as_user
from tests.test_confinement import ATTEMPT, Listeners

pytestmark = pytest.mark.one_backend  # no Keras in it

SYSTEM_PYTHON = "/usr/bin/python3"

ATTACKER = """\
import json, os, socket, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import confine

aims = json.loads(sys.argv[1])
scratch = tempfile.mkdtemp()
plan = confine.Plan(scratch, processes=64, cpu_seconds=60, file_mb=16, memory_mb=512)
applied, missing = confine.confine(plan, blocked=())
""" + ATTEMPT + """\
attempt("write a folder this user may write", lambda: open(os.path.join(aims["writable"], "x"), "w").write("x"))
attempt("read a file this user may read", lambda: open(aims["secret"]).read())
attempt("TCP to a listener", lambda: socket.create_connection(("127.0.0.1", aims["tcp"]), timeout=2).sendall(b"x"))
attempt("UDP to a listener", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", aims["udp"])))
attempt("signal the grader", lambda: os.kill(aims["grader"], 0))
attempt("write the scratch folder", lambda: open(os.path.join(scratch, "ok"), "w").write("x"))
subprocess.Popen(["sleep", aims["mark"]], start_new_session=True)
print(json.dumps({"applied": applied, "missing": missing,
                  "uid": os.getuid(), "outcomes": outcomes}))
"""


@pytest.fixture(scope="module")
def attacked():
    if not (os.geteuid() == 0 and os.path.exists(SYSTEM_PYTHON) and shutil.which("setpriv")):
        pytest.skip("needs root (to become uid 65534), the system's Python and setpriv")
    folder = tempfile.mkdtemp(prefix="genimg-unprivileged-")
    os.chmod(folder, 0o755)
    code = os.path.join(folder, "code")  # what the attacker may read: its own code
    os.mkdir(code)
    shutil.copytree(os.path.dirname(confine.__file__), os.path.join(code, "confine"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(code, "attacker.py"), "w") as f:
        f.write(ATTACKER)
    writable = os.path.join(folder, "writable")
    os.mkdir(writable)
    os.chown(writable, NOBODY, NOBODY)
    secret = os.path.join(folder, "secret")
    with open(secret, "w") as f:
        f.write("the answer key")
    os.chmod(secret, 0o644)
    listeners = Listeners()
    mark = f"9{os.getpid() % 1000}.{os.getpid()}"
    aims = {"writable": writable, "secret": secret, "tcp": listeners.tcp.getsockname()[1], "udp": listeners.udp.getsockname()[1],
            "grader": os.getpid(), "mark": mark}
    done = subprocess.run(as_user(NOBODY, [SYSTEM_PYTHON, "-I", os.path.join(code, "attacker.py"), json.dumps(aims)]),
                          cwd=folder, capture_output=True, text=True, timeout=60)
    time.sleep(0.5)  # the namespace's processes are gone once its pid 1 is: give the kernel a moment
    listeners.close()
    alive = subprocess.run(["pgrep", "-f", f"sleep {mark}"], capture_output=True, text=True).stdout.split()
    result = {"done": done, "report": json.loads(done.stdout.splitlines()[-1]) if done.returncode == 0 else None,
              "received": listeners.received, "alive": alive, "written": os.listdir(writable)}
    shutil.rmtree(folder)
    return result


def test_a_normal_user_enters_every_namespace_and_applies_every_restriction(attacked):
    assert attacked["report"], attacked["done"].stderr[-3000:]
    report = attacked["report"]
    assert report["uid"] == NOBODY
    assert {"user-namespace", "pid-namespace", "ipc-namespace", "net-namespace", "scratch-tmpfs", "not-root", "rlimits",
            "seccomp-sockets", "landlock-fs"} <= set(report["applied"]), report["missing"]
    isolation = confine.isolation(report["applied"], report["missing"])
    assert isolation["level"] == "full", isolation


def test_every_attack_of_a_normal_user_is_blocked(attacked):
    outcomes = dict(attacked["report"]["outcomes"])
    assert outcomes.pop("write the scratch folder") == "got through"  # the sandbox itself works
    assert all(outcome.startswith("blocked: ") for outcome in outcomes.values()), outcomes
    assert attacked["written"] == [] and attacked["received"] == []


def test_no_process_of_a_normal_user_outlives_the_sandbox(attacked):
    assert attacked["alive"] == []


def test_off_linux_nothing_is_applied_and_the_result_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(confine, "LINUX", False)
    plan = confine.Plan(str(tmp_path), processes=64, cpu_seconds=60, file_mb=16, memory_mb=512)
    cwd = os.getcwd()
    try:
        applied, missing = confine.confine(plan, blocked=())
    finally:
        os.chdir(cwd)
    assert set(applied) <= {"not-root"}
    assert {"pid-namespace", "ipc-namespace", "net-namespace", "uid", "rlimits", "seccomp-sockets", "landlock-fs"} <= set(missing)
    line = confine.describe(confine.isolation(applied, missing))
    assert line.startswith("WARNING: isolation: none") and confine.NOT_LINUX in line, line
