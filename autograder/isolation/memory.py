"""How much memory a sandbox's processes hold of their own, read from /proc.

What the watchdog (autograder.isolation.sandbox) stops a submission for: its
processes' proportional share (PSS) of anonymous and shared-memory pages.
PSS costs a walk of a process's page tables; the kernel's RSS counters cost
nothing and bound it from above, so PSS is read only near the cap.
"""

import os

import psutil

# How far below the truth the kernel's RSS counters may read: since Linux 6.2 each CPU holds
# back up to max(32, 2 x CPUs) pages, before it each thread up to 64 (for which 32 MiB is ample).
_CPUS = os.cpu_count() or 1
RSS_COUNTER_LAG = _CPUS * max(32, 2 * _CPUS) * os.sysconf("SC_PAGE_SIZE") + 32 * 2**20


def _counted(path, keys):
    """The sum of the kB fields `keys` of the /proc file `path`, in bytes (None when it has none)."""
    try:
        with open(path) as info:
            fields = dict(line.split(":", 1) for line in info if line.startswith(keys))
        return sum(int(fields[key].split()[0]) for key in keys) * 1024
    except (OSError, KeyError, ValueError):  # an older kernel, not Linux, or the process is gone
        return None


def resident_memory(process):
    """Bytes of anonymous and shared-memory pages that `process` maps (the kernel's counters,
    /proc/PID/status), or None where it keeps none: a cheap bound, never under its PSS."""
    return _counted(f"/proc/{process.pid}/status", ("RssAnon", "RssShmem"))


def private_memory(process):
    """Bytes of memory that `process` holds of its own: its proportional share (PSS) of
    anonymous and shared-memory pages.

    Not RSS: RSS also counts the pages of the libraries it maps (TensorFlow's
    alone are 500 MB), which every process shares and the kernel can drop and
    read again, and it counts a forked child's copy-on-write pages in full
    again; a submission's allocations are private memory.
    """
    found = _counted(f"/proc/{process.pid}/smaps_rollup", ("Pss_Anon", "Pss_Shmem"))
    if found is None:
        found = resident_memory(process)
    if found is not None:
        return found
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def over_cap(tree, cap):
    """Whether the processes of `tree` hold more than `cap` bytes of their own. Their PSS is
    read (a walk of each one's page tables: 15 ms for a TensorFlow child) only when their
    RSS, which bounds it, comes within the kernel counters' lag of `cap`."""
    resident = [resident_memory(p) for p in tree]
    if None not in resident and sum(resident) <= cap - RSS_COUNTER_LAG:
        return False
    return sum(private_memory(p) for p in tree) > cap
