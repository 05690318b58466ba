#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs the pinned grading environment into $ROOT/venv:
#   1. a Python >= 3.11 (the bundle was pinned on Python @PYTHON_VERSION@),
#   2. the third-party packages, pinned to the versions the bundle was built
#      and tested with (requirements.txt, made by `genimg-grade gradescope-bundle`),
#   3. the project itself from the source in this zip (genimg/: kit, grader, answer key).
# Recommended Gradescope settings: base image Ubuntu 24.04 or 22.04, at least
# 2 GB of memory and 1 CPU (the default 768 MB is too little for TensorFlow/JAX).
set -euo pipefail

ROOT="${GENIMG_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
WANT="@PYTHON_VERSION@"

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

PYTHON="${GENIMG_PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for candidate in "python$WANT" python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            PYTHON="$(command -v "$candidate")"
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    # Ubuntu 22.04 ships Python 3.10; its 3.11 comes from the universe archive.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON="$(command -v python3.11)"
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv"
fi
echo "setup.sh: using $PYTHON ($("$PYTHON" --version 2>&1)); the bundle was pinned on Python $WANT"

"$PYTHON" -m venv "$ROOT/venv"
PIP="$ROOT/venv/bin/pip"
"$PIP" install --no-cache-dir --upgrade pip
"$PIP" install --no-cache-dir -r "$SOURCE/requirements.txt"
# The project (student kit + grader); its dependencies are already pinned above.
"$PIP" install --no-cache-dir -c "$SOURCE/requirements.txt" "$SOURCE/genimg/kit" "$SOURCE/genimg"
"$PIP" check || echo "setup.sh: pip check reported the problems above" >&2

# Warm the caches (byte-code, matplotlib's font list) so the first submission is not slower.
MPLBACKEND=Agg "$ROOT/venv/bin/python" -c "import autograder.grade, keras, matplotlib.pyplot" || true
"$ROOT/venv/bin/genimg-grade" --help >/dev/null
echo "setup.sh: genimg grading environment ready in $ROOT/venv"
