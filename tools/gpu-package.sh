#!/usr/bin/env bash
# Builds, where you develop (nvcc needed, no GPU), everything tools/gpu-check.sh
# runs on a GPU machine, into one git-ignored folder that can be copied there:
#   tools/gpu-package.sh [FOLDER]      (default: gpu-check/ at the repository root)
# The folder holds bin.tar.gz (nmode, the CUDA tests, bench_ode, bench_train,
# bench_attack), gpu-tests.txt (their names), lib/ (the shared libraries a GPU image may lack: Highway, OpenMP's
# libgomp, zlib), data/ (MNIST, gzip-compressed, as nmode reads it), gpu-check.sh
# and MANIFEST; it must stay under 64 MiB. cuBLAS is not copied
# (libcublasLt alone is 540 MB): gpu-check.sh uses the GPU machine's CUDA 13
# runtime libraries.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-gpu-check}
limit_mib=64

if ! [[ -x /usr/local/cuda/bin/nvcc ]] && ! command -v nvcc >/dev/null 2>&1; then
  echo "gpu-package.sh: nvcc not found; the CUDA backend cannot be built here (tools/setup.sh lists what to install)" >&2
  exit 2
fi
for f in data/mnist/train-images-idx3-ubyte data/mnist/train-labels-idx1-ubyte data/mnist/t10k-images-idx3-ubyte data/mnist/t10k-labels-idx1-ubyte; do
  [[ -f $f ]] || { echo "gpu-package.sh: $f missing; run tools/setup.sh --data first" >&2; exit 2; }
done

cmake --preset test-cuda >/dev/null
mapfile -t tests <tools/gpu-tests.txt  # the CUDA tests, one name a line, which gpu-check.sh runs too
cmake --build build/test-cuda -j "$(nproc)" --target nmode_cli bench_ode bench_train bench_attack "${tests[@]}"

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/data/mnist"
cp build/test-cuda/bin/nmode build/test-cuda/bench/bench_ode build/test-cuda/bench/bench_train \
  build/test-cuda/bench/bench_attack "$out/bin/"
for t in "${tests[@]}"; do cp "build/test-cuda/tests/$t" "$out/bin/"; done
strip --strip-debug "$out"/bin/*
# Shared libraries outside the C and C++ runtimes and CUDA that the binaries need.
ldd "$out"/bin/* | awk '/=> \// {print $3}' | sort -u | grep -E 'libhwy|libgomp|libz\.' | xargs -r -I{} cp -L {} "$out/lib/"
for f in data/mnist/*-ubyte; do gzip -9 -c "$f" >"$out/data/mnist/$(basename "$f").gz"; done
cp tools/gpu-check.sh tools/gpu-tests.txt "$out/"
{
  echo "nmode GPU check package"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(/usr/local/cuda/bin/nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || nvcc --version | grep -o 'release [0-9.]*')"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' + local changes')"
  echo "needs on the GPU machine: an NVIDIA driver for CUDA 13, libcublas.so.13 and libcublasLt.so.13"
  (cd "$out" && ls -l bin lib)
} >"$out/MANIFEST"
# Every binary carries the library's kernels for five architectures: gzip folds
# the repeats (54 MiB to 18 MiB for eight binaries); gpu-check.sh unpacks them.
tar -czf "$out/bin.tar.gz" -C "$out" bin
rm -rf "$out/bin"
size_mib=$(($(du -sb "$out" | cut -f1) / 1048576))
if ((size_mib >= limit_mib)); then
  echo "gpu-package.sh: $out is $size_mib MiB, over the $limit_mib MiB a GPU machine's copy allows" >&2
  exit 1
fi
echo "gpu-package.sh: $out ready ($size_mib MiB); on the GPU machine run: $out/gpu-check.sh"
