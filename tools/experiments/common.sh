# Shared by the experiment scripts in tools/experiments/ (sourced, never run):
# option parsing (--quick), checks for the nmode binary, jq and the datasets,
# settings (each one overridable from the environment), cached model training,
# and the CSV, Markdown-table and plot helpers.
#
# Environment (defaults: full run / --quick run):
#   NMODE_BIN       nmode binary (build/release/bin/nmode)
#   NMODE_DATA      dataset folder (data)
#   RESULTS_DIR     output root (results; --quick: results/quick): models are
#                   cached in RESULTS_DIR/models, tables in RESULTS_DIR/<name>/
#   EPOCHS          training epochs (10 / 1)
#   LIMIT           train on the first LIMIT images, 0 = all (0 / 2000)
#   N               evaluate on the first N test images (1000 / 100)
#   SEEDS           training seeds, space-separated ("0")
#   MODELS          the compared models run by table2, table3 and fashion, a
#                   subset of: nmode mlp-relu mlp-relu-pgd nmode-pgd nmode-trades
#                   node node-pgd node-trades tisode (default: each script's own list)
#   ATTACK_SEED     seed of the attacks' random starts and noise (0)
#   HIDDEN LAMBDA T_END RTOL ATOL   reference nmODE model (2048, 3, 1, 1e-3, 1e-3)
#   BATCH LR        Adam batch size and learning rate (256, 1e-3)
#   ADV_EPS ADV_STEPS TRADES_BETA   adversarial training (0.05, 10, 6)
#   PGD_STEPS APGD_STEPS SQUARE_QUERIES   attacks (40, 100, 5000 / 40, 100, 500)
#   PLUS_CLIP PLUS_PENALTY          nmODE+ weight clip and stability penalty (0.05, 1e-3)
#   NODE_HIDDEN NODE_T_END NODE_LR_SCHEDULE TISODE_WEIGHT   neural-ODE baselines: state
#                   width, integration time, learning-rate schedule (constant or cosine),
#                   TisODE's steady-state weight (256, 1, cosine, 0.1)
#   THREADS         CPU threads per nmode command (0 = all cores)

# The settings and arrays set here are read by the scripts that source this file.
# shellcheck shell=bash disable=SC2034

# ---------------------------------------------------------------------------
# Start-up

# The repository root, whatever the caller's working directory; paths the
# caller passed in the environment stay relative to where they were given.
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$EXP_DIR/../.." && pwd)"
for _var in NMODE_BIN NMODE_DATA RESULTS_DIR; do
  if [[ -n ${!_var:-} ]]; then printf -v "$_var" '%s' "$(realpath -m -- "${!_var}")"; fi
done
unset _var
cd "$REPO_ROOT" || exit 1

EXP_NAME=""
QUICK=0
QUICK_FLAG=()

log() { echo "[$EXP_NAME] $*" >&2; }
die() {
  echo "[$EXP_NAME] error: $*" >&2
  exit 1
}

# The script's header comment (after the shebang) is its --help text.
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }

# exp_init NAME "$@": parses --quick/--help, sets the settings, checks the tools
# and creates RESULTS_DIR/NAME (OUT_DIR) with its raw/ folder for JSON outputs.
exp_init() {
  EXP_NAME=$1
  shift
  # The tree the run starts from (commits made while a long run goes on do not count).
  EXP_COMMIT=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if ! git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null; then EXP_COMMIT+=" + local changes"; fi
  local arg
  for arg in "$@"; do
    case "$arg" in
      --quick) QUICK=1 QUICK_FLAG=(--quick) ;;
      -h | --help) usage; exit 0 ;;
      *) echo "$EXP_NAME: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
  done

  NMODE_BIN=${NMODE_BIN:-$REPO_ROOT/build/release/bin/nmode}
  export NMODE_DATA=${NMODE_DATA:-$REPO_ROOT/data}
  if ((QUICK)); then
    : "${RESULTS_DIR:=$REPO_ROOT/results/quick}" "${EPOCHS:=1}" "${LIMIT:=2000}" "${N:=100}" "${SQUARE_QUERIES:=500}"
  else
    : "${RESULTS_DIR:=$REPO_ROOT/results}" "${EPOCHS:=10}" "${LIMIT:=0}" "${N:=1000}" "${SQUARE_QUERIES:=5000}"
  fi
  : "${SEEDS:=0}" "${ATTACK_SEED:=0}" "${THREADS:=0}" "${MODELS:=${SCRIPT_MODELS[*]:-${COMPARISON_MODELS[*]}}}"
  local model
  for model in $MODELS; do
    [[ " ${COMPARISON_MODELS[*]} " == *" $model "* ]] ||
      die "MODELS: unknown model '$model' (choose from: ${COMPARISON_MODELS[*]})"
  done
  [[ -n ${MODELS// /} ]] || die "MODELS is empty (choose from: ${COMPARISON_MODELS[*]})"
  : "${HIDDEN:=2048}" "${LAMBDA:=3}" "${T_END:=1}" "${RTOL:=1e-3}" "${ATOL:=1e-3}" "${BATCH:=256}" "${LR:=1e-3}"
  : "${ADV_EPS:=0.05}" "${ADV_STEPS:=10}" "${TRADES_BETA:=6}"
  : "${PGD_STEPS:=40}" "${APGD_STEPS:=100}"
  : "${PLUS_CLIP:=0.05}" "${PLUS_PENALTY:=1e-3}"
  : "${NODE_HIDDEN:=256}" "${NODE_T_END:=1}" "${NODE_LR_SCHEDULE:=cosine}" "${TISODE_WEIGHT:=0.1}"
  THREAD_FLAGS=(--threads "$THREADS")

  [[ -x $NMODE_BIN ]] ||
    die "nmode binary not found at $NMODE_BIN; build it with: cmake --preset release && cmake --build --preset release (or set NMODE_BIN)"
  local help
  help=$("$NMODE_BIN" --help 2>&1) || die "$NMODE_BIN --help failed: $help"
  grep -Eq '^ +plot ' <<<"$help" ||
    die "$NMODE_BIN has no 'plot' subcommand (an older build?); rebuild with: cmake --build --preset release"
  command -v jq >/dev/null 2>&1 || die "jq not found; install it with tools/setup.sh (or: apt-get install jq)"

  MODELS_DIR="$RESULTS_DIR/models"
  OUT_DIR="$RESULTS_DIR/$EXP_NAME"
  RAW_DIR="$OUT_DIR/raw"
  # The folder holds this run's outputs only, so no table or plot is left from an older run.
  rm -rf "$OUT_DIR"
  mkdir -p "$MODELS_DIR" "$RAW_DIR"
  log "$( ((QUICK)) && echo quick || echo full) run: results in $OUT_DIR, models cached in $MODELS_DIR"
}

# need_dataset mnist|fashion: fails with the fetch command when it is missing.
need_dataset() {
  local f
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [[ -f $NMODE_DATA/$1/$f || -f $NMODE_DATA/$1/$f.gz ]] ||
      die "dataset '$1' not found in $NMODE_DATA/$1 ($f); fetch it with: tools/fetch-data.sh $1 (or set NMODE_DATA)"
  done
}

# ---------------------------------------------------------------------------
# Models

# nmode_flags T_END HIDDEN: the training flags of an nmODE model (λ, tolerances
# from the settings) in FLAGS.
nmode_flags() {
  FLAGS=(--model nmode --hidden "$2" --lambda "$LAMBDA" --t-end "$1" --rtol "$RTOL" --atol "$ATOL")
}

# nmode_plus_flags T_END WEIGHT_DECAY: nmODE+ (weight decay, clip, penalty) in FLAGS.
nmode_plus_flags() {
  nmode_flags "$1" "$HIDDEN"
  FLAGS+=(--weight-decay "$2" --clip "$PLUS_CLIP" --stable-penalty "$PLUS_PENALTY")
}

# The models compared in Tables 2 and 3 and on Fashion-MNIST: nmODE and MLP
# baselines, and the neural-ODE defences of the paper's comparison (vanilla NODE,
# AT-NODE, ODE-TRADES, TisODE). A script's SCRIPT_MODELS (set before exp_init)
# is its default; $MODELS picks others (checked in exp_init).
COMPARISON_MODELS=(nmode mlp-relu mlp-relu-pgd nmode-pgd nmode-trades node node-pgd node-trades tisode)
NMODE_MLP_MODELS=(nmode mlp-relu mlp-relu-pgd nmode-pgd nmode-trades)

# comparison_model NAME: LABEL (for tables) and FLAGS (for training).
comparison_model() {
  local adv_pgd=(--adv pgd --adv-eps "$ADV_EPS" --adv-steps "$ADV_STEPS")
  local adv_trades=(--adv trades --adv-eps "$ADV_EPS" --adv-steps "$ADV_STEPS" --trades-beta "$TRADES_BETA")
  local mlp=(--model mlp-relu --hidden "$HIDDEN")
  local node=(--model node --hidden "$NODE_HIDDEN" --t-end "$NODE_T_END" --rtol "$RTOL" --atol "$ATOL"
    --lr-schedule "$NODE_LR_SCHEDULE")
  nmode_flags "$T_END" "$HIDDEN"
  case "$1" in
    nmode) LABEL="nmODE" ;;
    mlp-relu) LABEL="MLP-ReLU" FLAGS=("${mlp[@]}") ;;
    mlp-relu-pgd) LABEL="MLP-ReLU + PGD-AT" FLAGS=("${mlp[@]}" "${adv_pgd[@]}") ;;
    nmode-pgd) LABEL="nmODE + PGD-AT" FLAGS+=("${adv_pgd[@]}") ;;
    nmode-trades) LABEL="nmODE + TRADES" FLAGS+=("${adv_trades[@]}") ;;
    node) LABEL="NODE" FLAGS=("${node[@]}") ;;
    node-pgd) LABEL="AT-NODE" FLAGS=("${node[@]}" "${adv_pgd[@]}") ;;
    node-trades) LABEL="ODE-TRADES" FLAGS=("${node[@]}" "${adv_trades[@]}") ;;
    tisode) LABEL="TisODE" FLAGS=("${node[@]}" --steady-state "$TISODE_WEIGHT") ;;
    *) die "unknown model '$1'" ;;
  esac
}

# The settings lines every table states about the models above.
comparison_settings() {
  echo "- nmODE: 784 → Linear($HIDDEN) → nmODE(λ = $LAMBDA, t̄ = $T_END; DP5(4) solver rtol = $RTOL, atol = $ATOL) → Linear(10); MLP-ReLU: 784 → Linear($HIDDEN) → ReLU → Linear(10)"
  echo "- NODE (ODE-Net, Chen et al. 2018): 784 → Linear($NODE_HIDDEN) → ReLU → dh/dt = tanh(W h + b), t̄ = $NODE_T_END (DP5(4), one adaptive step per sample, rtol = $RTOL, atol = $ATOL) → Linear(10), Adam with a $NODE_LR_SCHEDULE learning rate; AT-NODE = NODE + PGD-AT, ODE-TRADES = NODE + TRADES; TisODE (Yan et al. 2019): NODE + steady-state loss $TISODE_WEIGHT · mean|f(h(t̄))|"
  echo "- adversarial training: PGD-AT (Madry) and TRADES (β = $TRADES_BETA), L∞ ε = $ADV_EPS, $ADV_STEPS PGD steps per batch"
}

# model_key DATASET SEED FLAGS...: a file name holding every training setting,
# so a cached model is reused only for the same settings.
model_key() {
  local key=$1 seed=$2 f
  shift 2
  for f in "$@" --epochs "$EPOCHS" --limit "$LIMIT" --batch "$BATCH" --lr "$LR" --seed "$seed"; do
    if [[ $f == --* ]]; then key+="_${f#--}"; else key+="-$f"; fi
  done
  echo "$key"
}

# ensure_model DATASET SEED FLAGS...: sets MODEL to a checkpoint trained with
# these settings, training it only when RESULTS_DIR/models lacks it. Training
# writes NAME.partial.safetensors after every epoch and renames it when done,
# so an interrupted run resumes instead of being taken for a finished model.
ensure_model() {
  local dataset=$1 seed=$2
  shift 2
  local key
  key=$(model_key "$dataset" "$seed" "$@")
  MODEL="$MODELS_DIR/$key.safetensors"
  if [[ -f $MODEL ]]; then
    log "reusing $MODEL"
    return
  fi
  need_dataset "$dataset"
  local partial="$MODELS_DIR/$key.partial.safetensors" settings=("$@" --batch "$BATCH" --lr "$LR" --seed "$seed")
  # A resumed run continues with the checkpoint's own settings (train refuses them beside --resume).
  [[ -f $partial ]] && settings=(--resume "$partial") && log "resuming $partial"
  log "training $key"
  local start=$SECONDS
  "$NMODE_BIN" train --dataset "$dataset" "${settings[@]}" --epochs "$EPOCHS" --limit "$LIMIT" \
    --no-test --json "${THREAD_FLAGS[@]}" --out "$partial" >>"$MODELS_DIR/$key.train.json"
  mv -f "$partial" "$MODEL"
  log "trained in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------
# Measurements, appended to long-format CSV files

ATTACK_COLUMNS="attack,norm,eps,metric,accuracy"

# slug TEXT: a file-name-safe version of TEXT.
slug() { echo "$*" | tr -cs 'A-Za-z0-9.=+-' '_' | sed 's/^_//; s/_$//'; }

# join_list ITEM...: "a, b, c" for the settings lines.
join_list() {
  local out="" x
  for x in "$@"; do out+="${out:+, }$x"; done
  echo "$out"
}

# csv_start FILE HEADER: (re)creates FILE with its header row.
csv_start() { echo "$2" >"$1"; }

# csv_row FIELD...: the fields joined by commas. Fields go into the CSV files
# unquoted, so none may hold a comma.
csv_row() {
  local f
  for f in "$@"; do [[ $f != *,* ]] || die "CSV field '$f' contains a comma"; done
  local IFS=,
  echo "$*"
}

# run_attack CSV PREFIX DATASET MODEL NAME ATTACK-FLAGS...: runs `nmode attack`
# on the first N test images and appends "PREFIX,attack,norm,eps,metric,accuracy"
# rows: one per radius (metric "NAME δ=eps") and a "clean" row (attack clean,
# eps 0) unless the CSV already has it. PREFIX holds the leading columns
# (from csv_row).
run_attack() {
  local csv=$1 prefix=$2 dataset=$3 model=$4 name=$5
  shift 5
  need_dataset "$dataset"
  local json
  json="$RAW_DIR/attack-$(slug "$prefix $name $*").json"
  "$NMODE_BIN" attack --model "$model" --dataset "$dataset" --n "$N" --seed "$ATTACK_SEED" "${THREAD_FLAGS[@]}" \
    --json "$@" >"$json"
  local clean
  clean=$(jq -r --arg p "$prefix" '.results[0] | [$p, "clean", .norm, 0, "clean", .clean_accuracy] | map(tostring) | join(",")' "$json")
  grep -Fxq -- "$clean" "$csv" || echo "$clean" >>"$csv"
  jq -r --arg p "$prefix" --arg name "$name" \
    '.results[] | [$p, .attack, .norm, .eps, "\($name) δ=\(.eps)", .robust_accuracy] | map(tostring) | join(",")' \
    "$json" >>"$csv"
  log "$prefix: $name: $(jq -r '[.results[] | "δ=\(.eps) \(.robust_accuracy)"] | join(", ")' "$json")"
}

# ---------------------------------------------------------------------------
# Markdown

# pivot_md CSV ROW_COL COL_COL VALUE_COL ROW_TITLE [SCALE [DECIMALS]]: a
# Markdown table with one row per ROW_COL value and one column per COL_COL
# value, both in order of first appearance. A cell is the mean of VALUE_COL *
# SCALE (default 100: accuracies in %) over the seeds (column "seed"; the last
# row wins within a seed), with "± sample sd" when there are several seeds.
# CSV "-" reads standard input.
pivot_md() {
  local csv=$1 rc=$2 cc=$3 vc=$4 title=$5 scale=${6:-100} decimals=${7:-2}
  awk -F, -v rc="$rc" -v cc="$cc" -v vc="$vc" -v title="$title" -v scale="$scale" -v dec="$decimals" '
    NR == 1 {
      for (i = 1; i <= NF; i++) idx[$i] = i
      r = idx[rc]; c = idx[cc]; v = idx[vc]; s = idx["seed"]
      if (!r || !c || !v) { print "pivot_md: missing column " rc ", " cc " or " vc > "/dev/stderr"; exit 1 }
      next
    }
    {
      if (!($r in rseen)) { rseen[$r] = 1; rows[++nr] = $r }
      if (!($c in cseen)) { cseen[$c] = 1; cols[++nc] = $c }
      seed = s ? $s : 0
      k = $r SUBSEP $c
      if (!((k, seed) in val)) { nseed[k]++; seeds[k, nseed[k]] = seed }
      val[k, seed] = $v * scale
    }
    END {
      line = "| " title; sep = "|---"
      for (j = 1; j <= nc; j++) { line = line " | " cols[j]; sep = sep "|---:" }
      print line " |"; print sep "|"
      fmt = "%." dec "f"
      for (i = 1; i <= nr; i++) {
        line = "| " rows[i]
        for (j = 1; j <= nc; j++) {
          k = rows[i] SUBSEP cols[j]; m = nseed[k]
          if (!m) { line = line " | –"; continue }
          sum = 0; for (q = 1; q <= m; q++) sum += val[k, seeds[k, q]]
          mean = sum / m; cell = sprintf(fmt, mean)
          if (m > 1) {
            ss = 0; for (q = 1; q <= m; q++) ss += (val[k, seeds[k, q]] - mean) ^ 2
            cell = cell " ± " sprintf(fmt, sqrt(ss / (m - 1)))
          }
          line = line " | " cell
        }
        print line " |"
      }
    }' "$csv"
}

# csv_filter CSV COLUMN VALUE...: the header and the rows whose COLUMN is one of the VALUEs.
csv_filter() {
  local csv=$1 col=$2
  shift 2
  awk -F, -v col="$col" -v wanted="$(printf '%s\n' "$@")" '
    BEGIN { n = split(wanted, w, "\n"); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; print; next }
    $c in keep' "$csv"
}

# csv_mean CSV ROW_COL ROW COL_COL COL VALUE_COL: the mean of VALUE_COL over the
# seeds for one cell, in % with two decimals ("–" when absent).
csv_mean() {
  awk -F, -v rc="$2" -v rv="$3" -v cc="$4" -v cv="$5" -v vc="$6" '
    NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
    $idx[rc] == rv && $idx[cc] == cv { sum += $idx[vc]; n++ }
    END { if (n) printf "%.2f\n", 100 * sum / n; else print "–" }' "$1"
}

# md_start FILE TITLE SETTINGS-LINES: starts table.md with the title, what
# produced it and every setting (the common ones plus the script's own lines).
md_start() {
  local file=$1 title=$2 extra=$3 mode
  mode=$( ((QUICK)) && echo "quick (a reduced CI-sized run: numbers are not comparable to the paper)" || echo full)
  local device
  device=$("$NMODE_BIN" info --json 2>/dev/null | jq -r --argjson t "$THREADS" \
    'if .gpu then "GPU " + .gpu_name else "CPU (threads: \(if $t > 0 then $t else .openmp_threads end))" end' || echo unknown)
  {
    echo "# $title"
    echo
    echo "Produced by \`tools/experiments/$EXP_NAME.sh${QUICK_FLAG:+ --quick}\` on $(date -u +%Y-%m-%d), nmode $("$NMODE_BIN" --version) (git $EXP_COMMIT at the start), $device."
    echo
    echo "Settings:"
    echo "- mode: $mode"
    # shellcheck disable=SC2086  # SEEDS is a space-separated list
    echo "- training: $EPOCHS epoch(s) on $( ((LIMIT > 0)) && echo "the first $LIMIT" || echo all) training images, Adam lr = $LR, batch $BATCH, seeds: $(join_list $SEEDS)"
    echo "- evaluation: the first $N test images; attack seed $ATTACK_SEED"
    printf '%s\n' "$extra"
    echo "- numbers: accuracy in %, mean over the seeds (± sample sd when several); robust accuracy counts a clean mistake as a failure"
    echo
  } >"$file"
}

# md_finish FILE: appends the attack configurations as run (from the JSON
# outputs), the wall time, and prints the table.
md_finish() {
  if compgen -G "$RAW_DIR/attack-*.json" >/dev/null; then
    local configs
    configs=$(jq -r '.results[].configs[]' "$RAW_DIR"/attack-*.json | sort -u)
    printf '\nAttack configurations as run:\n\n' >>"$1"
    awk '{ print "    " $0 }' <<<"$configs" >>"$1"
  fi
  printf '\nWall time: %d s.\n' "$SECONDS" >>"$1"
  log "wrote $1"
  cat "$1"
}

# ---------------------------------------------------------------------------
# Plots

# plot_csv CSV SVG nmode-plot-FLAGS...: averages the accuracy column over the
# seeds (rows equal in every other column) and draws it with `nmode plot`.
plot_csv() {
  local csv=$1 svg=$2 data
  shift 2
  data="$RAW_DIR/plot-$(basename "$svg" .svg).csv"
  # The accuracy field is held as a \001 placeholder inside the row's key.
  awk -F, '
    NR == 1 {
      for (i = 1; i <= NF; i++) { if ($i == "seed") s = i; if ($i == "accuracy") a = i }
      if (!a) { print "plot_csv: no accuracy column" > "/dev/stderr"; exit 1 }
      line = ""; for (i = 1; i <= NF; i++) if (i != s) line = line (line == "" ? "" : ",") $i
      print line; next
    }
    {
      key = ""; for (i = 1; i <= NF; i++) if (i != s) key = key (key == "" ? "" : ",") (i == a ? "\001" : $i)
      if (!(key in n)) order[++m] = key
      n[key]++; sum[key] += $a
    }
    END { for (j = 1; j <= m; j++) { k = order[j]; sub(/\001/, sprintf("%.6g", sum[k] / n[k]), k); print k } }' "$csv" >"$data"
  "$NMODE_BIN" plot --csv "$data" --out "$svg" "$@" >/dev/null
  log "wrote $svg"
}

# pgd_over_comparison_models DATASET NORM EPS...: trains (or reuses) every model of
# MODELS for each seed and appends its PGD accuracies at each EPS to the
# CSV file named by $csv, labelled with $PGD.
pgd_over_comparison_models() {
  local dataset=$1 norm=$2 name seed
  shift 2
  for name in $MODELS; do
    comparison_model "$name"
    for seed in $SEEDS; do
      ensure_model "$dataset" "$seed" "${FLAGS[@]}"
      run_attack "$csv" "$(csv_row "$dataset" "$LABEL" "$seed")" "$dataset" "$MODEL" "$PGD" \
        --attack pgd --norm "$norm" --steps "$PGD_STEPS" --eps "$@"
    done
  done
}
