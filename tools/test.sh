#!/usr/bin/env bash
# The test command: set up, then build and run every test, in four stages:
#  1. the CPU build (warnings as errors) runs the whole suite;
#  2. when nvcc is present, a CUDA build compiles every kernel and runs the suite
#     again (GPU tests report SKIPPED with the reason when no GPU is usable);
#  3. the sanitize build runs the library's suite under AddressSanitizer (leaks
#     included) and UBSan;
#  4. when clang's libFuzzer is present, the fuzz build replays each reader's
#     seeds and fuzzes it for NMODE_FUZZ_SECONDS (30 s) with ASan and UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stage_start=$SECONDS
stage_done() {
  echo "test.sh: $1 took $((SECONDS - stage_start)) s"
  stage_start=$SECONDS
}

tools/setup.sh --data
stage_done "setup"
cmake --workflow --preset test-cpu
stage_done "the CPU build and suite"
if [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null 2>&1; then
  cmake --workflow --preset test-cuda
  stage_done "the CUDA build and suite"
else
  echo "test.sh: no nvcc found; CUDA build skipped"
fi
cmake --workflow --preset sanitize
stage_done "the sanitize build and suite"
if command -v clang++-14 >/dev/null 2>&1 && compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  cmake --workflow --preset fuzz
  grep -h "^fuzz summary:" build/fuzz/Testing/Temporary/LastTest.log || true
  stage_done "the fuzz build and fuzzing"
else
  echo "test.sh: clang-14 with libFuzzer not found (tools/setup.sh installs it); fuzzing skipped"
fi
echo "test.sh: all stages passed in $SECONDS s"
