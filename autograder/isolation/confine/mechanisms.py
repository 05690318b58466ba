"""The mechanisms by name, the guarantees they hold, and what a result says about them.

A mechanism's name is what the confinement reports as applied (or, with the
reason, as missing) and what `GENIMG_CONFINE_SKIP` (comma-separated) names to
leave out; `isolation` turns the reports into the guarantees a grade states
(the text report's first lines, results.json, the Classroom message).
"""

USER_NAMESPACE = "user-namespace"
PID_NAMESPACE = "pid-namespace"
NET_NAMESPACE = "net-namespace"
IPC_NAMESPACE = "ipc-namespace"  # System V objects and POSIX message queues of its own
SCRATCH_TMPFS = "scratch-tmpfs"  # the scratch folder is a size-limited tmpfs
PRIVATE_SHM = "private-shm"
EXPOSED_PYTHON = "exposed-python"  # a private folder that hides the Python installation is bridged
UID = "uid"  # runs as a dedicated unprivileged uid
NO_CAPABILITIES = "no-capabilities"  # root without any capability, where no uid can run Python
NOT_ROOT = "not-root"  # the grader itself is not root
RLIMITS = "rlimits"
SECCOMP_SOCKETS = "seccomp-sockets"
SECCOMP_TCP_ONLY = "seccomp-tcp-only"  # a kernel's: TCP and routing netlink sockets only
LANDLOCK_FS = "landlock-fs"
LANDLOCK_TCP = "landlock-tcp"
LANDLOCK_SCOPE = "landlock-scope"
# What GENIMG_CONFINE_SKIP may name: the namespaces as one, and each restriction.
NAMESPACES = "namespaces"
SKIPPABLE = (NAMESPACES, UID, NO_CAPABILITIES, RLIMITS, SECCOMP_SOCKETS, LANDLOCK_FS)
SKIPPED = "skipped (GENIMG_CONFINE_SKIP)"

GUARANTEES = {
    "writes": "writes only to a fresh scratch folder",
    "answer_key": "the answer key and the grader's files cannot be read",
    "network": "no network and no new sockets",
    "processes": "no process outlives its part, no IPC object its grade",
    "resources": "memory, processes, CPU time and file size limited by the kernel",
    "user": "runs as an unprivileged user",
}

# guarantee -> the mechanisms that each hold it on their own (strongest first); "a+b":
# both together (a kernel's TCP sockets, bound only to its own ports, connecting nowhere).
ENFORCED_BY = {
    "writes": (LANDLOCK_FS,),
    "answer_key": (LANDLOCK_FS,),
    "network": (SECCOMP_SOCKETS, NET_NAMESPACE, f"{SECCOMP_TCP_ONLY}+{LANDLOCK_TCP}"),
    # A dedicated uid: the sweep kills what runs as it and removes the System V objects it owns.
    "processes": (f"{PID_NAMESPACE}+{IPC_NAMESPACE}", UID),
    "resources": (RLIMITS,),
    "user": (UID, NOT_ROOT),
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
