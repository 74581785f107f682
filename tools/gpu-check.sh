#!/usr/bin/env bash
# The one command to run the first time a GPU is at hand. It runs from the folder
# tools/gpu-package.sh built (it compiles nothing), on the GPU machine:
#   gpu-check/gpu-check.sh [REPORT]     (report default: gpu-check-report.txt here)
# It prints the GPU model, driver and clocks, then runs, each with a time limit:
#   1. every CUDA test, with no test SKIPPED;
#   2. the solver on one size past one grid (4·2^20 elements) and one past 2^31
#      (bench-solver: tiles sorted by gamma mod pi, and element order beside it);
#   3. the GPU benchmarks: bench_ode's solver on device-resident data,
#      bench_train's reference-model training step on the GPU (all on the device,
#      against the host-staged step, stage by stage), and bench_attack's PGD, APGD
#      and Square on the device's attack kernels against the host-driven loop;
#   4. one MNIST training epoch on the GPU and on the CPU with the same seed, whose
#      test accuracies must agree within 1 point;
#   5. compute-sanitizer memcheck and racecheck on the solver, model and attack tests
#      (reported UNAVAILABLE where the machine's runtime refuses the tool), last,
#      as the slowest.
# Exit status: 0 every check passed; 1 a check failed; 2 the package is incomplete;
# 3 no usable GPU (nothing was run). Budget: under 6 minutes on a Hopper-class GPU.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
report=${1:-$here/gpu-check-report.txt}
bin=$here/bin
if [[ -f $here/bin.tar.gz ]]; then  # gpu-package.sh packs the binaries
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  tar -xzf "$here/bin.tar.gz" -C "$unpacked" || { echo "gpu-check: $here/bin.tar.gz does not unpack" >&2; exit 2; }
  bin=$unpacked/bin
fi
[[ -f $here/gpu-tests.txt ]] || { echo "gpu-check: $here/gpu-tests.txt missing; build the folder with tools/gpu-package.sh" >&2; exit 2; }
mapfile -t gpu_tests <"$here/gpu-tests.txt"
for f in nmode bench_ode bench_train bench_attack "${gpu_tests[@]}"; do
  [[ -x $bin/$f ]] || { echo "gpu-check: $bin/$f missing; build the folder with tools/gpu-package.sh" >&2; exit 2; }
done

# cuBLAS from the machine: the CUDA toolkit's folder, else the Python wheel's.
libs=$here/lib
for d in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu \
  "$(python3 -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))' 2>/dev/null)"; do
  if [[ -n $d && -e $d/libcublas.so.13 ]]; then libs+=":$d"; break; fi
done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! "$bin/nmode" info >/dev/null 2>"$here/.ldd-error"; then
  echo "gpu-check: $bin/nmode does not start here: $(head -3 "$here/.ldd-error")" >&2
  echo "gpu-check: it needs libcublas.so.13 and libcublasLt.so.13 (CUDA 13); set CUDA_HOME to their toolkit" >&2
  exit 2
fi

info=$("$bin/nmode" info --json)
if [[ $(grep -o '"gpu": *[a-z]*' <<<"$info" | grep -o '[a-z]*$') != true ]]; then
  echo "gpu-check: no usable GPU: $(grep -o '"gpu_reason": *"[^"]*"' <<<"$info" | cut -d'"' -f4)" >&2
  exit 3
fi

: >"$report"
say() { echo "$*" | tee -a "$report"; }
failures=0
# check NAME SECONDS COMMAND...: runs it with a limit, its output into the report.
check() {
  local name=$1 limit=$2 start=$SECONDS status
  shift 2
  timeout "$limit" "$@" >"$here/.out" 2>&1
  status=$?
  cat "$here/.out" >>"$report"
  if ((status == 124)); then say "FAIL  $name: over its $limit s limit"; failures=$((failures + 1))
  elif ((status != 0)); then say "FAIL  $name (exit $status): $(tail -3 "$here/.out" | tr '\n' ' ')"; failures=$((failures + 1))
  else say "ok    $name ($((SECONDS - start)) s)"; fi
  return $status
}

say "nmode GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
[[ -f $here/MANIFEST ]] && say "$(head -3 "$here/MANIFEST")"
say "$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem --format=csv 2>&1)"

# 1. Every CUDA test, none skipped.
for t in "${gpu_tests[@]}"; do
  if check "$t" 120 "$bin/$t" && grep -q "SKIPPED" "$here/.out"; then
    say "FAIL  $t: tests were SKIPPED on a GPU machine: $(grep -m3 "SKIPPED" "$here/.out" | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
done

# 2. Past one grid, and past 2^31 elements.
check "solver, 4*2^20 elements, with sensitivities" 60 "$bin/nmode" bench-solver --device cuda --n 4194304 --sens --repeat 3
check "solver, 2^31 + 2^20 elements" 180 "$bin/nmode" bench-solver --device cuda --n 2148532224 --repeat 1

# 3. Kernel time on device-resident data; the training step's stages.
check "bench_ode (GPU)" 120 "$bin/bench_ode" --benchmark_filter=Cuda --benchmark_min_time=0.2
check "bench_train (GPU step)" 60 "$bin/bench_train" --benchmark_filter=Cuda --benchmark_min_time=0.5
check "bench_attack (GPU attacks)" 90 "$bin/bench_attack" --benchmark_filter=Cuda --benchmark_min_time=0.2

# 4. One MNIST epoch on each device, same seed.
data=$(mktemp -d)  # the checkpoints; nmode reads the gzip-compressed MNIST as it is
accuracy() { grep -o '"test_accuracy": *[0-9.e-]*' "$here/.out" | tail -1 | awk '{print $2}'; }
gpu_acc="" cpu_acc=""
check "train 1 epoch, cuda" 90 "$bin/nmode" train --data-dir "$here/data" --epochs 1 --device cuda --json --out "$data/gpu.safetensors" && gpu_acc=$(accuracy)
check "train 1 epoch, cpu" 150 "$bin/nmode" train --data-dir "$here/data" --epochs 1 --device cpu --json --out "$data/cpu.safetensors" && cpu_acc=$(accuracy)
if [[ -n $gpu_acc && -n $cpu_acc ]]; then
  if awk -v g="$gpu_acc" -v c="$cpu_acc" 'BEGIN { d = g - c; exit !(d < 0.01 && d > -0.01) }'; then
    say "ok    test accuracy after 1 epoch: cuda $gpu_acc, cpu $cpu_acc"
  else
    say "FAIL  test accuracy after 1 epoch differs by more than 1 point: cuda $gpu_acc, cpu $cpu_acc"; failures=$((failures + 1))
  fi
fi
rm -rf "$data"

# 5. Memory and race checks, where the runtime lets compute-sanitizer in.
if command -v compute-sanitizer >/dev/null 2>&1; then
  for tool in memcheck racecheck; do
    for t in test_ode_cuda test_cuda_model test_cuda_attack; do
      timeout 60 compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin/$t" >"$here/.out" 2>&1
      status=$?
      cat "$here/.out" >>"$report"
      if grep -q "Device not supported\|Unable to find injection library" "$here/.out" && ((status != 9)); then
        say "UNAVAILABLE  compute-sanitizer $tool $t: the runtime refused the tool"
      elif ((status != 0)); then
        say "FAIL  compute-sanitizer $tool $t (exit $status)"; failures=$((failures + 1))
      else say "ok    compute-sanitizer $tool $t"; fi
    done
  done
else
  say "UNAVAILABLE  compute-sanitizer: not on the PATH"
fi

rm -f "$here/.out" "$here/.ldd-error"

say "gpu-check: $failures check(s) failed; report: $report"
((failures == 0)) || exit 1
