"""The shipped course, autograded by a normal user from an ordinary shell (issue 25).

An instructor on a shared server runs nbgrader from their own account, not as
root: the course's confined kernel then enters its namespaces through a user
namespace and holds Landlock's rules without a uid to drop to. This test
copies the shipped course (`assignments/`: its `nbgrader_config.py` selects the
confined kernel) into a folder of uid 65534, and as that user, with only PATH
and HOME (whose keras.json picks the backend), runs the real
`nbgrader generate_assignment` and `nbgrader autograde` on two submissions:
the release filled in with the answer key, which must score 100/100, and the
untouched release, which must score 0. Root's run of the same course is
test_notebooks' (tests/as_users.py says what "an ordinary shell" is).
It ran on both backends when it was written (tensorflow 117 s, jax 153 s);
CI runs it on one.
"""

import os
import shutil
import subprocess
import tempfile

import nbformat
import pytest

from autograder.isolation.kernel import KERNEL_NAME
from tests.as_users import NOBODY, as_user, python_for_a_normal_user, shell_environment
from tests.test_notebooks import build, gradebook_scores, solution_submission

# What differs for a normal user is the confinement (a user namespace, no uid to drop to),
# not the backend: CI runs this course on one pass; root's run (test_notebooks) is on both.
pytestmark = [pytest.mark.slow, pytest.mark.one_backend]
STUDENTS = ("solution", "untouched")


@pytest.fixture(scope="module")
def course():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root (to become a normal user) and setpriv")
    python, why = python_for_a_normal_user()
    if python is None:
        pytest.skip(why)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    folder = tempfile.mkdtemp(prefix="genimg-user-course-")
    os.chmod(folder, 0o755)
    root, home = os.path.join(folder, "course"), os.path.join(folder, "home")
    build.make_course(root)
    env = shell_environment(home, backend, python_bin=os.path.join(python, "bin"))
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", root, home], check=True)

    def nbgrader(*args):
        return subprocess.run(as_user(NOBODY, ["python", "-m", "nbgrader", *args]), cwd=root, env=env,
                              capture_output=True, text=True)

    generated = nbgrader("generate_assignment", build.ASSIGNMENT, "--force")
    assert generated.returncode == 0, generated.stderr[-3000:]
    release = nbformat.read(os.path.join(root, "release", build.ASSIGNMENT, build.NOTEBOOK), as_version=4)
    source = nbformat.read(build.SOURCE, as_version=4)
    for student, notebook in (("solution", solution_submission(release, source)), ("untouched", release)):
        path = os.path.join(root, "submitted", student, build.ASSIGNMENT, build.NOTEBOOK)
        os.makedirs(os.path.dirname(path))
        nbformat.write(notebook, path)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", os.path.join(root, "submitted")], check=True)
    autograde = nbgrader("autograde", build.ASSIGNMENT, "--force")
    yield {"log": autograde.stdout + autograde.stderr, "scores": gradebook_scores(root, STUDENTS),
           "python": why}
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(python, ignore_errors=True)


def test_a_normal_user_autogrades_in_the_confined_kernel_with_every_guarantee(course):
    assert f"[{KERNEL_NAME} kernel] isolation: full" in course["log"], course["log"][-3000:]


def test_a_normal_users_course_scores_the_answer_key_100_and_the_release_0(course):
    scores = course["scores"]
    assert scores["solution"]["total"] == pytest.approx(100), (scores, course["log"][-3000:])
    assert scores["untouched"]["total"] == 0, scores
