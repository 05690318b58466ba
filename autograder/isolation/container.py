"""The grading machine's own limits, as its kernel enforces them.

A grading container (Gradescope's default: 768 MB, half a CPU) is a cgroup:
the kernel kills a process of it when the cgroup runs out of memory, and
throttles it to its CPU quota. The grader reads both at start, from cgroup
v2 (`memory.max`, `cpu.max`, `memory.events`) or v1
(`memory.limit_in_bytes`, `cpu.cfs_quota_us`, `memory.oom_control`), along
the path /proc/self/cgroup names, so that a child killed by the container's
OOM killer is reported as what it is: the container's failure, not the
student's.
"""

import dataclasses
import os
import pathlib

import psutil

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")
UNLIMITED = 2**62  # v1 writes "no limit" as a page-rounded 2**63 - 1


@dataclasses.dataclass(frozen=True)
class Container:
    memory_mb: int  # what this process tree may use: the cgroup's limit, or the machine's memory
    cpus: float  # the CPU quota, or the machine's cores
    cgroup: str  # "v2", "v1", or "" when there is none to read
    memory_limited: bool  # whether memory_mb is a cgroup's limit (not the machine's size)
    _oom_files: tuple = ()  # files whose "oom_kill N" lines count the cgroup's OOM kills

    def oom_kills(self):
        """How many processes the kernel has killed for this cgroup's memory; None when unknown."""
        counts = [_oom_kill_count(path) for path in self._oom_files]
        counts = [c for c in counts if c is not None]
        return sum(counts) if counts else None


def _read(path):
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _oom_kill_count(path):
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


def _lineage(root, relative):
    """The cgroup folder and its ancestors up to `root` (a limit of any of them applies)."""
    folder = root / relative.lstrip("/")
    while True:
        if folder.is_dir():
            yield folder
        if folder == root:
            return
        folder = folder.parent


def _cgroups(proc_self="/proc/self/cgroup"):
    """{controller: path} of this process (v2's unified hierarchy under the key "")."""
    paths = {}
    for line in (_read(pathlib.Path(proc_self)) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


def detect(root=CGROUP_ROOT, proc_self="/proc/self/cgroup"):
    """This process's container: its memory and CPU limits, and where the OOM kills are counted."""
    machine_mb = psutil.virtual_memory().total // 2**20
    machine_cpus = float(os.cpu_count() or 1)
    memory, cpus, oom_files, version = None, None, [], ""
    paths = _cgroups(proc_self)
    if "" in paths and (root / "cgroup.controllers").exists():  # v2
        version = "v2"
        for folder in _lineage(root, paths[""]):
            memory = _min(memory, _v2_memory(folder))
            cpus = _min(cpus, _v2_cpus(folder))
        oom_files = [root / paths[""].lstrip("/") / "memory.events"]
    elif "memory" in paths or "cpu" in paths:  # v1
        version = "v1"
        for folder in _lineage(root / "memory", paths.get("memory", "/")):
            memory = _min(memory, _v1_memory(folder))
        cpu_root = next((root / name for name in ("cpu", "cpu,cpuacct") if (root / name).is_dir()), None)
        if cpu_root is not None:
            for folder in _lineage(cpu_root, paths.get("cpu", "/")):
                cpus = _min(cpus, _v1_cpus(folder))
        oom_files = [root / "memory" / paths.get("memory", "/").lstrip("/") / "memory.oom_control"]
    limited = memory is not None and memory < machine_mb
    return Container(memory_mb=min(memory or machine_mb, machine_mb), cpus=min(cpus or machine_cpus, machine_cpus),
                     cgroup=version, memory_limited=limited, _oom_files=tuple(oom_files))


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _v2_memory(folder):
    value = _read(folder / "memory.max")
    return int(value) // 2**20 if value and value != "max" else None


def _v2_cpus(folder):
    quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
    return int(quota) / int(period) if quota != "max" and period else None


def _v1_memory(folder):
    value = _read(folder / "memory.limit_in_bytes")
    return int(value) // 2**20 if value and int(value) < UNLIMITED else None


def _v1_cpus(folder):
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
    return int(quota) / int(period) if quota and period and int(quota) > 0 else None
