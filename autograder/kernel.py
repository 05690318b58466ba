"""The confined kernel: IPython's kernel for `nbgrader autograde`, under the sandbox's rules.

nbgrader runs a student's notebook, test cells included, in a Jupyter kernel of
the instructor's own user. Unconfined, one cell of that notebook can rewrite
the installed kit or grader, plant an IPython start-up file, edit the gradebook
or another student's files, and so change how every later notebook is graded
(docs/NBGRADER_INTEGRITY.md). This kernel is IPython's (`ipykernel`), started
under `autograder.confine` before IPython loads and before any thread starts:

- writes only in the notebook's own folder (nbgrader's
  `autograded/STUDENT/ASSIGNMENT/`) and a fresh scratch folder (a size-limited
  tmpfs: the kernel's HOME, TMPDIR, IPython profile and Matplotlib cache), and
  a private /dev/shm;
- reads everything a notebook needs but the answer key (`genimg_ref`); the
  test cells import the hidden checks, so those stay readable here;
- no network: TCP sockets only, bound only to the five ports of the kernel's
  connection file, connecting nowhere (Landlock), no other socket but routing
  netlink, which ZeroMQ reads interfaces with (seccomp);
- a pid namespace: when the kernel ends, or nbgrader dies, so does every
  process it started;
- of the instructor's environment variables, only those a notebook needs;
- rlimits, and as root the dedicated unprivileged uid of the sandbox (the
  notebook's folder is lent to it while the kernel runs).

The course selects it in `nbgrader_config.py` with `use_confined_kernel(c)`,
which names the kernelspec `genimg-confined` (shipped in
`autograder/jupyter/kernels/`) and puts it on Jupyter's search path. The
kernel writes the isolation it holds to its stderr (nbgrader's log) when it
starts, and sets it, as JSON, in `GENIMG_KERNEL_ISOLATION`.

`genimg-grade reconcile` stays the second line of defence: confinement stops
writes and escapes, not a cell that rebinds a check in the kernel's memory.
"""

import json
import os
import sys
import tempfile

from autograder import confine

KERNEL_NAME = "genimg-confined"
JUPYTER_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jupyter")
BLOCKED_PACKAGES = ("genimg_ref",)  # the answer key; the grader's hidden checks are the test cells'
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
# A notebook's whole run, not one probe: more memory than a sandbox (the chapter's
# notebook trains two models), CPU time for an hour on every core, a larger scratch.
MEMORY_MB = 8192
SCRATCH_MB = 1024


def use_confined_kernel(c):
    """In an nbgrader_config.py: every notebook nbgrader executes runs in this kernel."""
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [JUPYTER_DATA, os.environ.get("JUPYTER_PATH")]))
    c.Execute.kernel_name = KERNEL_NAME


def _lend(folder, uid, gid):
    """Gives `folder` and everything in it to uid:gid."""
    os.chown(folder, uid, gid)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _plan(workdir, ports):
    from autograder.limits import Limits

    limits = Limits()
    uid, gid, python = confine.sandbox_user()
    return confine.Plan(
        tempfile.mkdtemp(prefix="genimg-kernel-"), uid, gid, python, processes=limits.processes,
        cpu_seconds=3600 * (os.cpu_count() or 1), file_mb=SCRATCH_MB, memory_mb=MEMORY_MB,
        skip=[m for m in os.environ.get("GENIMG_CONFINE_SKIP", "").split(",") if m],
        writable=[workdir], ports=ports)


def main(argv):
    """`python -m autograder.kernel -f CONNECTION_FILE [ipykernel's options]`."""
    connection_file = argv[argv.index("-f") + 1]
    with open(connection_file) as f:  # read now: it may lie where the kernel's user cannot
        connection = f.read()
    ports = [json.loads(connection)[name] for name in PORTS]
    workdir = os.getcwd()
    not_root = ["not-root"] if os.geteuid() != 0 else []
    plan = _plan(workdir, ports)
    keras_home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")  # the datasets' cache
    owner = os.stat(workdir)

    def give_back():
        if plan.uid >= 0:
            _lend(workdir, owner.st_uid, owner.st_gid)
        confine.remove_scratch(plan.scratch)

    entered, unentered = confine.enter_namespaces(
        plan.scratch, plan.file_mb, (plan.uid, plan.gid) if plan.uid >= 0 else (os.getuid(), os.getgid()),
        channel=None, expose=[*plan.python, workdir, keras_home], skip="namespaces" in plan.skip,
        network=False, at_exit=give_back)
    # From here on: the kernel, pid 2 of its namespace.
    if "private-shm" in entered:
        plan.writable.append(confine.SHM)
    private = os.path.join(plan.scratch, "connection.json")
    with open(os.open(private, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(connection)
    if confine.can_drop_user(plan) and "pid-namespace" in entered:
        # The kernel's uid gets its files and the notebook's folder, until the waiter
        # outside gives them back (without namespaces there is no waiter: no uid then).
        for path in (plan.scratch, private):
            os.chown(path, plan.uid, plan.gid)
        _lend(workdir, plan.uid, plan.gid)
    elif plan.uid >= 0:
        plan.uid = plan.gid = -1
        unentered["uid"] = "no uid of its own: nothing would give the notebook's folder back"
    argv = [private if arg == connection_file else arg for arg in argv]
    environment = confine.inherited_environment(os.environ)
    os.environ.clear()
    os.environ.update(environment, HOME=plan.scratch, TMPDIR=plan.scratch, MPLCONFIGDIR=plan.scratch,
                      IPYTHONDIR=os.path.join(plan.scratch, ".ipython"), KERAS_HOME=keras_home,
                      JPY_PARENT_PID="1")  # its parent is pid 1 of its namespace: ipykernel watches no other
    readable, listable = confine.readable_paths(BLOCKED_PACKAGES, packages=("genimg_kit", "autograder", "keras"))
    applied, missing = confine.restrict(plan, [*readable, workdir, keras_home, plan.scratch], listable)
    os.chdir(workdir)
    isolation = confine.isolation(entered + applied + not_root,
                                  {**unentered, **missing})
    os.environ["GENIMG_KERNEL_ISOLATION"] = json.dumps(isolation)
    print(f"[{KERNEL_NAME} kernel] {confine.describe(isolation)}", file=sys.stderr, flush=True)

    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
