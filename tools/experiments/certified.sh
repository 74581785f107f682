#!/usr/bin/env bash
# Certified accuracy from the stability theorem on MNIST, against δ in L∞ and
# L2, for nmODE (t̄ = T_END), nmODE (t̄ = 0.05) and nmODE⁺ (t̄ = 0.05, weight
# decay 1e-4; the models of table5.sh), each with the finite-time factor
# κ = (1 − e^{−(λ−1)t̄})/(λ−1) and the theorem's 1/(λ−1); also the paper's
# global output bound ε = τδ/(λ−1) (L∞) and the median certified radius.
# Each certificate is computed twice: for the exact ODE map (the paper's
# setting) and for the computed network (the solver's own error bound taken out
# of every logit gap).
#   tools/experiments/certified.sh           full run (settings: see common.sh)
#   tools/experiments/certified.sh --quick   reduced run: 1 epoch on 2000 images, n = 100
# Writes RESULTS_DIR/certified/: table.md, results.csv, bounds.csv,
# certified-{linf,l2}-{exact,computed}.svg.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exp_init certified "$@"
need_dataset mnist

declare -A DELTAS=([linf]="0 0.001 0.002 0.005 0.01 0.02 0.03 0.05 0.1" [l2]="0 0.01 0.02 0.05 0.1 0.2 0.5 1")
declare -A NORM_NAME=([linf]="L∞" [l2]="L2")
CERT_T_END=0.05 CERT_WD=1e-4
declare -A MAP_FLAGS=([exact]="--exact-ode" [computed]="")
declare -A MAP_NAME=([exact]="exact ODE map" [computed]="computed network, solver error subtracted")
csv="$OUT_DIR/results.csv" bounds="$OUT_DIR/bounds.csv"
csv_start "$csv" "model,seed,map,norm,factor,curve,delta,accuracy"
csv_start "$bounds" "model,seed,map,norm,column,delta,global_bound,kappa_finite,kappa_theorem,tau,median_radius_finite"
for variant in reference short plus; do
  case $variant in
    reference) nmode_flags "$T_END" "$HIDDEN"; label="nmODE (t̄ = $T_END)" ;;
    short) nmode_flags "$CERT_T_END" "$HIDDEN"; label="nmODE (t̄ = $CERT_T_END)" ;;
    plus) nmode_plus_flags "$CERT_T_END" "$CERT_WD"; label="nmODE⁺ wd=$CERT_WD (t̄ = $CERT_T_END)" ;;
  esac
  for seed in $SEEDS; do
    ensure_model mnist "$seed" "${FLAGS[@]}"
    for map in exact computed; do
      for norm in linf l2; do
        json="$RAW_DIR/certify-$(slug "$label $seed $map $norm").json"
        # shellcheck disable=SC2086  # DELTAS holds a space-separated list, MAP_FLAGS one flag or none
        "$NMODE_BIN" certify --model "$MODEL" --dataset mnist --n "$N" --norm "$norm" --delta ${DELTAS[$norm]} \
          ${MAP_FLAGS[$map]} "${THREAD_FLAGS[@]}" --json >"$json"
        prefix=$(csv_row "$label" "$seed" "$map" "$norm")
        jq -r --arg p "$prefix" --arg name "$label" '
          .results[] | ([$p, "finite-time", "\($name) · finite-time", .delta, .certified_finite_time],
                        [$p, "theorem", "\($name) · theorem", .delta, .certified_theorem])
          | map(tostring) | join(",")' "$json" >>"$csv"
        jq -r --arg p "$prefix" --arg col "${NORM_NAME[$norm]} · $map" '
          . as $c | .results[] | [$p, $col, .delta, .global_output_bound, $c.kappa_finite, $c.kappa_theorem, $c.tau,
                                  $c.median_radius_finite] | map(tostring) | join(",")' "$json" >>"$bounds"
        log "$label, $map, $norm: clean $(jq .clean_accuracy "$json"), median radius $(jq .median_radius_finite "$json")"
      done
    done
  done
done

md="$OUT_DIR/table.md"
md_start "$md" "Certified accuracy from the stability theorem, MNIST" "$(
  echo "- nmODE: 784 → Linear($HIDDEN) → nmODE(λ = $LAMBDA, t̄; DP5(4) solver rtol = $RTOL, atol = $ATOL) → Linear(10); nmODE⁺: weight decay $CERT_WD, clip ±$PLUS_CLIP, stability penalty η = $PLUS_PENALTY"
  echo "- certificate: hidden unit i moves at most κ·‖wᵢ‖_*·δ (dual norm of W's row); a point is certified at δ when every logit gap z_c − z_k exceeds Σᵢ |V_ci − V_ki|·κ‖wᵢ‖_*·δ; for the ${MAP_NAME[exact]} (the paper's setting, --exact-ode) and for the ${MAP_NAME[computed]} from each gap first (a certificate for the network as evaluated)"
  echo "- factors: finite-time κ = (1 − e^{−(λ−1)t̄})/(λ−1); theorem κ = 1/(λ−1)"
  # shellcheck disable=SC2086  # DELTAS holds space-separated lists
  echo "- δ: L∞ ∈ {$(join_list ${DELTAS[linf]})}, L2 ∈ {$(join_list ${DELTAS[l2]})}"
)"
for map in exact computed; do
  for norm in linf l2; do
    rows=$(csv_filter <(csv_filter "$csv" map "$map") norm "$norm")
    {
      echo "Certified accuracy, ${NORM_NAME[$norm]}, ${MAP_NAME[$map]}:"
      echo
      pivot_md - curve delta accuracy "model · factor" <<<"$rows"
      echo
    } >>"$md"
    # The radii span decades: a log axis, without δ = 0 (the table has it).
    # shellcheck disable=SC2086  # DELTAS holds a space-separated list
    plot_csv <(csv_filter - delta ${DELTAS[$norm]#0 } <<<"$rows") "$OUT_DIR/certified-$norm-$map.svg" \
      --x delta --y accuracy --group curve --log-x \
      --title "MNIST: certified accuracy (${NORM_NAME[$norm]}, ${MAP_NAME[$map]%%,*})" \
      --xlabel "δ (${NORM_NAME[$norm]}, log scale)" --ylabel "certified accuracy"
  done
done
{
  # τ = maxᵢ Σⱼ|wᵢⱼ| is the L∞ operator norm of W: the bound is stated for L∞ only.
  echo "The paper's global bound ε = τδ/(λ−1) on ‖y − ȳ‖∞ for an L∞ perturbation of size δ (τ = maxᵢ Σⱼ|wᵢⱼ|; not a percentage):"
  echo
  pivot_md <(csv_filter <(csv_filter "$bounds" map computed) norm linf) model delta global_bound "model" 1 4
  echo
  echo "Median certified radius over the n test points (finite-time factor; 0 for a misclassified point; exact: the exact ODE map, computed: the solver error subtracted):"
  echo
  pivot_md <(csv_filter "$bounds" delta 0) model column median_radius_finite "model" 1 5
} >>"$md"
md_finish "$md"
