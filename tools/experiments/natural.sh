#!/usr/bin/env bash
# Natural perturbations on MNIST: accuracy of nmODE and MLP-ReLU under Gaussian
# noise (σ), resizing down to l×l and back, Gaussian blur (kernel k) and a
# brightness shift (b), with a PNG sheet of perturbed examples.
#   tools/experiments/natural.sh           full run (settings: see common.sh)
#   tools/experiments/natural.sh --quick   reduced run: 1 epoch on 2000 images, n = 100
# Writes RESULTS_DIR/natural/: table.md, results.csv, accuracy-<kind>.svg,
# examples.png (rows: clean, then each kind's levels in the order above).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
exp_init natural "$@"
need_dataset mnist

NOISE=(0.1 0.2 0.3 0.5) RESIZE=(21 14 10 7) BLUR=(3 5 7 9) BRIGHTNESS=(0.1 0.2 0.3 0.5)
# The level of each kind that leaves an image unchanged: its row holds the clean accuracy.
IDENTITY='{"noise": 0, "resize": 28, "blur": 1, "brightness": 0}'
csv="$OUT_DIR/results.csv"
csv_start "$csv" "dataset,model,seed,kind,level,accuracy"
for name in nmode mlp-relu; do
  comparison_model "$name"
  for seed in $SEEDS; do
    ensure_model mnist "$seed" "${FLAGS[@]}"
    json="$RAW_DIR/perturb-$(slug "$LABEL $seed").json"
    "$NMODE_BIN" perturb --model "$MODEL" --dataset mnist --n "$N" --seed "$ATTACK_SEED" "${THREAD_FLAGS[@]}" --json \
      --noise "${NOISE[@]}" --resize "${RESIZE[@]}" --blur "${BLUR[@]}" --brightness "${BRIGHTNESS[@]}" \
      --sheet "$OUT_DIR/examples.png" >"$json"
    jq -r --arg p "$(csv_row mnist "$LABEL" "$seed")" --argjson id "$IDENTITY" '
      (.results[] | select(.kind == "clean") | .accuracy) as $clean
      | ($id | to_entries[] | [$p, .key, .value, $clean]),
        (.results[] | select(.kind != "clean") | [$p, .kind, .level, .accuracy])
      | map(tostring) | join(",")' "$json" >>"$csv"
    log "$LABEL: $(jq -r '[.results[] | "\(.kind) \(.level): \(.accuracy)"] | join(", ")' "$json")"
  done
done

md="$OUT_DIR/table.md"
md_start "$md" "Natural perturbations, MNIST" "$(
  comparison_settings | head -n 1
  echo "- perturbations of the test images, clamped to [0, 1]: Gaussian noise σ ∈ {$(join_list "${NOISE[@]}")} (seed $ATTACK_SEED), bilinear resize to l×l and back, l ∈ {$(join_list "${RESIZE[@]}")}, Gaussian blur with kernel k ∈ {$(join_list "${BLUR[@]}")}, brightness shift b ∈ {$(join_list "${BRIGHTNESS[@]}")}; the unperturbed level (σ = 0, l = 28, k = 1, b = 0) is the clean accuracy"
)"
declare -A TITLE=([noise]="Gaussian noise" [resize]="Resize down and up" [blur]="Gaussian blur" [brightness]="Brightness shift")
declare -A LEVEL=([noise]="σ" [resize]="l (side after resizing)" [blur]="k (kernel size)" [brightness]="b")
for kind in noise resize blur brightness; do
  {
    echo "${TITLE[$kind]}:"
    echo
    pivot_md <(csv_filter "$csv" kind "$kind") level model accuracy "${LEVEL[$kind]%% *}"
    echo
  } >>"$md"
  plot_csv <(csv_filter "$csv" kind "$kind") "$OUT_DIR/accuracy-$kind.svg" --x level --y accuracy --group model \
    --title "MNIST, ${TITLE[$kind]}: accuracy" --xlabel "${LEVEL[$kind]}" --ylabel "accuracy"
done
echo "Examples: examples.png (rows: clean, then noise, resize, blur and brightness at the levels above)." >>"$md"
md_finish "$md"
