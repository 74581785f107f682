#!/usr/bin/env bash
# Builds tests/consumer_subdirectory/, a project that adds the nmode source tree with
# add_subdirectory (CPU only) and links nmode::nmode, then runs its consumer: nmode
# embedded from source must build without its tests, benchmarks or CLI.
set -uo pipefail
source_dir=${1:?usage: subdirectory_test.sh path/to/nmode-source version}
version=${2:?usage: subdirectory_test.sh path/to/nmode-source version}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# What is checked here is the embedding, not the SIMD targets (the project's own
# builds compile and test every one): AVX2 and the portable baseline keep the
# from-scratch build of the library to half its time.
simd_disabled="(HWY_SSSE3|HWY_SSE4|HWY_AVX3)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! cmake -S "$here/consumer_subdirectory" -B "$work/build" -DNMODE_SOURCE_DIR="$source_dir" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNMODE_EXPECTED_VERSION="$version" \
    -DNMODE_SIMD_DISABLED_TARGETS="$simd_disabled" \
    >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "FAIL: configuring a project that adds nmode with add_subdirectory"
  exit 1
fi
# Only the consumer and what it needs (the library); nmode's own targets are EXCLUDE_FROM_ALL.
if ! cmake --build "$work/build" --target consumer -j 2 >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log"
  echo "FAIL: building nmode::nmode as a subdirectory and the consumer"
  exit 1
fi
for built in bin/nmode tests/test_ode bench/bench_ode; do
  if [[ -e "$work/build/nmode_build/$built" ]]; then
    echo "FAIL: building the consumer also built nmode's $built"
    exit 1
  fi
done
commands="$work/build/compile_commands.json"
if ! grep -q '"command":.*consumer\.cpp' "$commands" 2>/dev/null; then
  echo "FAIL: no compile command for consumer.cpp in $commands"
  exit 1
fi
# nmode's own sources compile with -fopenmp; the consumer's compile line must not.
if grep '"command":.*consumer\.cpp' "$commands" | grep -q -- '-fopenmp'; then
  echo "FAIL: nmode::nmode gives the subdirectory consumer -fopenmp at compile time"
  exit 1
fi
if ! "$work/build/consumer"; then
  echo "FAIL: the subdirectory consumer's solve or version check"
  exit 1
fi
echo "ok: nmode added with add_subdirectory builds (library only) and runs in a consumer"
