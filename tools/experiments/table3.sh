#!/usr/bin/env bash
# Table 3 of the paper: robust accuracy on MNIST under L2 PGD at δ ∈ {0.1, 0.2}
# for the models of Table 2 (nmODE, MLP-ReLU, MLP-ReLU + PGD-AT, nmODE + PGD-AT,
# nmODE + TRADES), reusing the models table2.sh trained when they are cached.
#   tools/experiments/table3.sh           full run (settings: see common.sh)
#   tools/experiments/table3.sh --quick   reduced run: 1 epoch on 2000 images, n = 100
# Writes RESULTS_DIR/table3/: table.md, results.csv, robust-pgd-l2.svg.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SCRIPT_MODELS=("${NMODE_MLP_MODELS[@]}")  # the neural-ODE baselines are compared in table2 and fashion
exp_init table3 "$@"
need_dataset mnist

EPS=(0.1 0.2)
PGD="PGD-$PGD_STEPS"
csv="$OUT_DIR/results.csv"
csv_start "$csv" "dataset,model,seed,$ATTACK_COLUMNS"
pgd_over_comparison_models mnist l2 "${EPS[@]}"

md="$OUT_DIR/table.md"
md_start "$md" "Table 3: MNIST, L2 PGD" "$(
  comparison_settings
  echo "- attack: $PGD, L2, δ ∈ {$(join_list "${EPS[@]}")} (cross-entropy, step 2.5·δ/$PGD_STEPS, random start in the L2 ball, 1 restart); exact configurations at the end"
)"
pivot_md "$csv" model metric accuracy "model" >>"$md"
plot_csv "$csv" "$OUT_DIR/robust-pgd-l2.svg" --x eps --y accuracy --group model \
  --title "MNIST: robust accuracy under $PGD (L2)" --xlabel "δ (L2; 0 = clean)" --ylabel "accuracy"
md_finish "$md"
