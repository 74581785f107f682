#!/usr/bin/env bash
# Runs every experiment in tools/experiments/ one after another (Tables 2, 3
# and 5, Fashion-MNIST, ablations, natural perturbations, certification);
# models trained by one are reused by the next from RESULTS_DIR/models.
#   tools/experiments/all.sh           full runs (hours on a CPU)
#   tools/experiments/all.sh --quick   reduced runs (a few minutes)
# Settings come from the environment (see common.sh); each script writes
# RESULTS_DIR/<name>/table.md, results.csv and its SVG plots.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for arg in "$@"; do
  case "$arg" in
    --quick) ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    *) echo "all.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
start=$SECONDS
for name in table2 table3 table5 fashion ablations natural certified; do
  echo "== $name" >&2
  "$here/$name.sh" "$@"
done
echo "all experiments done in $((SECONDS - start)) s" >&2
