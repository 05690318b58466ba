"""Who the confined process is and what it may take: a dedicated unprivileged uid
(or, as root where none can run Python, no capability), and kernel resource
limits (rlimits); and, without an IPC namespace, the System V objects that uid
leaves behind."""

import ctypes
import os
import resource
import struct
import sys

from .mechanisms import NO_CAPABILITIES, RLIMITS, UID
from .paths import package_folders, python_readable_by_others
from .syscalls import PR_CAPBSET_DROP, PR_SET_DUMPABLE, check, libc

# A sandbox's dedicated uid (and gid) when the grader runs as root: this plus the
# pid of the process that starts it, so that sandboxes side by side never share
# one, and far above the uids of real accounts.
SANDBOX_UID_BASE = 2_000_000_000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def sandbox_user():
    """(uid, gid, paths): the dedicated unprivileged user a root grader runs graded code
    as, and what it must read to run Python and Keras; (-1, -1, []) when not root."""
    if os.geteuid() != 0:
        return -1, -1, []
    uid = SANDBOX_UID_BASE + os.getpid()
    packages = [folder for name in ("genimg_kit", "keras") for folder in package_folders(name)]
    return uid, uid, [sys.base_prefix, sys.prefix, *packages]


def can_drop_user(plan):
    """Whether the confinement will run as the plan's dedicated uid: one is planned, not
    skipped, and it can read the Python installation."""
    return plan.uid >= 0 and UID not in plan.skip and python_readable_by_others(plan.python)


def drop_user(uid, gid):
    """Runs as `uid`:`gid` from now on, with no supplementary groups (needs root)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # setuid clears it; the grader's psutil reads /proc
    return [UID]


def drop_capabilities():
    """Stays uid 0 but with no capability at all, now or after an exec (the bounding set
    emptied): what is left of root when no other user can read the Python installation."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two __user_cap_data_struct: effective, permitted, inheritable = 0
    check(libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    return [NO_CAPABILITIES]




def _vm_data_bytes():
    """What this process has mapped as data (VmData in /proc/self/status)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tasks_of(uid):
    """Threads of all processes whose real uid is `uid` (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status if line.startswith(("Uid", "Threads")))
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) == uid:
            count += int(fields["Threads"])
    return count


def set_rlimits(plan):
    """Kernel limits on what the submission may take: processes, CPU seconds, the size
    of one file, data memory (what is mapped now plus the memory cap), no core."""
    limits = [
        # RLIMIT_NPROC counts threads: the backends' pools start a few per core, later.
        (resource.RLIMIT_NPROC, _tasks_of(os.getuid()) + plan.processes + 4 * (os.cpu_count() or 1)),
        (resource.RLIMIT_CPU, plan.cpu_seconds),
        (resource.RLIMIT_FSIZE, plan.file_mb * 2**20),
        # Mapped data may grow by the memory cap: the watchdog stops a climb at the cap
        # first; one allocation far past it fails at once (MemoryError).
        (resource.RLIMIT_DATA, _vm_data_bytes() + plan.memory_mb * 2**20),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in limits:
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (value, value))
    return [RLIMITS]


# /proc/sysvipc/<kind>: the id's column and the owner uid's, and how to remove one.
_SYSV = {"shm": (1, 7, "shmctl"), "sem": (1, 4, "semctl"), "msg": (1, 7, "msgctl")}
IPC_RMID = 0


def remove_ipc_objects(uid):
    """Removes every System V shared-memory segment, semaphore set and message queue
    owned by `uid` on this IPC namespace (the machine's, where the confined process
    had none of its own); returns how many."""
    removed = 0
    for kind, (id_column, uid_column, call) in _SYSV.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as table:
                rows = [line.split() for line in table.readlines()[1:]]
        except OSError:
            continue
        for row in rows:
            if int(row[uid_column]) == uid:
                args = (int(row[id_column]), 0, IPC_RMID) if kind == "sem" else (int(row[id_column]), IPC_RMID, None)
                removed += getattr(libc, call)(*args) == 0
    return removed
