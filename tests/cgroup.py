"""Runs a command in a cgroup sized like a grading container (root only).

Gradescope's default container is 768 MB of memory and half a CPU. Here a
fresh cgroup v1 (memory, cpu) or v2 child gets those limits, the command
runs in it, and the cgroup's peak memory comes back. Used by the container
tests and by bench/container_fit.py.
"""

import dataclasses
import os
import pathlib
import subprocess
import uuid

ROOT = pathlib.Path("/sys/fs/cgroup")


@dataclasses.dataclass
class Run:
    completed: subprocess.CompletedProcess
    peak_mb: int  # the cgroup's peak memory (v1: max_usage_in_bytes, v2: memory.peak)
    oom_kills: int


def unavailable():
    """Why no cgroup can be made here, or "" when one can."""
    if os.geteuid() != 0:
        return "needs root to create a cgroup"
    if (ROOT / "cgroup.controllers").exists():
        return "" if os.access(ROOT, os.W_OK) else "the cgroup v2 hierarchy is read-only"
    if not os.access(ROOT / "memory", os.W_OK) or not os.access(ROOT / "cpu", os.W_OK):
        return "the cgroup v1 memory and cpu controllers are not writable"
    return ""


def _folders(name):
    if (ROOT / "cgroup.controllers").exists():
        return [ROOT / name]
    return [ROOT / "memory" / name, ROOT / "cpu" / name]


def _limit(folder, memory_mb, cpus):
    period = 100_000
    files = {
        "memory.limit_in_bytes": memory_mb * 2**20, "memory.memsw.limit_in_bytes": memory_mb * 2**20,
        "cpu.cfs_period_us": period, "cpu.cfs_quota_us": int(cpus * period) if cpus else -1,
        "memory.max": memory_mb * 2**20, "memory.swap.max": 0,
        "cpu.max": f"{int(cpus * period)} {period}" if cpus else f"max {period}",
    }
    for name, value in files.items():
        if (folder / name).exists():
            (folder / name).write_text(str(value))


def _peak(folders):
    for folder in folders:
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            if (folder / name).exists():
                return int((folder / name).read_text()) // 2**20
    return 0


def _oom_kills(folders):
    for folder in folders:
        for name in ("memory.oom_control", "memory.events"):
            if (folder / name).exists():
                for line in (folder / name).read_text().splitlines():
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
    return 0


def run(command, memory_mb, cpus=None, timeout=900, **kwargs):
    """Runs `command` (a list) with `memory_mb` of memory and `cpus` CPUs (None: no quota)."""
    folders = _folders(f"genimg-test-{uuid.uuid4().hex[:8]}")
    for folder in folders:
        folder.mkdir()
        _limit(folder, memory_mb, cpus)
    procs = " ".join(f"echo $$ > {folder / 'cgroup.procs'};" for folder in folders)
    try:
        completed = subprocess.run(["sh", "-c", f'{procs} exec "$@"', "sh", *command], capture_output=True,
                                   text=True, timeout=timeout, **kwargs)
        return Run(completed, _peak(folders), _oom_kills(folders))
    finally:
        for folder in folders:
            try:
                folder.rmdir()
            except OSError:
                pass
