"""Confinement: limits the kernel enforces on the sandbox child, set before any student code runs.

The sandbox child applies them to itself, in two steps (`_child.py`):

1. `enter_namespaces`, first thing, before any library starts a thread: new
   pid, network and mount namespaces (as root directly; otherwise inside a
   new user namespace that maps the user to itself), a size-limited tmpfs on
   the scratch folder, then two forks: pid 1 of the namespace, a bare init,
   and below it the child that runs the submission. When pid 1 dies, the
   kernel kills every process the submission started, however it detached
   (new session, double fork). The network namespace has no interface but a
   loopback that is down.
2. `restrict`, once Keras is imported: the drop to a dedicated unprivileged
   uid when running as root (or, where it cannot be, of every capability),
   resource limits (rlimits: processes, CPU time, file size, data memory, no
   core files), a seccomp filter that refuses new
   sockets, and a Landlock ruleset: read (and execute) only the Python
   installation, the libraries, the system folders and the student kit, write
   only a fresh scratch folder (and /dev/null), no TCP bind or connect, no
   signal to or abstract socket of a process outside the sandbox.

Each mechanism is applied when the machine offers it (a Docker container may
refuse namespaces or Landlock's system calls) and skipped otherwise; the
child reports which ones hold, and `isolation` turns that into the
guarantees a result states (the text report's first lines, results.json,
the Classroom message).

Only the standard library is used (ctypes for the system calls), so that this
module loads before anything else in the child.
"""

import ctypes
import dataclasses
import errno
import glob
import json
import os
import platform
import resource
import shutil
import signal
import struct
import sys

# Every mechanism here is Linux's. Elsewhere (an instructor's Mac) nothing is applied,
# and every result says so.
LINUX = sys.platform.startswith("linux")
NOT_LINUX = f"Linux's mechanisms: this is {sys.platform}"
_libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    _libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

# --- the guarantees (issue 14), and what a result says about each ----------------

GUARANTEES = {
    "writes": "writes only to a fresh scratch folder",
    "answer_key": "the answer key and the grader's files cannot be read",
    "network": "no network and no new sockets",
    "processes": "no process outlives its part",
    "resources": "memory, processes, CPU time and file size limited by the kernel",
    "user": "runs as an unprivileged user",
}

# --- Landlock (include/uapi/linux/landlock.h) -------------------------------------

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH, LANDLOCK_RULE_NET_PORT = 1, 2
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_WRITE_ALL_ABI1 = sum(1 << bit for bit in range(4, 13))  # remove, make char/dir/reg/sock/fifo/block/sym
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV  # valid on a file
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR

PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_DUMPABLE = 38, 1, 22, 4
SECCOMP_MODE_FILTER = 2

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000


def landlock_abi():
    """Landlock's ABI version on this kernel, 0 when it is missing or refused (seccomp)."""
    abi = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(abi, 0)


def _handled_fs(abi):
    rights = READ | FS_WRITE_FILE | FS_WRITE_ALL_ABI1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _check(result, what):
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def landlock(readable, writable, abi, bind_ports=(), listable=()):
    """Restricts this process (and all it starts) to reading `readable` and writing
    `writable` (paths; a missing one is skipped), listing the names in the `listable`
    folders (and below them) without reading their files, with no TCP connect, no TCP
    bind but to `bind_ports` and, from ABI 6, no signal or abstract socket across the
    sandbox's edge. Returns what it enforces."""
    if not abi:
        raise OSError(errno.ENOSYS, "this kernel (or its container's seccomp profile) offers no Landlock")
    handled = _handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", handled, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.c_char_p(attr[:size]),
                                   ctypes.c_size_t(size), ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for paths, rights in ((listable, FS_READ_DIR), (readable, READ), (writable, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights & handled
                    if not os.path.isdir(path):
                        allowed &= FILE_RIGHTS
                    rule = struct.pack("=Qi", allowed, fd)
                    _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                                         ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.c_char_p(rule),
                                         ctypes.c_uint32(0)), f"landlock_add_rule({path})")
                finally:
                    os.close(fd)
        for port in bind_ports if net else ():
            rule = struct.pack("QQ", NET_BIND_TCP, port)
            _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_NET_PORT),
                                 ctypes.c_char_p(rule), ctypes.c_uint32(0)), f"landlock_add_rule(port {port})")
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)
    enforced = ["landlock-fs"]
    if net:
        enforced.append("landlock-tcp")
    if scoped:
        enforced.append("landlock-scope")
    return enforced


# --- seccomp: no new sockets --------------------------------------------------------

# (AUDIT_ARCH, socket's system call number) of the architectures the grader runs on.
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
_X32_SYSCALL_BIT = 0x40000000
_IO_URING = (425, 426, 427)  # io_uring_setup, _enter, _register (both ABIs): it opens sockets without socket(2)
AF_INET, AF_INET6, AF_NETLINK, SOCK_STREAM, IPPROTO_TCP, NETLINK_ROUTE = 2, 10, 16, 1, 6, 0


def _bpf(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_sockets(allow_tcp=False):
    """Installs a seccomp filter under which socket(2) fails with EPERM (socketpair, which
    opens nothing beyond the process, still works), as do io_uring and system calls of
    another ABI (x32, 32-bit) that could get around it. `allow_tcp`: TCP sockets (IPv4,
    IPv6) may still be made, for a Jupyter kernel's own channels, and routing netlink
    ones, with which ZeroMQ looks up interfaces before it binds; Landlock then says
    which ports TCP may bind, and that it connects nowhere."""
    arch = _SECCOMP_ARCH.get(platform.machine())
    if arch is None:
        raise OSError(errno.ENOSYS, f"no seccomp filter for {platform.machine()}")
    audit_arch, socket_nr = arch
    ld_w_abs, jeq_k, jge_k, and_k, ret_k = 0x20, 0x15, 0x35, 0x54, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
    args = lambda i: 16 + 8 * i  # noqa: E731  (seccomp_data.args[i], its low 32 bits)
    # Jumps count the instructions they skip; DENY and ALLOW are the program's last two.
    body = [
        (ld_w_abs, None, None, 0),               # A = seccomp_data.nr
        (jge_k, "deny", None, _X32_SYSCALL_BIT),  # x32: refuse
        *[(jeq_k, "deny", None, nr) for nr in _IO_URING],
        (jeq_k, None, "allow", socket_nr),
    ]
    if allow_tcp:
        body += [
            (ld_w_abs, None, None, args(0)),      # domain
            (jeq_k, 2, None, AF_INET),
            (jeq_k, 1, None, AF_INET6),
            (jeq_k, 6, "deny", AF_NETLINK),
            (ld_w_abs, None, None, args(1)),      # type, less SOCK_NONBLOCK and SOCK_CLOEXEC
            (and_k, None, None, 0xF),
            (jeq_k, None, "deny", SOCK_STREAM),
            (ld_w_abs, None, None, args(2)),      # protocol: TCP (not SCTP, not MPTCP)
            (jeq_k, "allow", None, 0),
            (jeq_k, "allow", "deny", IPPROTO_TCP),
            (ld_w_abs, None, None, args(2)),      # netlink: the routing family, which lists interfaces
            (jeq_k, "allow", "deny", NETLINK_ROUTE),
        ]
    else:
        body += [(ret_k, None, None, deny)]
    end = len(body)  # body[end] is DENY, body[end + 1] ALLOW

    def skip(i, target):  # how many instructions a jump at body[i] skips to reach `target`
        if target in ("deny", "allow"):
            return (end if target == "deny" else end + 1) - i - 1
        return target or 0

    program = b"".join([
        _bpf(ld_w_abs, 0, 0, 4),                 # A = seccomp_data.arch
        _bpf(jeq_k, 1, 0, audit_arch),           # native ABI: go on
        _bpf(ret_k, 0, 0, deny),
        *[_bpf(code, skip(i, jt), skip(i, jf), k) for i, (code, jt, jf, k) in enumerate(body)],
        _bpf(ret_k, 0, 0, deny),
        _bpf(ret_k, 0, 0, allow),
    ])
    buffer = ctypes.create_string_buffer(program)
    fprog = struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0), "seccomp")
    return ["seccomp-tcp-only" if allow_tcp else "seccomp-sockets"]


# --- namespaces ---------------------------------------------------------------------

SKIPPED = "skipped (GENIMG_CONFINE_SKIP)"


def _unshare(flags):
    return _libc.unshare(ctypes.c_int(flags)) == 0


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


SHM = "/dev/shm"
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 1 << 12, 1 << 14, 1 << 18


def _mount(source, target, kind, flags, options=None):
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    return _libc.mount(encode(source), encode(target), encode(kind), flags, encode(options)) == 0


def _hidden_by(path):
    """The topmost folder above `path` that other users cannot enter, or None."""
    import stat

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


def enter_namespaces(scratch, scratch_mb, owner, channel, expose=(), skip=False, network=True, at_exit=None):
    """New pid, network and mount namespaces, a size-limited tmpfs on `scratch` owned by
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
    flags = CLONE_NEWPID | CLONE_NEWNS | (CLONE_NEWNET if network else 0)
    namespaces = ["pid-namespace", "net-namespace"] if network else ["pid-namespace"]
    refused = "new namespaces are refused here (a container without CAP_SYS_ADMIN or user namespaces)"
    if skip or not LINUX:
        return [], dict.fromkeys(namespaces, SKIPPED if skip else NOT_LINUX)
    if uid == 0 and _unshare(flags):
        entered = list(namespaces)
    elif _unshare(CLONE_NEWUSER | flags):  # unprivileged: map the user to itself, no more
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as error:
            return [], dict.fromkeys(namespaces, str(error))
        entered = ["user-namespace", *namespaces]
    else:
        return [], dict.fromkeys(namespaces, refused)
    if _mount(None, "/", None, MS_REC | MS_PRIVATE) and _mount(
            "tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV,
            f"size={scratch_mb}m,mode=0700,uid={owner[0]},gid={owner[1]}"):
        entered.append("scratch-tmpfs")
        # POSIX shared memory and semaphores (multiprocessing, joblib) live in /dev/shm: a
        # private one, so that they work without a write outside the sandbox.
        if _mount("tmpfs", SHM, "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_mb}m,mode=1777"):
            entered.append("private-shm")
        if uid == 0 and expose and _expose(expose):
            entered.append("exposed-python")
    # Outside, a waiter; inside, pid 1, a bare init (the kernel ignores signals that
    # processes of its namespace send it, so the child must not be it); then the child.
    if init := os.fork():
        _wait_and_mirror(init, channel, inside=False, at_exit=at_exit)
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # the waiter killed: so is pid 1, and with it all
    if child := os.fork():
        _wait_and_mirror(child, channel, inside=True, at_exit=None)
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
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


MNT_DETACH = 2


def remove_scratch(scratch):
    """Removes a scratch folder from the waiter's side: the tmpfs on it first (in this
    mount namespace), then the folder itself, which is the machine's."""
    if LINUX:
        _libc.umount2(scratch.encode(), MNT_DETACH)
    shutil.rmtree(scratch, ignore_errors=True)


# What graded code keeps of the grader's environment variables: the locale, the search
# path, and the settings of Keras, its backends, the GPU runtime, Matplotlib, nbgrader
# and this project; not a platform's tokens, keys or anything else it holds.
INHERITED_ENVIRONMENT = ("PATH", "LANG", "LANGUAGE", "LC_", "TZ", "TERM", "LD_LIBRARY_PATH", "KERAS_", "TF_",
                         "XLA_", "JAX_", "CUDA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "MPLBACKEND",
                         "NBGRADER_EXECUTION", "GENIMG_")


def inherited_environment(environ):
    """The variables of `environ` that graded code may see (INHERITED_ENVIRONMENT)."""
    return {name: value for name, value in environ.items() if name.startswith(INHERITED_ENVIRONMENT)}


# --- resource limits ----------------------------------------------------------------


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
    return ["rlimits"]


# --- the plan, and applying it --------------------------------------------------------


@dataclasses.dataclass
class Plan:
    """What the grader asks the child to apply (handed over as JSON on its command line)."""
    scratch: str  # the only folder the submission may write
    uid: int = -1  # >= 0: the unprivileged uid to run as (the grader runs as root)
    gid: int = -1
    python: list = dataclasses.field(default_factory=list)  # what that uid must read to run Python
    processes: int = 256  # RLIMIT_NPROC: for the dedicated uid, all its processes
    cpu_seconds: int = 3600
    file_mb: int = 256  # of one file; the scratch folder as a whole, where it is a tmpfs
    memory_mb: int = 4096
    skip: list = dataclasses.field(default_factory=list)  # mechanisms not to apply (GENIMG_CONFINE_SKIP)
    writable: list = dataclasses.field(default_factory=list)  # folders it may write besides the scratch
    ports: list = None  # None: no new socket; a list: TCP sockets, bound only to these ports (a kernel's)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def drop_user(uid, gid):
    """Runs as `uid`:`gid` from now on, with no supplementary groups (needs root)."""
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # setuid clears it; the grader's psutil reads /proc
    return ["uid"]


PR_CAPBSET_DROP, _LINUX_CAPABILITY_VERSION_3 = 24, 0x20080522


def drop_capabilities():
    """Stays uid 0 but with no capability at all, now or after an exec (the bounding set
    emptied): what is left of root when no other user can read the Python installation."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two __user_cap_data_struct: effective, permitted, inheritable = 0
    _check(_libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)), "capset")
    return ["no-capabilities"]


def restrict(plan, readable, listable=()):
    """Applies every limit this machine offers to this process, reading only `readable`
    and listing only those and the `listable` folders (readable_paths); returns
    (applied, missing): mechanism names, and {mechanism: why not} for those that could
    not be applied (or that `plan.skip` names)."""
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
        return [], dict.fromkeys(("uid", "rlimits", "seccomp-sockets", "landlock-fs"), NOT_LINUX)
    if plan.uid >= 0 and "uid" not in plan.skip and not can_drop_user(plan):
        missing["uid"] = (f"other users cannot read the Python installation ({', '.join(plan.python)}), "
                          "and no mount namespace could expose it")
    elif plan.uid >= 0:
        step("uid", lambda: drop_user(plan.uid, plan.gid))
    if os.geteuid() == 0:  # no uid to drop to (or the drop failed): no capability either
        if plan.uid >= 0:
            os.chown(plan.scratch, 0, 0)
        step("no-capabilities", drop_capabilities)
    step("rlimits", lambda: set_rlimits(plan))  # after the drop: the count is the dedicated uid's
    step("seccomp-sockets", lambda: seccomp_sockets(allow_tcp=plan.ports is not None))
    devices = glob.glob("/dev/nvidia*") + glob.glob("/dev/dri/*")  # a GPU runtime's device files
    step("landlock-fs", lambda: landlock(readable, [plan.scratch, *plan.writable, os.devnull, *devices],
                                         landlock_abi(), plan.ports or (), listable))
    return applied, missing


def can_drop_user(plan):
    """Whether `restrict` will run as the plan's dedicated uid: one is planned, not skipped,
    and it can read the Python installation."""
    return plan.uid >= 0 and "uid" not in plan.skip and python_readable_by_others(plan.python)


def readable_paths(blocked, packages=()):
    """(readable, listable): what the submission may read, and the folders whose names
    alone it may list. Readable: the system folders, the Python installation, every
    folder of sys.path and every imported package's folder, less the folders of the
    `blocked` top-level packages (the answer key, the grader): a folder that holds one is
    opened entry by entry, down to it (Landlock only allows, so a hole is made by
    omission). Such a folder (site-packages, say) stays listable, and everything below
    it: without its listing, importlib.metadata finds no distribution, so no entry point
    (Matplotlib's inline backend, Keras-Hub's presets) and no version. A blocked
    package's file names are listable too, its files' contents not: its distribution's
    RECORD names them anyway.
    `packages`: top-level packages not imported yet whose folders must be readable (an
    editable install's are on no sys.path entry)."""
    blocked_dirs = {os.path.realpath(folder) for name in blocked for folder in package_folders(name)}
    paths = [*[folder for name in packages for folder in package_folders(name)],
             "/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys", "/dev",
             sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *[entry for entry in sys.path if os.path.isdir(entry)]]
    for module in list(sys.modules.values()):  # packages found by path hooks (editable installs)
        paths += [f for f in getattr(module, "__path__", None) or () if isinstance(f, str)]
    readable, listable = [], []
    for path in dict.fromkeys(os.path.realpath(p) for p in paths if os.path.exists(p)):
        _without(path, blocked_dirs, readable, listable)
    return list(dict.fromkeys(readable)), list(dict.fromkeys(listable))


def package_folders(name):
    """The folders of top-level package `name`, found without importing it ([] if absent)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    return list(spec.submodule_search_locations or []) if spec else []


# A sandbox's dedicated uid (and gid) when the grader runs as root: this plus the
# pid of the process that starts it, so that sandboxes side by side never share
# one, and far above the uids of real accounts.
SANDBOX_UID_BASE = 2_000_000_000


def sandbox_user():
    """(uid, gid, paths): the dedicated unprivileged user a root grader runs graded code
    as, and what it must read to run Python and Keras; (-1, -1, []) when not root."""
    if os.geteuid() != 0:
        return -1, -1, []
    uid = SANDBOX_UID_BASE + os.getpid()
    packages = [folder for name in ("genimg_kit", "keras") for folder in package_folders(name)]
    return uid, uid, [sys.base_prefix, sys.prefix, *packages]


def _without(path, blocked_dirs, readable, listable):
    """Adds `path` to `readable`, or, when a blocked folder is in or below it, adds it to
    `listable` and each of its entries but that folder to `readable`, recursively."""
    if any(path == b or path.startswith(b + os.sep) for b in blocked_dirs):
        return
    if not any(b.startswith(path.rstrip(os.sep) + os.sep) for b in blocked_dirs):
        readable.append(path)
        return
    listable.append(path)
    # Each entry by its real path: a rule on a link (a venv's lib64 -> lib) opens its target.
    for child in sorted(os.listdir(path)):
        _without(os.path.realpath(os.path.join(path, child)), blocked_dirs, readable, listable)


def python_readable_by_others(paths):
    """Whether a user other than the owner can reach and read every one of `paths`
    (the Python installation under /root, say, is not: then no uid drop)."""
    import stat

    for path in paths:
        folder = os.path.realpath(path)
        while True:
            try:
                mode = os.stat(folder).st_mode
            except OSError:
                return False
            if not mode & stat.S_IXOTH or (folder == os.path.realpath(path) and not mode & stat.S_IROTH):
                return False
            if folder == os.sep:
                break
            folder = os.path.dirname(folder)
    return True


# --- what a result says -----------------------------------------------------------------

# guarantee -> the mechanisms that each hold it on their own (strongest first); "a+b":
# both together (a kernel's TCP sockets, bound only to its own ports, connecting nowhere).
ENFORCED_BY = {
    "writes": ("landlock-fs",),
    "answer_key": ("landlock-fs",),
    "network": ("seccomp-sockets", "net-namespace", "seccomp-tcp-only+landlock-tcp"),
    "processes": ("pid-namespace", "uid"),
    "resources": ("rlimits",),
    "user": ("uid", "not-root"),
}


def isolation(applied, missing):
    """{"level", "held": {guarantee: mechanisms}, "missing": {guarantee: why}} from what the
    child applied and what it could not. Level "full": all six guarantees hold; "partial":
    some; "none": none of the four that keep a submission in (writes, answer key, network,
    processes)."""
    held, lacking = {}, {}
    for guarantee, mechanisms in ENFORCED_BY.items():
        present = [m for m in mechanisms if all(part in applied for part in m.split("+"))]
        if present:
            held[guarantee] = "+".join(present)
        else:
            lacking[guarantee] = "; ".join(f"{m}: {missing[m]}" for option in mechanisms
                                           for m in option.split("+") if m in missing) or "not offered here"
    if not lacking:
        level = "full"
    elif all(g in lacking for g in ("writes", "answer_key", "network", "processes")):
        level = "none"
    else:
        level = "partial"
    return {"level": level, "held": held, "missing": lacking}


def describe(isolation_record):
    """One line for people: the level and its mechanisms, with a warning that names every
    guarantee not enforced, and why."""
    if not isolation_record:
        return "isolation: not recorded (no sandbox started)"
    mechanisms = sorted({m for held in isolation_record["held"].values() for m in held.split("+")})
    line = f"isolation: {isolation_record['level']} ({', '.join(mechanisms) or 'no kernel mechanism'})"
    if isolation_record["missing"]:
        line = "WARNING: " + line + "; not enforced here: " + "; ".join(
            f"{GUARANTEES[g]} ({why})" for g, why in isolation_record["missing"].items())
    return line
