#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds and runs a separate
# project against it with find_package(nmode), as an embedding user would.
set -uo pipefail
build=${1:?usage: consumer_test.sh path/to/build-dir}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: cmake --install"
  exit 1
fi
if ! cmake -S "$here/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release \
    >"$work/configure.log" 2>&1; then
  cat "$work/configure.log"
  echo "FAIL: configuring a find_package(nmode) project"
  exit 1
fi
if ! cmake --build "$work/build" >"$work/build.log" 2>&1; then
  cat "$work/build.log"
  echo "FAIL: building against the installed nmode"
  exit 1
fi
if ! "$work/build/consumer"; then
  echo "FAIL: the consumer's solve"
  exit 1
fi
echo "ok: an installed nmode builds and runs in a find_package project"
