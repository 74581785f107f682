#!/usr/bin/env bash
# Runs every reproduction script in its --quick mode (tools/experiments/all.sh
# --quick: 1 epoch on 2000 images, 100 test images) into a scratch folder and
# checks what each one promises: table.md with its settings header, a CSV whose
# accuracies lie in [0, 1], and well-formed SVG plots. It guards the scripts
# against rotting while the command line changes; the numbers themselves are not
# judged (one epoch on 2000 images says nothing about robustness).
#   tests/cli/experiments_quick_test.sh path/to/nmode path/to/data
# Exits 77 (CTest: skipped) when the datasets are not there.
set -uo pipefail
nmode=${1:?usage: experiments_quick_test.sh path/to/nmode path/to/data}
data=${2:?usage: experiments_quick_test.sh path/to/nmode path/to/data}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

for dataset in mnist fashion; do
  if [[ ! -f $data/$dataset/t10k-labels-idx1-ubyte && ! -f $data/$dataset/t10k-labels-idx1-ubyte.gz ]]; then
    echo "SKIPPED: dataset '$dataset' not in $data (fetch it with tools/fetch-data.sh)"
    exit 77
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

start=$SECONDS
if ! NMODE_BIN="$nmode" NMODE_DATA="$data" RESULTS_DIR="$work" THREADS=2 \
  "$root/tools/experiments/all.sh" --quick >"$work/log" 2>&1; then
  tail -n 40 "$work/log" >&2
  fail "tools/experiments/all.sh --quick failed"
fi
echo "all.sh --quick ran in $((SECONDS - start)) s"

for name in table2 table3 table5 fashion ablations natural certified; do
  dir="$work/$name"
  if [[ ! -s $dir/table.md ]]; then
    fail "$name: no table.md"
    continue
  fi
  grep -q 'quick' "$dir/table.md" || fail "$name: table.md does not say it is a quick run"
  grep -q '^|' "$dir/table.md" || fail "$name: table.md holds no table"
  csvs=("$dir"/*.csv)
  [[ -s ${csvs[0]} ]] || fail "$name: no CSV"
  for csv in "${csvs[@]}"; do
    [[ -s $csv ]] || continue
    # Every row has as many fields as the header; accuracy columns hold numbers in [0, 1].
    awk -F, -v name="$name" -v file="${csv##*/}" '
      NR == 1 { fields = NF; for (i = 1; i <= NF; ++i) if ($i ~ /accuracy$/) acc[i] = 1; next }
      NF != fields { printf "FAIL: %s/%s line %d has %d fields, header %d\n", name, file, NR, NF, fields; bad = 1 }
      { for (i in acc) if ($i !~ /^[0-9.eE+-]+$/ || $i < 0 || $i > 1) {
          printf "FAIL: %s/%s line %d: accuracy \"%s\" not in [0, 1]\n", name, file, NR, $i; bad = 1 } }
      END { if (NR < 2) { printf "FAIL: %s/%s has no rows\n", name, file; bad = 1 }; exit bad }' "$csv" >&2 ||
      failures=$((failures + 1))
  done
  svgs=("$dir"/*.svg)
  [[ -s ${svgs[0]} ]] || fail "$name: no SVG plot"
  for svg in "${svgs[@]}"; do
    [[ -s $svg ]] || continue
    head -c 200 "$svg" | grep -q '<svg' || fail "$name: ${svg##*/} does not start an SVG document"
    tail -c 20 "$svg" | grep -q '</svg>' || fail "$name: ${svg##*/} is not closed (truncated?)"
  done
done

# An interrupted training resumes from its partial checkpoint: a 1-epoch model stands in for
# a 2-epoch run stopped after its first epoch, and the script must continue it, not restart.
one="$work/models/mnist_model-nmode_hidden-2048_lambda-3_t-end-1_rtol-1e-3_atol-1e-3_epochs-1_limit-2000_batch-256_lr-1e-3_seed-0.safetensors"
if [[ -f $one ]]; then
  partial="${one/_epochs-1_/_epochs-2_}"
  partial="${partial%.safetensors}.partial.safetensors"
  cp "$one" "$partial"
  if ! NMODE_BIN="$nmode" NMODE_DATA="$data" RESULTS_DIR="$work" THREADS=2 EPOCHS=2 MODELS=nmode \
    "$root/tools/experiments/table2.sh" --quick >"$work/resume.log" 2>&1; then
    tail -n 20 "$work/resume.log" >&2
    fail "table2.sh did not continue an interrupted training"
  fi
  grep -q "resuming $partial" "$work/resume.log" || fail "table2.sh did not resume $partial"
  done_epochs=$("$nmode" info --model "${partial%.partial.safetensors}.safetensors" --json 2>/dev/null |
    grep -o '"train.epochs_done": "[0-9]*"' | grep -o '[0-9]*')
  [[ $done_epochs == 2 ]] || fail "the resumed model has ${done_epochs:-no} epochs, want 2"
else
  fail "table2's quick nmODE model $one is missing: resuming not checked"
fi

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all quick experiments wrote their tables, CSVs and plots"
