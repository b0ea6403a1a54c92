#!/usr/bin/env bash
# The CUDA build's check on a GPU machine, in one short run (under 5 minutes on an H200 with 16
# cores): builds foveal with FOVEAL_CUDA=ON (sm_90) into a temporary folder, runs the GPU tests
# against the CPU ops (tests/test_cuda_gpu.py, and the host-run kernel bodies of
# tests/test_cuda_build.py), then times conv2d forward/backward and pooling on the GPU against
# foveal's CPU kernels and cuDNN (bench/bench_cuda.py). Results go to $OUT when it is set
# (build.log, tests.log, bench.json, summary.txt), else to a temporary folder it prints.
#
#   bash tools/gpu_check.sh            # from the repository root
#   QUICK=1 bash tools/gpu_check.sh    # fewer timing repetitions, no CPU timings
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
WORK="$(mktemp -d)"
PY="${PYTHON:-python3}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
export PYTHONUNBUFFERED=1
summary="$OUT/summary.txt"
: > "$summary"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$summary" 2>&1 || true

t0=$(date +%s)
if ! "$PY" -m pip install --no-deps --no-build-isolation --target "$WORK/site" -Cbuild-dir="$WORK/build" \
    -Ccmake.define.FOVEAL_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90 . > "$OUT/build.log" 2>&1; then
  echo "build FAILED after $(( $(date +%s) - t0 )) s (see build.log)" | tee -a "$summary"
  tail -40 "$OUT/build.log"
  exit 1
fi
echo "build ok in $(( $(date +%s) - t0 )) s" | tee -a "$summary"
export PYTHONPATH="$WORK/site"

t0=$(date +%s)
"$PY" -m pytest -q -p no:cacheprovider -o addopts="-ra" tests/test_cuda_gpu.py tests/test_cuda_build.py \
  -k "not compiles_and_imports" 2>&1 | tee "$OUT/tests.log" | tail -25
tests_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc in $(( $(date +%s) - t0 )) s: $(tail -1 "$OUT/tests.log")" | tee -a "$summary"

t0=$(date +%s)
"$PY" bench/bench_cuda.py --out "$OUT/bench.json" ${QUICK:+--quick} 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "bench rc=$bench_rc in $(( $(date +%s) - t0 )) s" | tee -a "$summary"
echo "results in $OUT"
exit $(( tests_rc != 0 || bench_rc != 0 ))
