#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds and runs separate programs
# against it, as an embedding user would: a find_package(nmode) project (whose compile
# lines must not carry -fopenmp) and a plain compile through pkg-config's nmode.pc.
set -uo pipefail
build=${1:?usage: consumer_test.sh path/to/build-dir version [cuda ON|OFF]}
version=${2:?usage: consumer_test.sh path/to/build-dir version [cuda ON|OFF]}
cuda=${3:-OFF}
# Extra link flags for the consumers, e.g. the sanitizers an instrumented libnmode.a needs.
extra_ldflags=${NMODE_CONSUMER_LDFLAGS:-}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: cmake --install"
  exit 1
fi
if [[ ! -f "$work/prefix/include/nmode/version.hpp" ]]; then
  echo "FAIL: the install has no include/nmode/version.hpp"
  exit 1
fi

# ---- find_package(nmode) ----
if ! cmake -S "$here/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNMODE_EXPECTED_VERSION="$version" \
    -DCMAKE_EXE_LINKER_FLAGS="$extra_ldflags" >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "FAIL: configuring a find_package(nmode) project"
  exit 1
fi
if ! cmake --build "$work/build" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  echo "FAIL: building against the installed nmode"
  exit 1
fi
commands="$work/build/compile_commands.json"
if ! grep -q '"command":.*consumer\.cpp' "$commands" 2>/dev/null; then
  echo "FAIL: no compile command for consumer.cpp in $commands"
  exit 1
fi
if grep -q -- '-fopenmp' "$commands"; then
  cat "$commands"
  echo "FAIL: nmode::nmode gives its consumers -fopenmp at compile time (it should only link OpenMP)"
  exit 1
fi
if ! "$work/build/consumer"; then
  echo "FAIL: the find_package consumer's solve or version check"
  exit 1
fi
echo "ok: an installed nmode builds and runs in a find_package project, without -fopenmp when compiling"

# A CUDA build's package needs the toolkit even for CPU-only use, and says so when it is missing.
if [[ "$cuda" == ON ]]; then
  if cmake -S "$here/consumer" -B "$work/build-nocuda" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON >"$work/nocuda.log" 2>&1; then
    echo "FAIL: find_package(nmode) of a CUDA build succeeded without the CUDA toolkit"
    exit 1
  fi
  if ! grep -q 'built with its CUDA backend' "$work/nocuda.log"; then
    cat "$work/nocuda.log"
    echo "FAIL: find_package(nmode) without the CUDA toolkit does not say why it failed"
    exit 1
  fi
  echo "ok: without the CUDA toolkit, find_package(nmode) of a CUDA build fails and says why"
fi

# ---- pkg-config ----
pc=$(find "$work/prefix" -name nmode.pc -path '*/pkgconfig/*' | head -n 1)
if [[ -z "$pc" ]]; then
  echo "FAIL: the install has no pkgconfig/nmode.pc"
  exit 1
fi
PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
if ! pc_version=$(pkg-config --modversion nmode 2>"$work/pc.log") || [[ "$pc_version" != "$version" ]]; then
  cat "$work/pc.log"
  echo "FAIL: pkg-config --modversion nmode gives '${pc_version:-}', expected $version"
  exit 1
fi
if ! cflags=$(pkg-config --cflags nmode 2>"$work/pc.log") || ! libs=$(pkg-config --libs --static nmode 2>>"$work/pc.log"); then
  cat "$work/pc.log"
  echo "FAIL: pkg-config --cflags --libs --static nmode"
  exit 1
fi
if [[ "$cflags" == *-fopenmp* ]]; then
  echo "FAIL: pkg-config --cflags nmode gives -fopenmp: $cflags"
  exit 1
fi
include_dir=$(pkg-config --variable=includedir nmode)
if [[ "$cflags" != *"-I$include_dir"* ]] || [[ "$(cd "$include_dir" 2>/dev/null && pwd -P)" != "$(cd "$work/prefix/include" && pwd -P)" ]]; then
  echo "FAIL: pkg-config's includedir ($include_dir) is not the install prefix's include/: $cflags"
  exit 1
fi
# shellcheck disable=SC2086  # the flags are meant to split into words
if ! c++ -std=c++17 -O2 -DNMODE_EXPECTED_VERSION="\"$version\"" "$here/consumer/consumer.cpp" -o "$work/consumer-pc" \
    $cflags $libs $extra_ldflags >"$work/pc-build.log" 2>&1; then
  cat "$work/pc-build.log"
  echo "FAIL: building with \`pkg-config --cflags --libs --static nmode\` ($cflags $libs)"
  exit 1
fi
if ! "$work/consumer-pc"; then
  echo "FAIL: the pkg-config consumer's solve or version check"
  exit 1
fi
echo "ok: an installed nmode builds and runs through pkg-config --static ($libs)"
