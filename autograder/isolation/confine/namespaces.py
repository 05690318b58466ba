"""Namespaces: the pid, IPC, network and mount namespaces a confined process lives in.

`enter` unshares them (as root directly; otherwise inside a new user
namespace that maps the user to itself), mounts a size-limited tmpfs on the
scratch folder and a private /dev/shm, then forks twice: outside, a waiter
that mirrors how the confined process ends; inside, pid 1, a bare init; below
it, the confined process. When pid 1 dies, the kernel kills every process of
the namespace, however it detached (new session, double fork), and with the
last of them the IPC namespace goes, every System V object and POSIX message
queue created in it with it (on the machine's, one would outlive the grade). The network
namespace has no interface but a loopback that is down.
"""

import ctypes
import os
import shutil
import signal
import stat

from .mechanisms import (EXPOSED_PYTHON, IPC_NAMESPACE, NET_NAMESPACE, PID_NAMESPACE, PRIVATE_SHM,
                         SCRATCH_TMPFS, USER_NAMESPACE)
from .syscalls import LINUX, PR_SET_PDEATHSIG, libc

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
MNT_DETACH = 2
SHM = "/dev/shm"
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 1 << 12, 1 << 14, 1 << 18


def _unshare(flags):
    return libc.unshare(ctypes.c_int(flags)) == 0


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _mount(source, target, kind, flags, options=None):
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    return libc.mount(encode(source), encode(target), encode(kind), flags, encode(options)) == 0


def _hidden_by(path):
    """The topmost folder above `path` that other users cannot enter, or None."""
    folder = os.sep
    for part in os.path.realpath(path).split(os.sep)[1:]:
        folder = os.path.join(folder, part)
        if os.path.isdir(folder) and not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder
    return None


def _expose(paths):
    """In this mount namespace, covers each private folder that hides one of `paths` with
    an empty world-readable tmpfs and binds the hidden paths back into it: the rest of
    that folder (root's home, say) is gone from view. Returns whether all are reachable."""
    hidden = {}
    for path in paths:
        if (folder := _hidden_by(path)) is not None:
            hidden.setdefault(folder, []).append(os.path.realpath(path))
    for folder, inside in hidden.items():
        fds = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in inside}
        try:
            if not _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755"):
                return False
            for path, fd in fds.items():
                os.makedirs(path, mode=0o755, exist_ok=True)
                if not _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC):
                    return False
        finally:
            for fd in fds.values():
                os.close(fd)
    return True


def names(network):
    """The namespaces `enter` reports (the user namespace aside)."""
    return [PID_NAMESPACE, IPC_NAMESPACE, *([NET_NAMESPACE] if network else [])]


def enter(scratch, scratch_mb, owner, channel, expose=(), network=True, at_exit=None):
    """New pid, IPC, network and mount namespaces, a size-limited tmpfs on `scratch` owned by
    `owner` (uid, gid), then a fork: returns (mechanisms that hold, {mechanism: why not}),
    in the forked child. As root, `expose` (the Python installation) is made reachable for an unprivileged
    uid where a private folder hides it (pyenv's under /root): see _expose.
    The parent lets go of the grader's pipes (`channel`: its answer pipe's fd, or None;
    stdin, stdout, stderr), waits for the child, calls `at_exit` and dies as it did.
    `network=False` keeps the machine's network namespace (a Jupyter kernel's channels
    are TCP ports on it; seccomp and Landlock then close the rest).

    Must run before any thread starts (Keras and its backends start many): a fork
    keeps only the calling thread."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | (CLONE_NEWNET if network else 0)
    namespaces = names(network)
    refused = "new namespaces are refused here (a container without CAP_SYS_ADMIN or user namespaces)"
    if uid == 0 and _unshare(flags):
        entered = list(namespaces)
    elif _unshare(CLONE_NEWUSER | flags):  # unprivileged: map the user to itself, no more
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as error:
            return [], dict.fromkeys(namespaces, str(error))
        entered = [USER_NAMESPACE, *namespaces]
    else:
        return [], dict.fromkeys(namespaces, refused)
    if _mount(None, "/", None, MS_REC | MS_PRIVATE) and _mount(
            "tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV,
            f"size={scratch_mb}m,mode=0700,uid={owner[0]},gid={owner[1]}"):
        entered.append(SCRATCH_TMPFS)
        # POSIX shared memory and semaphores (multiprocessing, joblib) live in /dev/shm: a
        # private one, so that they work without a write outside the sandbox.
        if _mount("tmpfs", SHM, "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_mb}m,mode=1777"):
            entered.append(PRIVATE_SHM)
        if uid == 0 and expose and _expose(expose):
            entered.append(EXPOSED_PYTHON)
    # Outside, a waiter; inside, pid 1, a bare init (the kernel ignores signals that
    # processes of its namespace send it, so the child must not be it); then the child.
    if init := os.fork():
        _wait_and_mirror(init, channel, inside=False, at_exit=at_exit)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # the waiter killed: so is pid 1, and with it all
    if child := os.fork():
        _wait_and_mirror(child, channel, inside=True, at_exit=None)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    return entered, {}


def _wait_and_mirror(child, channel, inside, at_exit):
    """Lets go of the grader's pipes, reaps processes until `child` ends, then ends as it
    did, so the grader reads its exit or its killing signal. Pid 1 cannot die of a signal
    it sends itself: it exits 128 + the signal, which the waiter outside turns back.
    Ctrl-C is the child's: Jupyter interrupts a kernel by sending SIGINT to its group.
    Outside, it watches its own parent too: when that dies, the child (pid 1) is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if channel is not None:
        os.close(channel)
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])  # for sigtimedwait: a child's end wakes it
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            os._exit(1)
        if pid == child:
            break
        if pid == 0:
            # Outside: the grader or Jupyter that started this is gone (killed, say), and
            # nothing would end the sandbox or the kernel any more: end it here.
            if not inside and os.getppid() != parent:
                os.kill(child, signal.SIGKILL)
            signal.sigtimedwait([signal.SIGCHLD], 1.0)
    code = os.waitstatus_to_exitcode(status)
    if at_exit is not None:
        at_exit()
    killed_by = -code if code < 0 else code - 128 if not inside and code > 128 else 0
    if killed_by and not inside:
        if killed_by not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught anyway
            signal.signal(killed_by, signal.SIG_DFL)
        os.kill(os.getpid(), killed_by)
    os._exit(128 + killed_by if killed_by else code % 256)


def remove_scratch(scratch):
    """Removes a scratch folder from the waiter's side: the tmpfs on it first (in this
    mount namespace), then the folder itself, which is the machine's."""
    if LINUX:
        libc.umount2(scratch.encode(), MNT_DETACH)
    shutil.rmtree(scratch, ignore_errors=True)
