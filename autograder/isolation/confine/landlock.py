"""Landlock (include/uapi/linux/landlock.h): what the process may read, write, bind and signal.

Landlock only allows: a ruleset names what stays reachable, and everything
else of the rights it handles is refused, to this process and all it starts.
"""

import ctypes
import errno
import os
import struct

from .mechanisms import LANDLOCK_FS, LANDLOCK_SCOPE, LANDLOCK_TCP
from .syscalls import PR_SET_NO_NEW_PRIVS, check, libc

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


def landlock_abi():
    """Landlock's ABI version on this kernel, 0 when it is missing or refused (seccomp)."""
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
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
    ruleset = check(libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.c_char_p(attr[:size]),
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
                    check(libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset),
                                         ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.c_char_p(rule),
                                         ctypes.c_uint32(0)), f"landlock_add_rule({path})")
                finally:
                    os.close(fd)
        for port in bind_ports if net else ():
            rule = struct.pack("QQ", NET_BIND_TCP, port)
            check(libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_NET_PORT),
                                 ctypes.c_char_p(rule), ctypes.c_uint32(0)), f"landlock_add_rule(port {port})")
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        check(libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(ruleset)
    enforced = [LANDLOCK_FS]
    if net:
        enforced.append(LANDLOCK_TCP)
    if scoped:
        enforced.append(LANDLOCK_SCOPE)
    return enforced
