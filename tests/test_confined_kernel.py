"""nbgrader's autograde in the confined kernel (autograder/isolation/kernel.py, issue 14): notebook
tricks that write outside the notebook, change what later processes import, reach the
network or outlive the kernel fail inside the kernel itself.

One real nbgrader course, autograded once with the course configuration's
`use_confined_kernel`: the two-part notebook of test_integrity, four students in
the order nbgrader takes them. `b_tricks` hands in the plain wrong solution plus
one cell of attacks, each aimed at something the test made for it: a throwaway
copy of the kit, first on the kernel's path (so a trick that got through would
change the copy, not this environment), a folder on that path for a
sitecustomize, an IPython profile folder, the gradebook, a later student's
notebook, the answer key, a TCP and a UDP listener. `c_correct` and `d_wrong`,
autograded after it, must score what their code deserves, and so must the
tricks' own notebook.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import nbformat
import psutil
import pytest

from autograder.isolation.kernel import JUPYTER_DATA, KERNEL_NAME
from tests.test_confinement import ATTEMPT, Listeners
from tests.test_integrity import (ASSIGNMENT, CORRECT_KL, CORRECT_SCHEDULE, NOTEBOOK, PARTS, POINTS, WRONG_KL,
                                  WRONG_SCHEDULE, gradebook_scores, nbgrader, source_notebook, student_notebook)

# The tricks are plain Python and the kernel's confinement is the same for either backend;
# the shipped course in test_notebooks runs the confined kernel on both.
pytestmark = [pytest.mark.slow, pytest.mark.one_backend]
CELL_TIMEOUT = 120

TRICKS = """\
import json, os, socket, sqlite3, subprocess
_aims = json.loads({aims!r})

FULL = "\\nself_check = lambda *args, **kwargs: {points!r}\\n"
attempt("rewrite the installed kit", lambda: open(_aims["kit"], "a").write(FULL))
attempt("a sitecustomize for every later Python", lambda: open(_aims["sitecustomize"], "w").write(
    "import genimg_kit.checks" + FULL.replace("self_check", "genimg_kit.checks.self_check")))
attempt("an IPython start-up file", lambda: (os.makedirs(_aims["startup"], exist_ok=True),
                                          open(os.path.join(_aims["startup"], "00-full.py"), "w").write("x = 1")))
attempt("edit the gradebook", lambda: sqlite3.connect(_aims["gradebook"]).execute(
    "UPDATE grade SET auto_score = 100").connection.commit())
attempt("overwrite a later student's notebook", lambda: open(_aims["later"], "w").write(open(_aims["source"]).read()))
attempt("read the answer key", lambda: open(_aims["answer_key"]).read())
attempt("TCP to a listener", lambda: socket.create_connection(("127.0.0.1", _aims["tcp"]), timeout=2).sendall(b"x"))
attempt("UDP to a listener", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
    b"x", ("127.0.0.1", _aims["udp"])))
attempt("start a process that outlives the kernel", lambda: subprocess.Popen(
    ["sleep", _aims["mark"]], start_new_session=True))
print("OUTCOMES " + json.dumps(outcomes))
"""
OUTLIVE = "start a process that outlives the kernel"  # starting it is allowed; it must be gone afterwards

STUDENTS = {  # in nbgrader's order: the tricks run before c_correct and d_wrong
    "a_correct": (CORRECT_KL, CORRECT_SCHEDULE, False),
    "b_tricks": (WRONG_KL, WRONG_SCHEDULE, True),
    "c_correct": (CORRECT_KL, CORRECT_SCHEDULE, False),
    "d_wrong": (WRONG_KL, WRONG_SCHEDULE, False),
}


def _throwaway_kit(folder):
    """A copy of the installed kit in `folder`, which goes first on the kernel's path."""
    import genimg_kit

    shutil.copytree(pathlib.Path(genimg_kit.__file__).parent, folder / "genimg_kit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "genimg_kit" / "checks" / "__init__.py"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("confined_course")
    # The shipped course's way of choosing the kernel, in a course of our own.
    (root / "nbgrader_config.py").write_text(
        "from autograder.isolation.kernel import use_confined_kernel\n"
        'c = get_config()\nc.CourseDirectory.course_id = "confined"\n'
        f"c.CourseDirectory.root = {str(root)!r}\nuse_confined_kernel(c)\n")
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    nbgrader(root, "generate_assignment", ASSIGNMENT)

    env_copy = tmp_path_factory.mktemp("environment")
    kit = _throwaway_kit(env_copy)
    listeners = Listeners()
    answer_key = pathlib.Path(__file__).resolve().parents[1] / "genimg_ref" / "vae.py"
    later = root / "submitted" / "d_wrong" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    aims = {"kit": str(kit), "sitecustomize": str(env_copy / "sitecustomize.py"),
            "startup": str(env_copy / "ipython" / "profile_default" / "startup"),
            "gradebook": str(root / "gradebook.db"), "later": str(later),
            "source": str(root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"), "answer_key": str(answer_key),
            "tcp": listeners.tcp.getsockname()[1], "udp": listeners.udp.getsockname()[1], "mark": f"7{os.getpid() % 1000}.{os.getpid()}"}
    release = nbformat.read(root / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for student, (kl_body, schedule_body, tricks) in STUDENTS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        extra = ATTEMPT + TRICKS.format(aims=json.dumps(aims), points=POINTS) if tricks else None
        nbformat.write(student_notebook(release, kl_body, schedule_body, extra), folder / f"{NOTEBOOK}.ipynb")
    before = {"kit": kit.read_bytes(), "later": later.read_bytes()}
    assert answer_key.exists() and pathlib.Path(aims["gradebook"]).exists()

    autograde = nbgrader(root, "autograde", ASSIGNMENT, f"--ExecutePreprocessor.timeout={CELL_TIMEOUT}",
                         env={"PYTHONPATH": os.pathsep.join(filter(None, [str(env_copy), os.environ.get("PYTHONPATH")])),
                              "IPYTHONDIR": str(env_copy / "ipython")})
    listeners.close()
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if aims["mark"] in (p.info["cmdline"] or [])]
    scores, _ = gradebook_scores(root, "confined")
    yield {"root": root, "autograde": autograde, "scores": scores, "aims": aims, "before": before,
           "received": listeners.received, "leftovers": leftovers, "kit": kit, "env_copy": env_copy}
    for process in leftovers:
        process.kill()


def in_kernel(course, student):
    return {part: course["scores"][student][f"check_{part}"][0] for part in PARTS}


def outcomes(course):
    notebook = nbformat.read(course["root"] / "autograded" / "b_tricks" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                             as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("OUTCOMES "):
                    return json.loads(line[len("OUTCOMES "):])
    raise AssertionError("the tricks cell printed no outcomes: it did not run")


def test_autograde_ran_every_student_in_the_confined_kernel(course):
    log = course["autograde"].stdout + course["autograde"].stderr
    assert course["autograde"].returncode == 0, log[-4000:]
    assert set(course["scores"]) == set(STUDENTS), log[-4000:]
    assert log.count(f"[{KERNEL_NAME} kernel] isolation: full") == len(STUDENTS), log[-4000:]


def test_every_trick_fails_inside_the_kernel(course):
    print("\n[confined kernel] " + "; ".join(f"{label}: {outcome}" for label, outcome in outcomes(course).items()))
    got_through = {label: outcome for label, outcome in outcomes(course).items()
                   if label != OUTLIVE and not outcome.startswith("blocked: ")}
    assert not got_through, got_through
    assert outcomes(course)[OUTLIVE] == "got through", "the process was not even started: the test proves nothing"


def test_nothing_outside_the_notebook_changed(course):
    assert course["kit"].read_bytes() == course["before"]["kit"]
    assert not (course["env_copy"] / "sitecustomize.py").exists()
    assert not pathlib.Path(course["aims"]["startup"]).exists()
    assert pathlib.Path(course["aims"]["later"]).read_bytes() == course["before"]["later"]
    assert course["received"] == []


def test_no_process_outlives_the_kernel(course):
    assert course["leftovers"] == []


def test_every_student_scores_what_their_code_deserves(course):
    full = {part: POINTS for part in PARTS}
    assert in_kernel(course, "a_correct") == full
    assert in_kernel(course, "c_correct") == full  # graded after the tricks
    wrong = in_kernel(course, "d_wrong")
    assert sum(wrong.values()) < 0.5 * sum(full.values()), wrong
    assert in_kernel(course, "b_tricks") == wrong


def test_the_notebook_folder_is_given_back_to_its_owner(course):
    folder = course["root"] / "autograded" / "b_tricks" / ASSIGNMENT
    owner = os.stat(course["root"]).st_uid
    assert {os.stat(p).st_uid for p in [folder, *folder.rglob("*")]} == {owner}



# Starts a confined kernel as nbgrader does (jupyter_client), prints its pid, and waits.
LAUNCHER = """\
import os, sys, time
os.environ["JUPYTER_PATH"] = sys.argv[1]
from jupyter_client.manager import start_new_kernel
manager, client = start_new_kernel(kernel_name=sys.argv[2], startup_timeout=120)
print(manager.provisioner.process.pid, flush=True)
time.sleep(600)
"""


def test_a_kernel_whose_nbgrader_is_killed_ends_with_it(tmp_path):
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, JUPYTER_DATA, KERNEL_NAME], cwd=tmp_path,
                                stdout=subprocess.PIPE, text=True)
    try:
        waiter = psutil.Process(int(launcher.stdout.readline()))
        tree = [waiter, *waiter.children(recursive=True)]
        assert len(tree) >= 3, tree  # the waiter, pid 1 of the namespace, the kernel
    finally:
        launcher.kill()
        launcher.wait()
    _, alive = psutil.wait_procs(tree, timeout=15)
    assert alive == []
    assert os.stat(tmp_path).st_uid == os.getuid()  # the notebook's folder given back all the same
