"""seccomp: no new sockets (a small BPF program, assembled here)."""

import ctypes
import errno
import platform
import struct

from .mechanisms import SECCOMP_SOCKETS, SECCOMP_TCP_ONLY
from .syscalls import PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, check, libc

SECCOMP_MODE_FILTER = 2

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
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog_buffer), 0, 0), "seccomp")
    return [SECCOMP_TCP_ONLY if allow_tcp else SECCOMP_SOCKETS]
