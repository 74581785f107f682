#!/usr/bin/env bash
# Ablations of the nmODE model on MNIST: the integration time t̄ ∈ {0.05, 0.1,
# 0.5, 1, 2, 5} (width HIDDEN) and the hidden width ∈ {256, 512, 1024, 2048,
# 4096} (t̄ = T_END), each under L∞ PGD and APGD-CE at δ = 0.05.
#   tools/experiments/ablations.sh           full run (settings: see common.sh)
#   tools/experiments/ablations.sh --quick   reduced run: 1 epoch on 2000 images, n = 100
# Writes RESULTS_DIR/ablations/: table.md, results.csv, robust-vs-t-end.svg,
# robust-vs-hidden.svg.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exp_init ablations "$@"
need_dataset mnist

T_ENDS=(0.05 0.1 0.5 1 2 5)
WIDTHS=(256 512 1024 2048 4096)
DELTA=0.05
PGD="PGD-$PGD_STEPS" APGD="APGD-$APGD_STEPS"
csv="$OUT_DIR/results.csv"
csv_start "$csv" "sweep,value,model,seed,$ATTACK_COLUMNS"

# measure SWEEP VALUE LABEL: trains (or reuses) the model in FLAGS and attacks it.
measure() {
  local seed prefix
  for seed in $SEEDS; do
    ensure_model mnist "$seed" "${FLAGS[@]}"
    prefix=$(csv_row "$1" "$2" "$3" "$seed")
    run_attack "$csv" "$prefix" mnist "$MODEL" "$PGD" --attack pgd --norm linf --steps "$PGD_STEPS" --eps "$DELTA"
    run_attack "$csv" "$prefix" mnist "$MODEL" "$APGD" --attack apgd --norm linf --steps "$APGD_STEPS" --eps "$DELTA"
  done
}
for t in "${T_ENDS[@]}"; do
  nmode_flags "$t" "$HIDDEN"
  measure t_end "$t" "t̄ = $t"
done
for h in "${WIDTHS[@]}"; do
  nmode_flags "$T_END" "$h"
  measure hidden "$h" "width $h"
done

md="$OUT_DIR/table.md"
md_start "$md" "Ablations: integration time and width of nmODE, MNIST" "$(
  echo "- nmODE: 784 → Linear(width) → nmODE(λ = $LAMBDA, t̄; DP5(4) solver rtol = $RTOL, atol = $ATOL) → Linear(10); t̄ sweep at width $HIDDEN, width sweep at t̄ = $T_END"
  echo "- attacks: $PGD and $APGD (APGD-CE), L∞, δ = $DELTA, 1 restart each; exact configurations at the end"
)"
{
  echo "Integration time t̄ (width $HIDDEN):"
  echo
  pivot_md <(csv_filter "$csv" sweep t_end) value metric accuracy "t̄"
  echo
  echo "Hidden width (t̄ = $T_END):"
  echo
  pivot_md <(csv_filter "$csv" sweep hidden) value metric accuracy "width"
} >>"$md"
plot_csv <(csv_filter "$csv" sweep t_end) "$OUT_DIR/robust-vs-t-end.svg" --x value --y accuracy --group metric \
  --log-x --title "nmODE on MNIST: accuracy vs integration time (width $HIDDEN)" --xlabel "t̄ (log scale)" \
  --ylabel "accuracy"
plot_csv <(csv_filter "$csv" sweep hidden) "$OUT_DIR/robust-vs-hidden.svg" --x value --y accuracy --group metric \
  --log-x --title "nmODE on MNIST: accuracy vs width (t̄ = $T_END)" --xlabel "hidden width (log scale)" \
  --ylabel "accuracy"
md_finish "$md"
