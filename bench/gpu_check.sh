#!/usr/bin/env bash
# The GPU check: the `gpu` convergence profile and the benchmarks, on one GPU,
# within 8 minutes (4 per backend that sees a GPU), then the chapter notebook
# at the `full` budget on the first backend that sees it, each cell capped at
# 2 minutes (at most 6 minutes in all); the figures go to one markdown file,
# the notebook's images to OUT_DIR/gallery/.
#
#     bash bench/gpu_check.sh [OUT_DIR]        (default: $OUT, else bench/gpu_out)
#
# Uses the project where `genimg-grade` is on the PATH, with a GPU build of at
# least one backend (jax[cuda12] or tensorflow[and-cuda]); backends that see
# no GPU are skipped and said so. Elsewhere (a lent GPU machine without a
# network) it installs the project into a venv over the system's packages
# (their CUDA builds), with the missing packages brought as wheels in .whl/.
# Every step has its own time limit, so one slow step cannot eat the rest.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-bench/gpu_out}}
mkdir -p "$out"
figures="$out/gpu_figures.md"
export PYTHONUNBUFFERED=1 GENIMG_OFFLINE=1

if ! command -v genimg-grade >/dev/null 2>&1; then
  # Not PYTHONPATH: the grader's sandbox runs `python -I`, which ignores it.
  python3 -m venv --system-site-packages /tmp/genimg-venv
  . /tmp/genimg-venv/bin/activate
  wheels=$(ls .whl/*.whl 2>/dev/null || true)
  [ -z "$wheels" ] || python3 -m pip install -q --no-index --no-deps $wheels
  # The project's own wheels may be among them (`pip wheel --no-deps -w .whl ./kit .`
  # where the machine cannot build them); otherwise build from this tree.
  command -v genimg-grade >/dev/null 2>&1 \
    || python3 -m pip install -q --no-index --no-deps --no-build-isolation ./kit . \
    || { echo "could not install the project" >&2; exit 1; }
fi

step() {  # step SECONDS TITLE COMMAND...: run, time, and append its output to the figures
  local limit=$1 title=$2; shift 2
  local started=$SECONDS
  echo "### $title" >>"$figures"
  echo '```' >>"$figures"
  timeout "$limit" "$@" 2>&1 | grep -v -E "^(WARNING|W0000|I0000|E0000)" | tee -a "$figures"
  local status=${PIPESTATUS[0]}
  echo '```' >>"$figures"
  echo "exit status $status, $((SECONDS - started)) s (limit $limit s)" >>"$figures"
  echo >>"$figures"
}

{
  echo "# genimg GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- machine: $(nproc) CPUs; $(nvidia-smi -L 2>/dev/null | head -1 || echo 'nvidia-smi: none')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
} >"$figures"

gpu_backends=()
for backend in jax tensorflow; do
  seen=$(KERAS_BACKEND=$backend timeout 120 python3 -c \
    "from genimg_kit.probes.device import accelerator; print(accelerator())" 2>/dev/null | tail -1)
  if [ "$seen" != gpu ]; then
    echo "## $backend: no GPU visible to this backend (${seen:-import failed}); skipped" >>"$figures"
    continue
  fi
  echo "## $backend" >>"$figures"
  gpu_backends+=("$backend")
  export KERAS_BACKEND=$backend
  # 1. Grade the reference with the gpu profile (must score 100), with a stage breakdown.
  step 130 "grade the reference, gpu profile" \
    python3 bench/grade_reference.py --repeats 1 --backends "$backend" --profile gpu
  # 2. The reference's spread at the gpu budget: the bands' margin on this GPU.
  step 60 "reference spread, gpu profile" python3 bench/convergence_spread.py --profile gpu --seeds 0,1
  # 3. Compiled sampler vs the chapter's eager loop.
  step 25 "compiled sampler vs eager loop" python3 bench/sampler_speed.py --repeats 5
  # 4. Reference training step vs the chapter's code as printed.
  step 25 "training step, reference vs chapter" python3 bench/training_step.py --steps 20
done

# 5. The notebook at the chapter's full budget, training for a fixed time: the figures it promises.
if [ ${#gpu_backends[@]} -eq 0 ]; then
  echo "## notebook, full budget: no backend sees a GPU; skipped" >>"$figures"
else
  echo "## notebook, full budget (${gpu_backends[0]})" >>"$figures"
  step 360 "the notebook at the full budget, cells capped at 120 s" \
    python3 bench/notebook_budget.py --budget full --backend "${gpu_backends[0]}" --cell-timeout 120 \
      --gallery --gallery-dir "$out/gallery"
fi
echo "figures written to $figures"
