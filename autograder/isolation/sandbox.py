"""The sandbox: a child process that holds the submission's code.

The grader talks to it through `Sandbox.request`. The child confines
itself before any student code runs (autograder.isolation.confine: namespaces, a
dedicated uid when the grader is root, rlimits, seccomp, Landlock; it writes
only to a fresh scratch folder), and every limit is also enforced from out
here: a time limit per request (the child is killed when it runs over), a
memory cap and a process count (a watchdog kills the child's process tree),
the scratch folder's size where it is not a tmpfs, and a cap on how much of
its stdout/stderr is kept. When it ends, every process it started is killed
(its pid namespace, or everything its dedicated uid runs). Whatever happens
in the child, the grader gets back either plain numeric arrays or a message.
"""

import io
import json
import os
import pathlib
import pickle
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import psutil

from autograder.isolation import confine
from autograder.isolation.confine.mechanisms import ENFORCED_BY, IPC_NAMESPACE, RLIMITS, SCRATCH_TMPFS
from autograder.isolation.confine.process import remove_ipc_objects
from autograder.isolation.memory import over_cap, private_memory
from genimg_kit.checks.subject import SubmissionDied, SubmissionError
from genimg_kit.parts import MissingName

CHILD_SCRIPT = pathlib.Path(__file__).with_name("child.py")


class SandboxStartError(Exception):
    """The child did not start: no student code ran, the grader itself failed."""


class _CappedReader(threading.Thread):
    """Drains a pipe, keeping only its first `limit` bytes."""

    def __init__(self, stream, limit):
        super().__init__(daemon=True)
        self.stream, self.limit, self.kept, self.dropped = stream, limit, bytearray(), 0

    def run(self):
        while chunk := self.stream.read1(65536):
            room = self.limit - len(self.kept)
            self.kept += chunk[:max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self):
        text = self.kept.decode(errors="replace")
        return text + (f"\n[... {self.dropped} more bytes dropped]" if self.dropped else "")


def _folder_bytes(folder, enough):
    """Bytes of the files under `folder`, counted until `enough` (so a flood of files costs little)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
            if total > enough:
                return total
    return total


class Sandbox:
    def __init__(self, backend, limits, container):
        """Starts the child under `limits` (autograder.limits.Limits), inside
        `container` (autograder.isolation.container.Container: the machine's own limits)."""
        self.backend, self.limits, self.container = backend, limits, container
        self.memory_mb = limits.memory_mb
        self.death = None  # why the child died, once it has
        self.timed_out = False  # whether it died for not answering in time
        self.tampered = None  # why its answers stopped being trusted, once they have
        self.container_failure = False  # whether the container's OOM killer killed it (not the student)
        self._oom_kills = container.oom_kills()
        self.applied = None  # the confinement mechanisms that hold, once the child is ready
        self._own = set()  # the child's own processes (no student code), once it is ready
        self._counts_processes = False  # whether the watchdog must count them (a root child), once ready
        self.scratch = tempfile.mkdtemp(prefix="genimg-sandbox-")
        self.plan = confine.Plan.for_graded_code(self.scratch, limits.sandbox_bounds())
        if self.plan.uid >= 0:
            os.chown(self.scratch, self.plan.uid, self.plan.gid)
        read_fd, write_fd = os.pipe()
        # MALLOC_ARENA_MAX: glibc gives each thread of XLA's and TensorFlow's pools a heap of its
        # own, whose freed memory a grading container still counts; two serve one graded process
        # (JAX's peak in the diffusion training: 857 -> 804 MB).
        env = dict(confine.inherited_environment(os.environ), KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                   MPLBACKEND="Agg", GENIMG_OFFLINE="1", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
                   MALLOC_ARENA_MAX="2", HOME=self.scratch, TMPDIR=self.scratch, XDG_CACHE_HOME=self.scratch,
                   KERAS_HOME=os.path.join(self.scratch, ".keras"), MPLCONFIGDIR=self.scratch)
        # XLA compiles at LLVM -O2, not its default -O3: a grade runs most of its programs a few
        # times, and at -O2 they compile in about half the time (the JAX U-Net's build: 2.7 -> 1.2 s)
        # while the training steps run as fast. A course's own XLA_FLAGS come after, and win.
        env["XLA_FLAGS"] = " ".join(filter(None, ("--xla_backend_optimization_level=2", env.get("XLA_FLAGS"))))
        # -u: what the submission prints leaves the child as it prints it (-I ignores
        # PYTHONUNBUFFERED), so nothing it printed is lost in a buffer when the child is killed.
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-u", str(CHILD_SCRIPT), str(write_fd), self.plan.to_json()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(write_fd,), env=env, start_new_session=True,
        )
        os.close(write_fd)
        self.answers = os.fdopen(read_fd, "rb", buffering=0)
        self.stdout = _CappedReader(self.process.stdout, limits.output_bytes)
        self.stderr = _CappedReader(self.process.stderr, limits.output_bytes)
        self.stdout.start(), self.stderr.start()
        self._watchdog = threading.Thread(target=self._watch_memory, daemon=True)
        self._watchdog.start()
        try:
            ready, _ = self._receive(limits.start_seconds)
        except SubmissionDied as error:
            self.close()
            raise SandboxStartError(f"the sandbox did not start: {error}\n{self.stderr.text()[-3000:]}") from None
        self.accelerator = ready.get("accelerator", "cpu")  # "gpu" when Keras computes on one
        self.memory_mb = self._memory_cap(limits.memory_for(self.accelerator))
        self._own = {p.pid for p in self._tree()}  # the child (and its namespace's parent): no student code yet
        applied = ready["confinement"]["applied"]
        # RLIMIT_NPROC holds for every uid but root's: only a child left root needs the count
        # (beside the kernel's limit, it raced it and could end a part before it reported).
        self._counts_processes = RLIMITS not in applied or not set(ENFORCED_BY["user"]) & set(applied)
        self.applied = applied
        self.isolation = confine.isolation(applied, ready["confinement"]["missing"])

    def _memory_cap(self, cap):
        """`cap`, or less in a container too small for it: the watchdog must stop a
        submission's child before the container's OOM killer does, so that an
        overrun is charged to the submission with the cap it broke."""
        grader = private_memory(psutil.Process()) // 2**20
        return min(cap, self.container.memory_mb - grader - self.limits.container_margin_mb)

    # --- limits ---------------------------------------------------------

    def _tree(self):
        try:
            parent = psutil.Process(self.process.pid)
            return [parent] + parent.children(recursive=True)
        except psutil.Error:
            return []

    def _watch_memory(self):
        ticks = 0
        while self.process.poll() is None:
            tree = self._tree()
            if over_cap(tree, self.memory_mb * 2**20):
                self._kill(f"the submission used more than {self.memory_mb} MiB of memory and was stopped")
                return
            if self._counts_processes and len(tree) - len(self._own) > self.limits.processes:
                self._kill(f"the submission started more than {self.limits.processes} processes and was stopped")
                return
            ticks += 1
            if ticks % 10 == 0 and self.applied is not None and SCRATCH_TMPFS not in self.applied \
                    and _folder_bytes(self.scratch, self.limits.scratch_mb * 2**20) > self.limits.scratch_mb * 2**20:
                self._kill(f"the submission wrote more than {self.limits.scratch_mb} MiB of files and was stopped")
                return
            time.sleep(0.1)

    def _died(self):
        """The child is gone without a word: says why, and whose doing it was."""
        code = self.process.wait()
        if code == -signal.SIGKILL and self._killed_by_container():
            self.container_failure = True
            self._kill(self.limits.container_message(self.container, self.backend))
        else:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            self._kill(f"the submission's process {how}")

    def _killed_by_container(self):
        """Whether the kernel killed the child for the container's memory: its OOM-kill
        count rose, or, where it keeps none, the container's memory is limited."""
        if self.death is not None:  # the watchdog or a deadline killed it: the submission's doing
            return False
        kills = self.container.oom_kills()
        if kills is None or self._oom_kills is None:
            return self.container.memory_limited
        return kills > self._oom_kills

    def _kill(self, reason):
        if self.death is None:
            self.death = reason
        for p in reversed(self._tree()):
            try:
                p.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # --- protocol -------------------------------------------------------

    def _read_exactly(self, size, deadline):
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.answers], [], [], remaining)[0]:
                raise TimeoutError
            chunk = self.answers.read(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    def _receive(self, timeout):
        if self.death:
            raise SubmissionDied(self.death)
        deadline = time.monotonic() + timeout
        try:
            size = struct.unpack("<Q", self._read_exactly(8, deadline))[0]
            payload = self._read_exactly(size, deadline)
            header_size = struct.unpack("<I", payload[:4])[0]
            header = json.loads(payload[4:4 + header_size])
            try:
                with np.load(io.BytesIO(payload[4 + header_size:]), allow_pickle=False) as npz:
                    arrays = {key: npz[key] for key in npz.files}
            except Exception as error:  # anything but a plain .npz (its EOFError is not the pipe's)
                raise ValueError(f"{type(error).__name__}: {error}") from None
            if not isinstance(header, dict):
                raise ValueError("a header that is not a JSON object")
        except TimeoutError:
            self.timed_out = self.death is None
            self._kill(f"the submission did not answer within {timeout:.0f} s and was stopped "
                       "(an endless loop, or far too slow)")
            raise SubmissionDied(self.death) from None
        except EOFError:
            self._died()
            raise SubmissionDied(self.death) from None
        except (ValueError, KeyError, struct.error, json.JSONDecodeError) as error:
            self._kill(f"the submission sent back something that is not plain numbers ({error})")
            raise SubmissionDied(self.death) from None
        return header, arrays

    def _send(self, message):
        if self.death:
            raise SubmissionDied(self.death)
        data = pickle.dumps(message)
        try:
            self.process.stdin.write(struct.pack("<Q", len(data)) + data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()
            raise SubmissionDied(self.death) from None

    def _tampered(self, why):
        """Voids the answer and the sandbox: its code reached the probes or the answer pipe."""
        self.tampered, self.timed_out = why, False
        self._kill(f"tampering detected: {why}")
        raise SubmissionDied(self.death)

    def _answer(self, token, timeout):
        header, arrays = self._receive(timeout)
        if header.get("status") == "tampered":
            self._tampered("graded code changed what the probes run on: " + ", ".join(header.get("changed", [])))
        if header.get("token") != token:
            self._tampered("an answer that belongs to no request reached the answer pipe (written by graded code)")
        return header, arrays

    def request(self, message, timeout):
        """Sends `message`, returns its answer (header, arrays). After a probe or a load, where
        graded code ran, a ping must come back next and at once: a second answer to the probe, or
        none, means something else wrote on the answer pipe or stopped the child answering."""
        deadline = time.monotonic() + timeout
        token = secrets.token_hex(16)
        self._send({**message, "token": token})
        header, arrays = self._answer(token, timeout)
        if message["op"] in ("probe", "load"):
            ping = secrets.token_hex(16)
            self._send({"op": "ping", "token": ping})
            try:
                pong, _ = self._answer(ping, max(deadline - time.monotonic(), 1.0))
            except SubmissionDied:
                if self.tampered is None:
                    self._tampered(f"the child stopped answering right after its answer ({self.death})")
                raise
            if pong.get("status") != "pong":
                self._tampered("a second answer to one probe reached the answer pipe")
        return header, arrays

    def release(self, timeout):
        """Asks the child to hand back memory between parts (probes.release_memory)."""
        self.request({"op": "release"}, timeout)

    def load(self, units, timeout):
        """Runs the kept statements; returns (graded names defined, errors)."""
        header, _ = self.request({"op": "load", "units": [(u.label, u.source) for u in units]}, timeout)
        return header["defined"], header["errors"]

    def _strays(self, keep):
        """The processes the submission started, but those in `keep`: the child's tree and,
        with a dedicated uid, whatever runs as it (a process that detached and was
        re-parented away from the tree still has the uid)."""
        found = {p.pid: p for p in self._tree()}
        if self.plan.uid >= 0:
            for process in psutil.process_iter(["uids"]):
                uids = process.info["uids"]
                if uids is not None and self.plan.uid in (uids.real, uids.effective):
                    found.setdefault(process.pid, process)
        return [p for pid, p in found.items() if pid not in keep]

    def sweep(self, keep=None):
        """Kills every process the submission started (all but the child itself unless
        `keep` says otherwise), until none is left: a part's processes end with it."""
        keep = self._own if keep is None else keep
        for _ in range(100):  # a fork bomb respawns while it is killed; RLIMIT_NPROC bounds it
            strays = self._strays(keep)
            if not strays:
                return
            for process in strays:
                try:
                    process.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(strays, timeout=1)

    def close(self):
        self._kill(self.death or "closed")
        self.process.wait()
        self.sweep(keep=set())  # with no pid namespace, a detached process survives the tree's kill
        if self.plan.uid >= 0 and IPC_NAMESPACE not in (self.applied or ()):
            remove_ipc_objects(self.plan.uid)  # the machine's IPC namespace: its System V objects stay
        shutil.rmtree(self.scratch, ignore_errors=True)
        for stream in (self.process.stdin, self.answers):
            try:
                stream.close()
            except OSError:
                pass
        self.stdout.join(1), self.stderr.join(1)


class RemoteSubject:
    """A check's view of the submission in the sandbox (see genimg_kit.checks.subject)."""

    def __init__(self, sandbox, deadline, seed=0, profile="cpu"):
        self.sandbox, self.deadline, self.seed, self.profile = sandbox, deadline, seed, profile

    def probe(self, probe, **arrays):
        """Runs `probe` (a function of genimg_kit.probes) in the sandbox, by its name."""
        timeout = max(self.deadline - time.monotonic(), 0.1)
        message = {"op": "probe", "probe": probe.__name__, "seed": self.seed,
                   "arrays": {k: np.asarray(v) for k, v in arrays.items()}}
        header, result = self.sandbox.request(message, timeout)
        if header["status"] == "missing":
            raise MissingName(header["names"])
        if header["status"] == "error":
            raise SubmissionError(header["message"])
        return result
