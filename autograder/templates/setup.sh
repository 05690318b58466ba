#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs the pinned grading environment into $ROOT/venv:
#   1. a Python >= 3.11 (the bundle was pinned on Python @PYTHON_VERSION@),
#   2. the third-party packages, pinned to the versions the bundle was built
#      and tested with (requirements.txt, made by `genimg-grade gradescope-bundle`),
#   3. the project itself: the two wheels in wheels/ (the student kit; the grader
#      with its hidden checks and the answer key), made by the grader that built this zip.
# Then it grades the answer key once, on this image, and keeps its report
# ($ROOT/reference-grade.txt, with the time it took): a container too small for
# the backend says so here, with the smallest size that works (measured; see
# `genimg-grade limits`), rather than at a student's grade.
# Gradescope settings: base image Ubuntu 24.04 or 22.04; memory 768 MB (the
# default) is enough on TensorFlow, JAX needs 1 GB.
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
if ! "$PIP" install --no-cache-dir -r "$SOURCE/requirements.txt"; then
    # A pinned version may need a newer Python than this image has (Ubuntu 22.04's
    # python3.11 is 3.11.0): take, for each, the newest version up to the pinned one
    # that installs here.
    echo "setup.sh: the exact pins do not install on $("$PYTHON" --version 2>&1); trying each at most its pinned version" >&2
    sed -E 's/==/<=/' "$SOURCE/requirements.txt" >"$ROOT/requirements-upto.txt"
    "$PIP" install --no-cache-dir -r "$ROOT/requirements-upto.txt"
fi
# The project (student kit + grader); its dependencies are pinned and installed above.
"$PIP" install --no-cache-dir --no-deps "$SOURCE"/wheels/*.whl
"$PIP" check || echo "setup.sh: pip check reported the problems above" >&2

# Warm the caches (byte-code, matplotlib's font list) so the first submission is not slower.
MPLBACKEND=Agg "$ROOT/venv/bin/python" -c "import autograder.grade, keras, matplotlib.pyplot" || true
"$ROOT/venv/bin/genimg-grade" --help >/dev/null

# The answer key must score 100 here, within run_autograder's own deadline; exit
# status 3 means this container is too small, 1 that the key lost points (too slow?).
set +e
"$ROOT/venv/bin/genimg-grade" --backend "@BACKEND@" --quiet --fail-under 100 \
    --deadline "$((@TIME_LIMIT@ - @DEADLINE_MARGIN@))" >"$ROOT/reference-grade.txt" 2>&1
status=$?
set -e
head -n 4 "$ROOT/reference-grade.txt"
tail -n 1 "$ROOT/reference-grade.txt"
if [ "$status" -eq 3 ]; then
    echo "setup.sh: WARNING: this container cannot grade on @BACKEND@ (see above): raise its memory" >&2
elif [ "$status" -eq 1 ]; then
    echo "setup.sh: WARNING: the answer key scored below 100 here (see $ROOT/reference-grade.txt):" \
        "a part ran out of time? raise the autograder timeout and --time-limit" >&2
elif [ "$status" -ne 0 ]; then
    echo "setup.sh: WARNING: grading the reference failed (exit status $status): see $ROOT/reference-grade.txt" >&2
fi
echo "setup.sh: genimg grading environment ready in $ROOT/venv"
