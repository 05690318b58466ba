"""Running the project's commands the way its users do: from an ordinary shell.

An instructor's shell has a PATH (with the course's Python first, as an
activated venv puts it) and a HOME, and picks the Keras backend in
`~/.keras/keras.json`; it has none of the variables a test suite tends to
set (`MPLBACKEND`, `GENIMG_OFFLINE`, `TF_CPP_MIN_LOG_LEVEL`, ...). The
end-to-end tests (and bench/nbgrader_autograde.py) run their commands in
exactly that environment, as root (CI, Gradescope) or as a normal user
(an instructor's account on a shared server).
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from autograder.isolation import confine

SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
NOBODY = 65534  # the unprivileged uid the tests become


def shell_environment(home, backend, python_bin=None):
    """{PATH, HOME}: an ordinary shell's environment, with `backend` chosen in
    HOME/.keras/keras.json and `python_bin` (default: this Python's folder) first on PATH."""
    os.makedirs(os.path.join(home, ".keras"), exist_ok=True)
    with open(os.path.join(home, ".keras", "keras.json"), "w") as f:
        json.dump({"backend": backend, "floatx": "float32", "epsilon": 1e-07,
                   "image_data_format": "channels_last"}, f)
    return {"PATH": os.pathsep.join([python_bin or os.path.dirname(sys.executable), SYSTEM_PATH]), "HOME": home}


def python_for_a_normal_user(uid=NOBODY):
    """(folder, why): a world-readable folder with a venv (its `bin/`) that user `uid` can
    run, seeing this environment's packages; (None, why not) where there is none.

    This Python serves when other users can read it. Otherwise (pyenv's under /root) a
    system Python of the same version gets a venv in a world-readable folder whose
    `.pth` file adds this environment's site-packages as a site folder: the same
    packages, installed the same way (the kit, the grader and the answer key included)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    packages = list(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    if not confine.python_readable_by_others(packages):
        return None, f"other users cannot read this environment's packages ({', '.join(packages)})"
    candidates = [os.path.realpath(sys.executable), shutil.which(f"python{version}", path=SYSTEM_PATH)]
    python = next((p for p in candidates if p and confine.python_readable_by_others([p])), None)
    if python is None:
        return None, f"no Python {version} that other users can run"
    folder = tempfile.mkdtemp(prefix="genimg-user-python-")
    os.chmod(folder, 0o755)
    subprocess.run([python, "-m", "venv", "--without-pip", folder], check=True)
    purelib = subprocess.run([os.path.join(folder, "bin", "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(purelib, "genimg-environment.pth"), "w") as f:
        # As a site folder: its own .pth files (an editable install's finders) run too.
        f.write("".join(f"import site; site.addsitedir({p!r})\n" for p in packages))
    # This environment's commands (nbgrader runs `alembic`, say), started by the new Python.
    here = os.path.dirname(sys.executable)
    for name in os.listdir(here):
        with open(os.path.join(here, name), "rb") as f:
            first, rest = f.readline(), f.read()
        target = os.path.join(folder, "bin", name)
        if first.startswith(b"#!") and b"python" in first and not os.path.exists(target):
            with open(target, "wb") as f:
                f.write(b"#!" + os.path.join(folder, "bin", "python").encode() + b"\n" + rest)
            os.chmod(target, 0o755)
    subprocess.run(["chmod", "-R", "a+rX", folder], check=True)
    return folder, f"{python} with this environment's packages"


def as_user(uid, command):
    """`command` (a list) run as `uid`:`uid` with no supplementary group (setpriv)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]
