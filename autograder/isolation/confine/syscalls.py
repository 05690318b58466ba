"""The C library and the constants of the system calls the mechanisms share.

Standard library only (ctypes), like the whole package: the sandbox child
loads it before anything else.
"""

import ctypes
import os
import sys

# Every mechanism is Linux's. Elsewhere (an instructor's Mac) nothing is applied,
# and every result says so.
LINUX = sys.platform.startswith("linux")
NOT_LINUX = f"Linux's mechanisms: this is {sys.platform}"

libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    libc.syscall.restype = ctypes.c_long
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 38, 1, 22, 4, 24


def check(result, what):
    """`result`, or the OSError of errno when the call failed."""
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result
