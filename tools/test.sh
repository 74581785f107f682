#!/usr/bin/env bash
# The test command: set up, then build and run every test. The CPU build runs the
# whole suite; when nvcc is present a CUDA build compiles every kernel and runs the
# suite again (GPU tests report SKIPPED with the reason when no GPU is usable).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools/setup.sh --data
cmake --workflow --preset test-cpu
if [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null 2>&1; then
  cmake --workflow --preset test-cuda
else
  echo "test.sh: no nvcc found; CUDA build skipped"
fi
