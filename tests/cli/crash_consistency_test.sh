#!/usr/bin/env bash
# Crash consistency of checkpoints: training that writes a checkpoint after every
# epoch is killed with SIGKILL at pseudo-random moments (some land inside a
# write). After every kill the checkpoint on disk must load, its epoch count
# must never go backwards, and --resume must continue from it; after the next
# successful write no temporary file of a killed writer may be left.
#   tests/cli/crash_consistency_test.sh path/to/nmode [TRIALS]
set -uo pipefail
nmode=${1:?usage: crash_consistency_test.sh path/to/nmode [TRIALS]}
trials=${2:-12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/idx_files.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
epochs_in() {  # CHECKPOINT -> train.epochs_done, or fails the test when it does not load
  "$nmode" info --model "$1" --json 2>"$work/info.err" | jq -er '.metadata["train.epochs_done"]' ||
    fail "checkpoint $1 does not load after a kill: $(cat "$work/info.err")"
}
temporaries() { compgen -G "$ck.tmp.*" | wc -l; }

data="$work/data/mnist"
mkdir -p "$data"
for split in train t10k; do
  write_images "$data/$split-images-idx3-ubyte" 512 $((512 * 784))
  write_labels "$data/$split-labels-idx1-ubyte" 512
done
ck="$work/model.safetensors"
# 784 -> 256 -> 10: a 2.4 MB checkpoint (weights and Adam's moments) per epoch,
# so writes take a fair share of the time and some kills land inside one.
first=(--hidden 256 --batch 64 --lr 1e-3 --seed 5)
common=(--data-dir "$work/data" --no-test --threads 1 --out "$ck")

RANDOM=14  # the same kill moments on every run
last=0 killed_in_write=0
for ((trial = 1; trial <= trials; ++trial)); do
  args=(train "${common[@]}" --epochs 100000)
  if [[ -f $ck ]]; then args+=(--resume "$ck"); else args+=("${first[@]}"); fi
  "$nmode" "${args[@]}" >/dev/null 2>"$work/train.err" &
  pid=$!
  sleep "0.$((RANDOM % 50 + 10))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [[ $(temporaries) -gt 0 ]] && killed_in_write=$((killed_in_write + 1))
  [[ -f $ck ]] || continue  # killed before its first epoch ended
  epochs=$(epochs_in "$ck")
  [[ $epochs -ge $last ]] || fail "trial $trial: the checkpoint went back from epoch $last to $epochs"
  echo "trial $trial: checkpoint at epoch $epochs, $(temporaries) temporary file(s) on disk"
  last=$epochs
done
[[ $last -gt 0 ]] || fail "no trial finished an epoch; the kills came too early to test anything"

# One more epoch to completion: it must resume, and its write must clear what the killed writers left.
"$nmode" train "${common[@]}" --resume "$ck" --epochs $((last + 1)) >/dev/null 2>"$work/train.err" ||
  fail "--resume after the kills failed: $(cat "$work/train.err")"
[[ $(epochs_in "$ck") -eq $((last + 1)) ]] || fail "--resume did not continue from epoch $last"
[[ $(temporaries) -eq 0 ]] || fail "temporary files left after a successful write: $(compgen -G "$ck.tmp.*")"
echo "ok: $trials kills ($killed_in_write inside a write): the checkpoint always loaded, epochs never went back, resume continued, no temporary file left"
