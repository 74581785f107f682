#!/usr/bin/env bash
# Fashion-MNIST (the paper's Fig. 8a): robust accuracy under L∞ PGD as δ grows
# to 0.1, for nmODE, MLP-ReLU, MLP-ReLU + PGD-AT, nmODE + PGD-AT, nmODE + TRADES,
# AT-NODE and ODE-TRADES trained on Fashion-MNIST with the same settings.
#   tools/experiments/fashion.sh           full run: δ ∈ {0.01, 0.02, 0.03, 0.05, 0.075, 0.1}
#   tools/experiments/fashion.sh --quick   reduced run: 1 epoch on 2000 images,
#                                          n = 100, δ ∈ {0.05, 0.1}
# Writes RESULTS_DIR/fashion/: table.md, results.csv, robust-pgd.svg (accuracy vs δ).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SCRIPT_MODELS=("${NMODE_MLP_MODELS[@]}" node-pgd node-trades)  # Fig. 8a: AT-NODE and ODE-TRADES
exp_init fashion "$@"
need_dataset fashion

if ((QUICK)); then EPS=(0.05 0.1); else EPS=(0.01 0.02 0.03 0.05 0.075 0.1); fi
PGD="PGD-$PGD_STEPS"
csv="$OUT_DIR/results.csv"
csv_start "$csv" "dataset,model,seed,$ATTACK_COLUMNS"
pgd_over_comparison_models fashion linf "${EPS[@]}"

md="$OUT_DIR/table.md"
md_start "$md" "Fashion-MNIST, L∞ PGD" "$(
  comparison_settings
  echo "- attack: $PGD, L∞, δ ∈ {$(join_list "${EPS[@]}")} (cross-entropy, step 2.5·δ/$PGD_STEPS, uniform random start, 1 restart); exact configurations at the end"
)"
pivot_md "$csv" model metric accuracy "model" >>"$md"
plot_csv <(csv_filter "$csv" attack pgd clean) "$OUT_DIR/robust-pgd.svg" --x eps --y accuracy --group model \
  --title "Fashion-MNIST: robust accuracy under $PGD (L∞)" --xlabel "δ (L∞; 0 = clean)" --ylabel "accuracy"
md_finish "$md"
