"""Confinement (issue 14): six guarantees, each attacked as a determined student would.

One submission per guarantee. Its three cheap pieces (kl_loss,
diffusion_schedule, slerp) each try one attack and return the right values
only when the attack got through; a blocked attack raises, and its part is
unscored. The process attacks return wrong values (their success would be a
process alive after grading) and are checked from outside. After each grade:
no process of the submission is left, nothing it aimed at was changed, and
the next (honest) submission scores full marks in the same environment.

Runs as whatever user runs the suite (root on the project's machines and CI:
then the sandbox also drops to a dedicated uid). The attacks are the
operating system's business, not Keras's: they run on the tensorflow pass
(one_backend); that the sandbox holds every guarantee on each backend is
tests/test_grader.py's reference grade, on both passes.
"""

import ctypes
import inspect
import os
import pathlib
import socket
import textwrap
import threading

import psutil
import pytest

from autograder.isolation import confine
from autograder.grade import grade
from autograder.limits import Limits
from genimg_ref import diffusion, text_to_image, vae
from genimg_kit.parts import part_points
from tests._submissions import write

pytestmark = pytest.mark.one_backend

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
PARTS = ["kl_loss", "diffusion_schedule", "slerp"]
LIMITS = Limits(memory_mb=1536)  # the memory attack stops at this, not at the machine's 4 GiB default

# Each piece runs its attacks once per process (the checks call it many times),
# and answers rightly only when one of them got through; otherwise it raises
# with every attack's error, by label.
# The answer key's pieces, as an honest submission writes them.
REFERENCE = "\n\n".join([
    "from keras import ops\nimport numpy as np\n",
    f"PARALLEL_DOT = {text_to_image.PARALLEL_DOT!r}",
    inspect.getsource(vae.kl_loss), inspect.getsource(diffusion.diffusion_schedule),
    inspect.getsource(text_to_image.slerp),
])
PRELUDE = REFERENCE + """
_kl, _schedule, _slerp = kl_loss, diffusion_schedule, slerp
_OUTCOMES = {}


def _attempt(piece, attacks):
    if piece not in _OUTCOMES:
        _OUTCOMES[piece] = []
        for label, attack in attacks:
            try:
                attack()
                _OUTCOMES[piece].append((label, None))
            except BaseException as error:
                _OUTCOMES[piece].append((label, f"{type(error).__name__}: {error}"))
    got_through = [label for label, error in _OUTCOMES[piece] if error is None]
    if not got_through:
        raise PermissionError("blocked: " + " | ".join(f"[{label}] {error}" for label, error in _OUTCOMES[piece]))
    return got_through
"""

PIECES = {  # piece -> (signature, the right answer)
    "kl_loss": ("kl_loss(z_mean, z_log_var)", "_kl(z_mean, z_log_var)"),
    "diffusion_schedule": ("diffusion_schedule(diffusion_times, min_signal_rate=0.02, max_signal_rate=0.95)",
                           "_schedule(diffusion_times, min_signal_rate, max_signal_rate)"),
    "slerp": ("slerp(t, v1, v2)", "_slerp(t, v1, v2)"),
}


def submission(**attacks):
    """A submission whose pieces (kl_loss=..., ...) run these {label: body} attacks."""
    parts = [PRELUDE]
    for piece, bodies in attacks.items():
        names = []
        for i, (label, body) in enumerate(bodies.items()):
            names.append(f"({label!r}, _{piece}_{i})")
            parts.append(f"def _{piece}_{i}():\n" + textwrap.indent(textwrap.dedent(body), "    "))
        signature, answer = PIECES[piece]
        parts.append(f"def {signature}:\n    _attempt({piece!r}, [{', '.join(names)}])\n    return {answer}\n")
    return "\n\n".join(parts)


# --- the attacks: three or more per guarantee -------------------------------------------

# A shared-memory segment, a semaphore set and a message queue, mode 666, under keys
# the test knows (IPC_CREAT | 0o666): none may outlive the grade that made them.
IPC_ATTACK = """
    import ctypes, os
    libc, key = ctypes.CDLL(None, use_errno=True), int(os.environ["GENIMG_ATTACK_IPC_KEY"])
    made = [libc.shmget(key, 4096, 0o1666), libc.semget(key + 1, 1, 0o1666), libc.msgget(key + 2, 0o1666)]
    assert min(made) >= 0, f"refused: {made}, errno {ctypes.get_errno()}"
    raise RuntimeError("started")
"""


IPC_KEY = 0x6E000000 + os.getpid() % 0x10000 * 4


def ipc_objects(key):
    """The System V objects (kind, key) on this machine's IPC namespace with keys key..key+2."""
    found = []
    for kind in ("shm", "sem", "msg"):
        with open(f"/proc/sysvipc/{kind}") as table:
            found += [(kind, int(line.split()[0])) for line in table.readlines()[1:]
                      if key <= int(line.split()[0]) <= key + 2]
    return found


ATTACKS = {
    "writes": {
        "the installed kit": """
            import genimg_kit.parts  # change what every later grade imports
            open(genimg_kit.parts.__file__, "a").write("\\n# tampered\\n")
        """,
        "a .pth in site-packages": """
            import os, sysconfig  # make every later Python run my code
            open(os.path.join(sysconfig.get_paths()["purelib"], "zz_genimg_attack.pth"), "w").write("import os\\n")
        """,
        "the grader's home folder": """
            import os, pwd
            open(os.path.join(pwd.getpwuid(0).pw_dir, ".genimg_attack"), "w").write("x")
        """,
        "the results file": """
            import os
            open(os.environ["GENIMG_ATTACK_RESULTS"], "w").write('{"score": 999}')
        """,
        "another student's folder": """
            import os
            open(os.path.join(os.environ["GENIMG_ATTACK_CLASS"], "honest.py"), "a").write("raise SystemExit\\n")
        """,
    },
    "answer_key": {
        "the answer key's files": """
            import os, sys  # found on disk, not imported
            roots = sys.path + [os.environ["GENIMG_ATTACK_CHECKOUT"]]
            found = [os.path.join(p, "genimg_ref", "vae.py") for p in roots
                     if os.path.exists(os.path.join(p, "genimg_ref", "vae.py"))]
            assert found, "no answer key found on disk"
            for path in found:
                open(path).read()
        """,
        "the hidden checks' files": """
            import os, sys  # installed, or in the checkout
            roots = sys.path + [os.environ["GENIMG_ATTACK_CHECKOUT"]]
            found = [os.path.join(p, "autograder", "hidden", "sampler.py") for p in roots
                     if os.path.exists(os.path.join(p, "autograder", "hidden", "sampler.py"))]
            assert found, "no hidden checks found on disk"
            for path in found:
                open(path).read()
        """,
        "the grader's memory": """
            import os
            with open(f"/proc/{os.environ['GENIMG_ATTACK_GRADER_PID']}/mem", "rb") as memory:
                memory.read(1)
        """,
        "the grader's environment": """
            import os
            open(f"/proc/{os.environ['GENIMG_ATTACK_GRADER_PID']}/environ", "rb").read()
        """,
        "a key among the grader's environment variables": """
            import os  # a platform's token or key, handed down to the sandbox
            assert os.environ["AWS_SECRET_ACCESS_KEY"] == "genimg-attack-key"
        """,
    },
    "network": {
        "TCP": """
            import os, socket
            socket.create_connection(("127.0.0.1", int(os.environ["GENIMG_ATTACK_TCP_PORT"])), timeout=2).sendall(b"x")
        """,
        "UDP": """
            import os, socket
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
                b"x", ("127.0.0.1", int(os.environ["GENIMG_ATTACK_UDP_PORT"])))
        """,
        "an abstract unix socket": """
            import os, socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect("\\0" + os.environ["GENIMG_ATTACK_UNIX_NAME"])
            s.sendall(b"x")
        """,
        "a listening TCP port": """
            import socket
            socket.create_server(("0.0.0.0", 0))
        """,
    },
    "processes": {  # they get through (starting processes is allowed); what counts is that none survives
        "a daemon in its own session": """
            import os, subprocess
            subprocess.Popen(["sleep", os.environ["GENIMG_ATTACK_MARK"]], start_new_session=True)
            raise RuntimeError("started")
        """,
        "a double fork": """
            import os
            if os.fork() == 0:
                if os.fork() == 0:
                    os.setsid()
                    os.execvp("sleep", ["sleep", os.environ["GENIMG_ATTACK_MARK"]])
                os._exit(0)
            os.wait()
            raise RuntimeError("started")
        """,
        "a process deaf to signals": """
            import os, subprocess
            subprocess.Popen(["sh", "-c", "trap '' TERM INT HUP; exec sleep " + os.environ["GENIMG_ATTACK_MARK"]],
                             start_new_session=True)
            raise RuntimeError("started")
        """,
        "System V objects anyone may use": IPC_ATTACK,
    },
    "resources": {
        "memory": """
            bytearray(8 * 2**30)  # at once: the kernel refuses it (the watchdog stops a slow climb)
        """,
        "one huge file": """
            with open("big.bin", "wb") as f:
                for _ in range(2048):
                    f.write(b"\\0" * 2**20)
        """,
        "a fork bomb": """
            import os, time
            children = []
            try:
                for _ in range(5000):
                    pid = os.fork()
                    if pid == 0:
                        time.sleep(60)
                        os._exit(0)
                    children.append(pid)
            finally:
                time.sleep(1)  # holds what it got
                for pid in children:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
        """,
    },
    "user": {
        "becoming root": """
            import os
            os.setuid(0)
            assert os.getuid() == 0, "still not root"
        """,
        "signalling the grader": """
            import os  # signal 0 only asks whether it could be killed
            os.kill(int(os.environ["GENIMG_ATTACK_GRADER_PID"]), 0)
        """,
        "root's secrets": """
            open("/etc/shadow").read()
        """,
    },
}
# Which piece carries which guarantee's attacks, in two submissions.
SUBMISSIONS = {
    "attacks_1": {"kl_loss": "writes", "diffusion_schedule": "answer_key", "slerp": "network"},
    "attacks_2": {"kl_loss": "user", "diffusion_schedule": "resources", "slerp": "processes"},
}


# For attack code that runs outside the grader's sandbox (a notebook cell, a script of
# another user): runs each attack, recording "blocked: <error type>" or "got through".
ATTEMPT = """\
outcomes = {}

def attempt(label, attack):
    try:
        attack()
    except Exception as error:
        outcomes[label] = "blocked: " + type(error).__name__
    else:
        outcomes[label] = "got through"

"""


class Listeners:
    """What the network attacks aim at: a TCP and a UDP port and an abstract unix socket,
    each counting what reached it."""

    def __init__(self):
        self.received = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.unix_name = f"genimg-attack-{os.getpid()}-{id(self)}"  # one per instance: modules share a process
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.unix_name)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        threading.Thread(target=self._datagrams, daemon=True).start()

    def _accept(self, server):
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            self.received.append(connection.recv(16))

    def _datagrams(self):
        while True:
            try:
                self.received.append(self.udp.recv(16))
            except OSError:
                return

    def close(self):
        for s in (self.tcp, self.udp, self.unix):
            s.close()


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    """What the attacks aim at, in the environment the sandbox inherits."""
    import genimg_kit.parts

    base = tmp_path_factory.mktemp("attacks")
    listeners = Listeners()
    mark = f"{4000 + os.getpid() % 1000}.{os.getpid()}"  # `sleep MARK`: findable, and ends on its own
    aims = {
        "GENIMG_ATTACK_RESULTS": str(base / "results.json"),
        "GENIMG_ATTACK_CLASS": str(base),
        "GENIMG_ATTACK_CHECKOUT": str(pathlib.Path(__file__).resolve().parents[1]),
        "GENIMG_ATTACK_GRADER_PID": str(os.getpid()),
        "GENIMG_ATTACK_TCP_PORT": str(listeners.tcp.getsockname()[1]),
        "GENIMG_ATTACK_UDP_PORT": str(listeners.udp.getsockname()[1]),
        "GENIMG_ATTACK_UNIX_NAME": listeners.unix_name,
        "GENIMG_ATTACK_MARK": mark,
        "GENIMG_ATTACK_IPC_KEY": str(IPC_KEY),
        "AWS_SECRET_ACCESS_KEY": "genimg-attack-key",
    }
    os.environ.update(aims)
    (base / "results.json").write_text('{"score": 0}')
    write(base, "honest.py", REFERENCE)
    kit = pathlib.Path(genimg_kit.parts.__file__)
    before = {"kit": kit.read_bytes(), "results": (base / "results.json").read_text(),
              "honest": (base / "honest.py").read_text()}
    yield {"base": base, "listeners": listeners, "mark": mark, "kit": kit, "before": before}
    listeners.close()
    for name in aims:
        os.environ.pop(name, None)


def marked(mark):
    return [p for p in psutil.process_iter(["cmdline"]) if mark in (p.info["cmdline"] or [])]


@pytest.fixture(scope="module")
def graded(environment):
    """{name: record} for each attacking submission, then the honest one's, graded one
    after another in one environment; and the processes found alive after each."""
    records, leftovers = {}, {}
    for name, pieces in SUBMISSIONS.items():
        source = submission(**{piece: ATTACKS[guarantee] for piece, guarantee in pieces.items()})
        records[name] = grade(write(environment["base"], f"{name}.py", source), parts=PARTS,
                              backend=BACKEND, limits=LIMITS)
        leftovers[name] = marked(environment["mark"]) + ipc_objects(IPC_KEY)
    records["honest"] = grade(environment["base"] / "honest.py", parts=PARTS, backend=BACKEND, limits=LIMITS)
    return records, leftovers


def outcome(graded, guarantee):
    """(points, message) of the part whose piece carried `guarantee`'s attacks."""
    records, _ = graded
    ((name, piece),) = [(n, p) for n, pieces in SUBMISSIONS.items() for p, g in pieces.items() if g == guarantee]
    result = records[name].parts[piece]
    return result.points, " ".join(c.message for c in result.checks)


@pytest.mark.parametrize("guarantee", list(ATTACKS))
def test_every_attack_is_blocked_and_its_part_unscored(graded, guarantee):
    points, message = outcome(graded, guarantee)
    assert points == 0, f"an attack on '{confine.GUARANTEES[guarantee]}' got through: {message}"
    if guarantee == "processes":
        return  # starting them is allowed: test_no_process_outlives_its_grade
    for label in ATTACKS[guarantee]:  # each attack ran, and failed on its own error
        assert f"[{label}] " in message, f"{label}: {message}"
    assert "blocked: " in message


def test_every_grade_states_full_isolation(graded):
    records, _ = graded
    for name, record in records.items():
        assert record.isolation["level"] == "full", (name, record.isolation)


def test_nothing_the_attacks_aimed_at_changed(graded, environment):
    import sysconfig

    assert environment["kit"].read_bytes() == environment["before"]["kit"]
    assert (environment["base"] / "results.json").read_text() == environment["before"]["results"]
    assert (environment["base"] / "honest.py").read_text() == environment["before"]["honest"]
    assert not pathlib.Path(sysconfig.get_paths()["purelib"], "zz_genimg_attack.pth").exists()
    assert not pathlib.Path(os.path.expanduser("~"), ".genimg_attack").exists()
    assert environment["listeners"].received == []


def test_no_process_outlives_its_grade(graded):
    _, leftovers = graded
    assert leftovers == {name: [] for name in SUBMISSIONS}


def test_the_next_submission_is_graded_honestly(graded):
    records, _ = graded
    assert records["honest"].score == sum(part_points(p) for p in PARTS)


def test_isolation_names_a_mechanism_for_every_guarantee(graded):
    isolation = graded[0]["honest"].isolation
    assert set(isolation["held"]) == set(confine.GUARANTEES) and isolation["missing"] == {}
    if os.geteuid() == 0:
        assert "uid" in isolation["held"]["user"]


def test_isolation_shows_in_every_output_format(graded):
    from autograder import writers

    record = graded[0]["honest"]
    line = confine.describe(record.isolation)
    assert line.startswith("isolation: full (") and "landlock-fs" in line
    assert writers.text_report(record).splitlines()[1] == line
    results = writers.gradescope(record)
    assert results["extra_data"]["isolation"] == record.isolation and line in results["output"]
    assert writers.classroom(record)["isolation"] == record.isolation


def test_with_nothing_to_confine_it_still_grades_and_warns(environment, monkeypatch):
    from autograder import writers

    monkeypatch.setenv("GENIMG_CONFINE_SKIP", "namespaces,uid,no-capabilities,rlimits,seccomp-sockets,landlock-fs")
    record = grade(environment["base"] / "honest.py", parts=["kl_loss"], backend=BACKEND, limits=LIMITS)
    assert record.score == part_points("kl_loss")
    assert record.isolation["level"] == "none" and set(record.isolation["missing"]) == set(confine.GUARANTEES)
    warning = writers.text_report(record).splitlines()[1]
    assert warning.startswith("WARNING: isolation: none")
    for text in confine.GUARANTEES.values():
        assert text in warning


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader can leave its sandbox root")
def test_a_fork_bomb_of_a_child_left_root_is_stopped_by_the_count(environment, monkeypatch):
    # Root ignores RLIMIT_NPROC: without the uid drop, the watchdog's count is the limit.
    monkeypatch.setenv("GENIMG_CONFINE_SKIP", "uid")
    bomb = submission(kl_loss={"a fork bomb": ATTACKS["resources"]["a fork bomb"]})
    record = grade(write(environment["base"], "root_fork_bomb.py", bomb), parts=["kl_loss"], backend=BACKEND,
                   limits=LIMITS)
    result = record.parts["kl_loss"]
    assert result.points == 0
    assert f"started more than {LIMITS.processes} processes" in " ".join(c.message for c in result.checks)
    assert "user" in record.isolation["missing"]  # and the result says the user guarantee is lost


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can act as another uid")
def test_without_an_ipc_namespace_the_sweep_removes_what_the_uid_made():
    """Where namespaces are refused, the sandbox's uid made its objects in the machine's
    IPC namespace: closing the sandbox removes them (confine.process.remove_ipc_objects),
    and only them. (This machine's uid cannot run Python without a mount namespace, so the
    objects are made by a forked process that takes a sandbox uid.)"""
    from autograder.isolation.confine.process import SANDBOX_UID_BASE, remove_ipc_objects

    uid, key = SANDBOX_UID_BASE + 7 + os.getpid() % 1000, IPC_KEY + 100
    attack = textwrap.dedent(IPC_ATTACK).replace('int(os.environ["GENIMG_ATTACK_IPC_KEY"])', str(key))
    attack = attack.replace('raise RuntimeError("started")', "")
    mine = textwrap.dedent(IPC_ATTACK).replace('int(os.environ["GENIMG_ATTACK_IPC_KEY"])', str(key + 10))
    exec(mine.replace('raise RuntimeError("started")', ""), {})  # root's own, at other keys: they stay
    try:
        child = os.fork()
        if child == 0:
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                exec(attack, {})
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        assert len(ipc_objects(key)) == 3
        assert remove_ipc_objects(uid) == 3
        assert ipc_objects(key) == [] and len(ipc_objects(key + 10)) == 3
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmctl(libc.shmget(key + 10, 0, 0), 0, None)
        libc.semctl(libc.semget(key + 11, 0, 0), 0, 0)
        libc.msgctl(libc.msgget(key + 12, 0), 0, None)
