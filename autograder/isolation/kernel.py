"""The confined kernel: IPython's kernel for `nbgrader autograde`, under the sandbox's rules.

nbgrader runs a student's notebook, test cells included, in a Jupyter kernel of
the instructor's own user. Unconfined, one cell of that notebook can rewrite
the installed kit or grader, plant an IPython start-up file, edit the gradebook
or another student's files, and so change how every later notebook is graded
(docs/NBGRADER_INTEGRITY.md). This kernel is IPython's (`ipykernel`), started
under `autograder.isolation.confine` before IPython loads and before any thread starts:

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
`autograder/isolation/jupyter/kernels/`) and puts it on Jupyter's search path. The
kernel writes the isolation it holds to its stderr (nbgrader's log) when it
starts, and sets it, as JSON, in `GENIMG_KERNEL_ISOLATION`.

`genimg-grade reconcile` stays the second line of defence: confinement stops
writes and escapes, not a cell that rebinds a check in the kernel's memory.
"""

import json
import os
import sys
import tempfile

from autograder.isolation import confine
from autograder.isolation.confine.mechanisms import PID_NAMESPACE, UID
from autograder.isolation.confine.process import can_drop_user
from autograder.limits import Limits

KERNEL_NAME = "genimg-confined"
JUPYTER_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jupyter")
BLOCKED_PACKAGES = ("genimg_ref",)  # the answer key; the grader's hidden checks are the test cells'
PORTS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")


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


def main(argv):
    """`python -m autograder.isolation.kernel -f CONNECTION_FILE [ipykernel's options]`."""
    connection_file = argv[argv.index("-f") + 1]
    with open(connection_file) as f:  # read now: it may lie where the kernel's user cannot
        connection = f.read()
    workdir = os.getcwd()
    plan = confine.Plan.for_graded_code(tempfile.mkdtemp(prefix="genimg-kernel-"), Limits().kernel_bounds(),
                                        writable=[workdir], ports=[json.loads(connection)[p] for p in PORTS])
    keras_home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")  # the datasets' cache
    owner = os.stat(workdir)
    private = os.path.join(plan.scratch, "connection.json")

    def give_back():
        if plan.uid >= 0:
            _lend(workdir, owner.st_uid, owner.st_gid)
        confine.remove_scratch(plan.scratch)

    def prepare(entered):
        # Now the kernel, pid 2 of its namespace.
        given_up = {}
        with open(os.open(private, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(connection)
        if can_drop_user(plan) and PID_NAMESPACE in entered:
            # The kernel's uid gets its files and the notebook's folder, until the waiter
            # outside gives them back (without namespaces there is no waiter: no uid then).
            for path in (plan.scratch, private):
                os.chown(path, plan.uid, plan.gid)
            _lend(workdir, plan.uid, plan.gid)
        elif plan.uid >= 0:
            plan.uid = plan.gid = -1
            given_up[UID] = "no uid of its own: nothing would give the notebook's folder back"
        environment = confine.inherited_environment(os.environ)
        os.environ.clear()
        os.environ.update(environment, HOME=plan.scratch, TMPDIR=plan.scratch, MPLCONFIGDIR=plan.scratch,
                          IPYTHONDIR=os.path.join(plan.scratch, ".ipython"), KERAS_HOME=keras_home,
                          JPY_PARENT_PID="1")  # its parent is pid 1 of its namespace: ipykernel watches no other
        return given_up

    applied, missing = confine.confine(
        plan, BLOCKED_PACKAGES, readable=[workdir, keras_home, plan.scratch],
        packages=("genimg_kit", "autograder", "keras"), expose=[*plan.python, workdir, keras_home],
        network=False, at_exit=give_back, prepare=prepare)
    os.chdir(workdir)
    isolation = confine.isolation(applied, missing)
    os.environ["GENIMG_KERNEL_ISOLATION"] = json.dumps(isolation)
    print(f"[{KERNEL_NAME} kernel] {confine.describe(isolation)}", file=sys.stderr, flush=True)
    argv = [private if arg == connection_file else arg for arg in argv]

    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=argv)


if __name__ == "__main__":
    main(sys.argv[1:])
