#!/usr/bin/env bash
# Fuzzes one target for a bounded time, starting from the committed seeds. New
# inputs go to a build folder, never into the source tree; a crashing input is
# kept beside it and named in the failure. Prints one summary line.
# Usage: run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
name=$(basename "$fuzzer")
mkdir -p "$work"
log="$work.log"
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work" "$seeds" >"$log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  tail -n 60 "$log" >&2
  echo "$name: FAILED (exit $status); the input that failed is in $work/ (crash-*, leak-*, timeout-*)" >&2
  exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$done_line")
echo "fuzz summary: $name ran ${runs:-?} inputs in ${seconds} s; coverage ${cov:-?} edges, ${ft:-?} features; corpus ${corpus:-?} inputs"
