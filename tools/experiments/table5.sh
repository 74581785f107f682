#!/usr/bin/env bash
# Table 5 of the paper: nmODE against nmODE+ (weight decay 1e-5, 1e-4, 1e-3,
# plus the nmODE+ weight clip and stability penalty) at λ = 3, t̄ = 0.05 on
# MNIST: clean accuracy, L∞ PGD accuracy at δ = 0.05, and the robust ratio
# (robust / clean), with the paper's nmODE numbers beside ours.
#   tools/experiments/table5.sh           full run (settings: see common.sh)
#   tools/experiments/table5.sh --quick   reduced run: 1 epoch on 2000 images, n = 100
# Writes RESULTS_DIR/table5/: table.md, results.csv, robust-vs-weight-decay.svg.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exp_init table5 "$@"
need_dataset mnist

T5_T_END=${T5_T_END:-0.05}  # the paper's setting for this table
DELTA=0.05
WEIGHT_DECAYS=(1e-5 1e-4 1e-3)
PGD="PGD-$PGD_STEPS"
csv="$OUT_DIR/results.csv"
csv_start "$csv" "dataset,model,weight_decay,seed,$ATTACK_COLUMNS"
for wd in 0 "${WEIGHT_DECAYS[@]}"; do
  if [[ $wd == 0 ]]; then
    nmode_flags "$T5_T_END" "$HIDDEN"
    label="nmODE"
  else
    nmode_plus_flags "$T5_T_END" "$wd"
    label="nmODE⁺ wd=$wd"
  fi
  for seed in $SEEDS; do
    ensure_model mnist "$seed" "${FLAGS[@]}"
    run_attack "$csv" "$(csv_row mnist "$label" "$wd" "$seed")" mnist "$MODEL" "$PGD" \
      --attack pgd --norm linf --steps "$PGD_STEPS" --eps "$DELTA"
  done
done

# The robust ratio per model and seed, as rows of its own.
ratio_rows=$(awk -F, -v OFS=, -v pgd="$PGD δ=$DELTA" -v delta="$DELTA" '
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  {
    key = $c["dataset"] OFS $c["model"] OFS $c["weight_decay"] OFS $c["seed"]
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if ($c["metric"] == "clean") clean[key] = $c["accuracy"]
    if ($c["metric"] == pgd) rob[key] = $c["accuracy"]
  }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (clean[k] > 0 && (k in rob)) print k, "ratio", "linf", delta, "robust/clean", rob[k] / clean[k]
    }
  }' "$csv")
echo "$ratio_rows" >>"$csv"

md="$OUT_DIR/table.md"
md_start "$md" "Table 5: nmODE and nmODE⁺ (λ = $LAMBDA, t̄ = $T5_T_END), MNIST" "$(
  echo "- nmODE: 784 → Linear($HIDDEN) → nmODE(λ = $LAMBDA, t̄ = $T5_T_END; DP5(4) solver rtol = $RTOL, atol = $ATOL) → Linear(10)"
  echo "- nmODE⁺: the same, trained with Adam weight decay wd ∈ {$(join_list "${WEIGHT_DECAYS[@]}")} (L2 in the gradient), the nmODE input weights clipped to [−$PLUS_CLIP, $PLUS_CLIP] after each step and the stability penalty η·maxᵢ Σⱼ|wᵢⱼ| with η = $PLUS_PENALTY"
  echo "- attack: $PGD, L∞, δ = $DELTA (cross-entropy, step 2.5·δ/$PGD_STEPS, uniform random start, 1 restart); robust/clean is the ratio of the two accuracies (in %)"
)"
pivot_md "$csv" model metric accuracy "model" >>"$md"
{
  echo
  echo "Paper (Table 5) beside this run, nmODE:"
  echo
  echo "| | paper | this run |"
  echo "|---|---:|---:|"
  echo "| clean | 98.38 | $(csv_mean "$csv" model nmODE metric clean accuracy) |"
  echo "| $PGD δ=$DELTA | 96.71 | $(csv_mean "$csv" model nmODE metric "$PGD δ=$DELTA" accuracy) |"
} >>"$md"
plot_csv <(csv_filter <(csv_filter "$csv" metric clean "$PGD δ=$DELTA") weight_decay "${WEIGHT_DECAYS[@]}") \
  "$OUT_DIR/robust-vs-weight-decay.svg" --x weight_decay --y accuracy --group metric --log-x \
  --title "nmODE⁺ (λ = $LAMBDA, t̄ = $T5_T_END): accuracy vs weight decay" --xlabel "weight decay" --ylabel "accuracy"
md_finish "$md"
