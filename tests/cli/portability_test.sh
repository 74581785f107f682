#!/usr/bin/env bash
# One build runs everywhere: the default build's nmode and solver tests under QEMU
# user-mode emulation of older CPUs, where run-time dispatch must pick the best
# target each supports by itself: Nehalem (SSE4.2 without AES/CLMUL, which
# Highway's SSE4 target also requires) the scalar baseline, Westmere SSE4, Haswell
# AVX2 + FMA.
# An instruction the CPU lacks anywhere on the path (a kernel, or an inline
# function a wider target compiled and the linker shared) ends the run with SIGILL.
# QEMU emulates no AVX-512; that target runs natively where the machine has it.
#   tests/cli/portability_test.sh path/to/nmode path/to/test_ode
# Exits 77 (skipped) when qemu-x86_64-static is not installed.
set -uo pipefail
nmode=${1:?usage: portability_test.sh path/to/nmode path/to/test_ode}
test_ode=${2:?usage: portability_test.sh path/to/nmode path/to/test_ode}
qemu=$(command -v qemu-x86_64-static) || { echo "SKIPPED: qemu-x86_64-static not installed (Debian qemu-user-static)"; exit 77; }
[[ $(uname -m) == x86_64 ]] || { echo "SKIPPED: not an x86-64 machine"; exit 77; }
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

for case in Nehalem:scalar Westmere:sse4 Haswell:avx2; do
  cpu=${case%%:*} want=${case##*:}
  got=$(timeout 120 "$qemu" -cpu "$cpu" "$nmode" info --json 2>/dev/null | jq -r .simd_target) || got="(crashed: $?)"
  [[ $got == "$want" ]] && echo "ok: -cpu $cpu picks $got" || fail "-cpu $cpu picked '$got', want $want"
  # The paper's Table 1 case: lambda = 5, t = 1, gamma = 0.2222 gives y = 0.0104 (float, tol 1e-3).
  if out=$(timeout 120 "$qemu" -cpu "$cpu" "$nmode" solve --lambda 5 --t-end 1 --gamma 0.2222 2>&1) &&
     grep -q " 0\.01044" <<<"$out"; then
    echo "ok: -cpu $cpu solves Table 1"
  else
    fail "-cpu $cpu nmode solve: $out"
  fi
  if timeout 900 "$qemu" -cpu "$cpu" "$test_ode" --gtest_brief=1 >"${TMPDIR:-/tmp}/portability.$$" 2>&1; then
    echo "ok: -cpu $cpu test_ode passes ($(grep -c . "${TMPDIR:-/tmp}/portability.$$") lines of output)"
  else
    fail "-cpu $cpu test_ode: $(tail -5 "${TMPDIR:-/tmp}/portability.$$")"
  fi
  rm -f "${TMPDIR:-/tmp}/portability.$$"
done

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all portability checks passed"
