"""Confinement: the limits the kernel enforces on graded code, set before any of it runs.

One sequence, `confine`, used by both processes that run graded code: the
sandbox child (autograder.isolation.child) and the confined kernel of an
nbgrader course (autograder.isolation.kernel).

1. Namespaces (`namespaces.enter`), first thing, before any library starts a
   thread: new pid, network and mount namespaces, a size-limited tmpfs on the
   scratch folder and a private /dev/shm, and a pid 1 whose death takes every
   process of the namespace with it.
2. The caller's own preparation (`prepare`): the child imports Keras and
   starts a GPU runtime; the kernel lends its notebook's folder to the
   dedicated uid.
3. The restrictions (`restrict`): the drop to a dedicated unprivileged uid when
   the grader is root (or, where it cannot be, of every capability), rlimits
   (processes, CPU time, file size, data memory, no core files), a seccomp
   filter that refuses new sockets, and a Landlock ruleset: read only what
   Python and the libraries need but the blocked packages (`paths`), write
   only the scratch folder, no TCP bind or connect, no signal to or abstract
   socket of a process outside.

Each mechanism is applied when the machine offers it (a Docker container may
refuse namespaces or Landlock's system calls) and reported missing, with why,
otherwise; `mechanisms.isolation` turns the report into the guarantees a
result states. One module per mechanism; standard library only (ctypes for
the system calls), so that the child loads this before anything else.
"""

import dataclasses
import glob
import json
import os

from . import namespaces
from .environment import inherited_environment
from .landlock import landlock, landlock_abi
from .mechanisms import (GUARANTEES, LANDLOCK_FS, NAMESPACES, NO_CAPABILITIES, NOT_ROOT, PRIVATE_SHM,
                         RLIMITS, SECCOMP_SOCKETS, SKIPPED, UID, describe, isolation)
from .namespaces import remove_scratch
from .paths import python_readable_by_others, readable_paths
from .process import can_drop_user, drop_capabilities, drop_user, sandbox_user, set_rlimits
from .seccomp import seccomp_sockets
from .syscalls import LINUX, NOT_LINUX

__all__ = ["Plan", "confine", "skipped_mechanisms", "inherited_environment", "remove_scratch", "isolation",
           "describe", "GUARANTEES", "landlock_abi", "python_readable_by_others",
           "readable_paths", "NOT_LINUX"]


def skipped_mechanisms(environ=None):
    """The mechanisms that GENIMG_CONFINE_SKIP (comma-separated, mechanisms.SKIPPABLE)
    names: to find which one a platform refuses, never to grade."""
    environ = os.environ if environ is None else environ
    return [m for m in environ.get("GENIMG_CONFINE_SKIP", "").split(",") if m]


@dataclasses.dataclass
class Plan:
    """What to confine a process to; its bounds are autograder.limits.Limits' (the
    sandbox's or the kernel's). Crosses to the sandbox child as JSON on its command line."""
    scratch: str  # the only folder the process may write
    processes: int  # RLIMIT_NPROC: for the dedicated uid, all its processes
    cpu_seconds: int
    file_mb: int  # of one file; the scratch folder as a whole, where it is a tmpfs
    memory_mb: int
    uid: int = -1  # >= 0: the unprivileged uid to run as (the grader runs as root)
    gid: int = -1
    python: list = dataclasses.field(default_factory=list)  # what that uid must read to run Python
    skip: list = dataclasses.field(default_factory=skipped_mechanisms)  # mechanisms not to apply
    writable: list = dataclasses.field(default_factory=list)  # folders it may write besides the scratch
    ports: list = None  # None: no new socket; a list: TCP sockets, bound only to these ports (a kernel's)

    @classmethod
    def for_graded_code(cls, scratch, bounds, **more):
        """A plan with this machine's dedicated uid (process.sandbox_user) and `bounds`
        (Limits.sandbox_bounds() or kernel_bounds())."""
        uid, gid, python = sandbox_user()
        return cls(scratch, **bounds, uid=uid, gid=gid, python=python, **more)

    def owner(self):
        """(uid, gid) the scratch folder's tmpfs belongs to."""
        return (self.uid, self.gid) if self.uid >= 0 else (os.getuid(), os.getgid())

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def confine(plan, blocked, *, readable=(), packages=(), channel=None, expose=(), network=True, at_exit=None,
            prepare=None):
    """Confines this process to `plan` (the sequence above); returns (applied, missing):
    the mechanisms that hold, and {mechanism: why not} for the others.

    `blocked`: top-level packages it must not read; `readable`: what it may read
    besides what Python needs, and `packages` (not imported yet, see
    paths.readable_paths). `channel`, `expose`, `network`, `at_exit`: see
    namespaces.enter. `prepare(entered)` runs between the namespaces and the
    restrictions and returns {mechanism: why not} for any it gave up. Forks (the
    caller goes on in the confined process): call it before any thread starts.
    """
    applied = [] if os.geteuid() == 0 else [NOT_ROOT]
    if LINUX and NAMESPACES not in plan.skip:
        entered, missing = namespaces.enter(plan.scratch, plan.file_mb, plan.owner(), channel, expose,
                                            network, at_exit)
    else:
        entered = []
        missing = dict.fromkeys(namespaces.names(network), SKIPPED if NAMESPACES in plan.skip else NOT_LINUX)
    if PRIVATE_SHM in entered:
        plan.writable.append(namespaces.SHM)
    if prepare is not None:
        missing.update(prepare(entered) or {})
    allowed, listable = readable_paths(blocked, packages)
    restricted, refused = restrict(plan, [*allowed, *readable], listable)
    return applied + entered + restricted, {**missing, **refused}


def restrict(plan, readable, listable=()):
    """Applies every restriction this machine offers to this process, reading only
    `readable` and listing only those and the `listable` folders; returns (applied,
    missing) as `confine` does."""
    applied, missing = [], {}

    def step(name, apply):
        if name in plan.skip:
            missing[name] = SKIPPED
            return
        try:
            applied.extend(apply())
        except (OSError, ValueError) as error:
            missing[name] = str(error)

    os.chdir(plan.scratch)  # the sandbox works there; the kernel goes back to its notebook's folder
    if not LINUX:
        return [], dict.fromkeys((UID, RLIMITS, SECCOMP_SOCKETS, LANDLOCK_FS), NOT_LINUX)
    if plan.uid >= 0 and UID not in plan.skip and not can_drop_user(plan):
        missing[UID] = (f"other users cannot read the Python installation ({', '.join(plan.python)}), "
                        "and no mount namespace could expose it")
    elif plan.uid >= 0:
        step(UID, lambda: drop_user(plan.uid, plan.gid))
    if os.geteuid() == 0:  # no uid to drop to (or the drop failed): no capability either
        if plan.uid >= 0:
            os.chown(plan.scratch, 0, 0)
        step(NO_CAPABILITIES, drop_capabilities)
    step(RLIMITS, lambda: set_rlimits(plan))  # after the drop: the count is the dedicated uid's
    step(SECCOMP_SOCKETS, lambda: seccomp_sockets(allow_tcp=plan.ports is not None))
    devices = glob.glob("/dev/nvidia*") + glob.glob("/dev/dri/*")  # a GPU runtime's device files
    step(LANDLOCK_FS, lambda: landlock(readable, [plan.scratch, *plan.writable, os.devnull, *devices],
                                       landlock_abi(), plan.ports or (), listable))
    return applied, missing
