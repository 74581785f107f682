#!/usr/bin/env bash
# The nmode command line on bad input: every case must end with the documented exit
# status (2: invalid arguments, 1: a failure while running) and a message naming
# the problem, never a crash, a hang or a file left half-written. Runs on a tiny
# hand-made dataset, so it needs neither the real data nor a GPU.
#   tests/cli/cli_test.sh path/to/nmode
set -uo pipefail
nmode=${1:?usage: cli_test.sh path/to/nmode}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect STATUS PATTERN -- COMMAND...: runs COMMAND (30 s at most) and checks its
# exit status and that stderr contains PATTERN (a fixed string; empty: anything).
expect() {
  local want=$1 pattern=$2
  shift 3
  local status=0
  timeout 30 "$@" >"$work/out" 2>"$work/err" || status=$?
  if [[ $status != "$want" ]] || { [[ -n $pattern ]] && ! grep -qF -- "$pattern" "$work/err"; }; then
    echo "FAIL: $* -> exit $status (want $want), stderr:" >&2
    sed 's/^/    /' "$work/err" >&2
    failures=$((failures + 1))
  else
    echo "ok: $* -> $status"
  fi
}

source "$(dirname "${BASH_SOURCE[0]}")/idx_files.sh"
good="$work/good/mnist" bad="$work/bad/mnist"
mkdir -p "$good" "$bad"
for split in train t10k; do
  write_images "$good/$split-images-idx3-ubyte" 20 $((20 * 784))
  write_labels "$good/$split-labels-idx1-ubyte" 20
  write_images "$bad/$split-images-idx3-ubyte" 20 1000  # the header promises 20 * 784 bytes
  write_labels "$bad/$split-labels-idx1-ubyte" 20
done
tiny=(--hidden 8 --batch 10 --threads 1)

# Arguments out of range or malformed: status 2.
expect 2 "t_end" -- "$nmode" solve --lambda 3 --t-end -1 --gamma 0.5
expect 2 "lambda must be finite" -- "$nmode" solve --lambda nan --t-end 1 --gamma 0.5
expect 2 "rtol" -- "$nmode" solve --lambda 3 --t-end 1 --rtol 0 --gamma 0.5
expect 0 "notice: rtol 1e-12 is below the precision of float; solving with its floor rtol 1.19209e-07" -- "$nmode" solve --t-end 1 --rtol 1e-12 --gamma 0.5
expect 0 "" -- "$nmode" solve --t-end 1 --rtol 1e-12 --gamma 0.5 --double
expect 2 "--gamma 1e+300 does not fit in float" -- "$nmode" solve --t-end 1 --gamma 0.5 1e300
expect 2 "--y0 -1e+40 does not fit in float" -- "$nmode" solve --t-end 1 --gamma 0.5 --y0 -1e40
expect 2 "unknown subcommand 'bogus-command'; the subcommands are train, eval" -- "$nmode" bogus-command
# nmode plot: a bad value in the file is a runtime error (1), a bad option a usage error (2).
printf 'x,y\n1,2\n2,nan\n' >"$work/nan.csv"
printf 'x,y\n1,2\n2\n' >"$work/ragged.csv"
expect 1 "nan.csv:3, column y: 'nan' is not a finite number" -- "$nmode" plot --csv "$work/nan.csv" --x x --y y --out "$work/p.svg"
expect 1 "ragged.csv:3: 1 fields, but the header has 2" -- "$nmode" plot --csv "$work/ragged.csv" --x x --y y --out "$work/p.svg"
expect 2 "--y 'z': no such column" -- "$nmode" plot --csv "$work/ragged.csv" --x x --y z --out "$work/p.svg"
[[ ! -e $work/p.svg ]] || { echo "FAIL: a failed plot left $work/p.svg" >&2; failures=$((failures + 1)); }
printf 'not a checkpoint' >"$work/garbage.safetensors"
expect 2 "--eps" -- "$nmode" attack --model "$work/garbage.safetensors" --eps -0.1

# Data: missing (says how to fetch it) and truncated (says which file), and no
# checkpoint is left behind by the failed run.
expect 1 "tools/fetch-data.sh" -- "$nmode" train --data-dir "$work/none" --epochs 1 --out "$work/m.safetensors"
expect 1 "train-images-idx3-ubyte" -- "$nmode" train --data-dir "$work/bad" --epochs 1 "${tiny[@]}" --out "$work/m.safetensors"
if compgen -G "$work/m.safetensors*" >/dev/null; then
  echo "FAIL: a failed train left $(ls "$work"/m.safetensors*)" >&2
  failures=$((failures + 1))
fi

# A model trained on the tiny data, then misused.
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --out "$work/m.safetensors"
expect 2 "--n 50 exceeds the 20 test images" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --n 50
expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --n 20 --steps 2 --device cpu
# surrogate-pgd: PGD on the gradients of the closed-form nmODE surrogate, judged on the
# model; alone, beside pgd and in an ensemble. Refused for models it cannot stand in for.
expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack pgd surrogate-pgd --eps 0.1 --n 20 --steps 2 --device cpu
grep -q "^surrogate-pgd " "$work/out" && grep -q "gradients from .*NmOdeSurrogate(8, steady" "$work/out" ||
  { echo "FAIL: attack --attack surrogate-pgd printed no surrogate-pgd row: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack pgd surrogate-pgd --ensemble --eps 0.1 --n 20 --steps 2 --device cpu --json
[[ $(jq -r '.results[0].attack' "$work/out") == pgd+surrogate-pgd && $(jq -r '.results[0].configs[1]' "$work/out") == *" gradients=surrogate-steady" ]] ||
  { echo "FAIL: the surrogate-pgd ensemble row: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack surrogate-pgd --surrogate frozen --eps 0.1 --n 20 --steps 2 --device cpu --json
[[ $(jq -r '.results[0].configs[0]' "$work/out") == *" gradients=surrogate-frozen" ]] ||
  { echo "FAIL: --surrogate frozen: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 2 "--surrogate frozen applies to --attack surrogate-pgd only" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack pgd --surrogate frozen --eps 0.1
expect 2 "--attack: surrogate-apgd not in {fgsm,pgd,apgd,square,surrogate-pgd}" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack surrogate-apgd --eps 0.1
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --model mlp-relu --no-test --out "$work/mlp.safetensors"
# The neural-ODE baseline trains, evaluates and is attacked like the others; its options are refused elsewhere.
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --model node --steady-state 0.1 --no-test --out "$work/node.safetensors"
expect 0 "" -- "$nmode" eval --model "$work/node.safetensors" --data-dir "$work/good"
grep -qF "NeuralOde(8, tanh(W h + b), t_end=1" "$work/out" || { echo "FAIL: node eval: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" attack --model "$work/node.safetensors" --data-dir "$work/good" --attack pgd apgd --eps 0.1 --n 20 --steps 2 --json
[[ $(jq -r '.results | length' "$work/out") == 2 ]] || { echo "FAIL: node attack rows: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --model node --node-steps batch-shared --adv pgd --adv-steps 2 --no-test --out "$work/node-at.safetensors"
expect 2 "--steady-state is TisODE's regulariser of a neural ODE; it needs --model node" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --steady-state 0.1 --out "$work/x.safetensors"
expect 2 "--node-steps applies to --model node only" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --node-steps batch-shared --out "$work/x.safetensors"
expect 2 "--node-steps: sometimes not in {per-sample,batch-shared}" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --model node --node-steps sometimes --out "$work/x.safetensors"
expect 2 "cannot be combined" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --model node --steady-state 0.1 --adv trades --out "$work/x.safetensors"
expect 1 "certification needs a Linear -> NmOde -> Linear model" -- "$nmode" certify --model "$work/node.safetensors" --data-dir "$work/good" --n 20 --delta 0.01
[[ ! -e $work/x.safetensors ]] || { echo "FAIL: a refused node training left $work/x.safetensors" >&2; failures=$((failures + 1)); }
expect 2 "the surrogate attack needs a model with an nmODE layer; this model is: Linear(784 -> 8) -> ReLU(8) -> Linear(8 -> 10)" -- "$nmode" attack --model "$work/mlp.safetensors" --data-dir "$work/good" --attack pgd surrogate-pgd --eps 0.1 --n 20 --device cpu
[[ ! -s $work/out ]] || { echo "FAIL: attack printed before refusing surrogate-pgd on an MLP: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --lambda 0.5 --no-test --out "$work/slow.safetensors"
expect 2 "the nmODE surrogate needs lambda > 1" -- "$nmode" attack --model "$work/slow.safetensors" --data-dir "$work/good" --attack surrogate-pgd --eps 0.1 --n 20 --device cpu
[[ ! -s $work/out ]] || { echo "FAIL: attack printed before refusing surrogate-pgd at lambda 0.5: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 2 "" -- "$nmode" certify --model "$work/m.safetensors" --data-dir "$work/good" --norm l3 --delta 0.1
# A checkpoint knows its data: another dataset, or another --limit on resume, is refused before any work.
cp -r "$work/good/mnist" "$work/good/fashion"
expect 2 "--dataset fashion: the model $work/m.safetensors was trained on mnist" -- "$nmode" eval --model "$work/m.safetensors" --data-dir "$work/good" --dataset fashion
expect 2 "was trained on mnist; pass --dataset mnist" -- "$nmode" train --data-dir "$work/good" --dataset fashion --resume "$work/m.safetensors" --epochs 2 --out "$work/r.safetensors"
expect 2 "trained on mnist (20 examples), but the data given now is mnist (10 examples)" -- "$nmode" train --data-dir "$work/good" --resume "$work/m.safetensors" --limit 10 --epochs 2 --out "$work/r.safetensors"
[[ ! -e $work/r.safetensors ]] || { echo "FAIL: a refused resume wrote $work/r.safetensors" >&2; failures=$((failures + 1)); }
[[ $(jq -r '.metadata["data.name"]' <("$nmode" info --model "$work/m.safetensors" --json)) == mnist ]] ||
  { echo "FAIL: the checkpoint does not record data.name" >&2; failures=$((failures + 1)); }
# predict: the answers of eval (same forward), from IDX or .npy, printed, as JSON or written to a file.
images="$work/good/mnist/t10k-images-idx3-ubyte"
expect 0 "" -- "$nmode" predict --model "$work/m.safetensors" --input "$images" --json
predicted=$(jq '[.predictions | to_entries[] | select(.value.class == (.key % 10))] | length / 20' "$work/out")
expect 0 "" -- "$nmode" eval --model "$work/m.safetensors" --data-dir "$work/good" --json
[[ $(jq ".accuracy == $predicted" "$work/out") == true ]] ||
  { echo "FAIL: predict's accuracy $predicted differs from eval's $(jq .accuracy "$work/out")" >&2; failures=$((failures + 1)); }
write_npy_u8 "$work/x.npy" "(20, 28, 28)" "$images" 17
expect 0 "" -- "$nmode" predict --model "$work/m.safetensors" --input "$work/x.npy" --output "$work/p.npy"
[[ $(head -c 6 "$work/p.npy" | tail -c 5) == NUMPY ]] && head -c 128 "$work/p.npy" | grep -q "'shape': (20, 10)" ||
  { echo "FAIL: predict --output p.npy is not a (20, 10) .npy" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" predict --model "$work/m.safetensors" --input "$work/x.npy" --output "$work/p.csv" --logits
[[ $(wc -l <"$work/p.csv") == 21 ]] && head -1 "$work/p.csv" | grep -q "^index,class,p0,.*,p9,logit0,.*,logit9$" ||
  { echo "FAIL: predict --output p.csv: $(head -2 "$work/p.csv")" >&2; failures=$((failures + 1)); }
expect 2 "--output $work/p.txt: write a .npy" -- "$nmode" predict --model "$work/m.safetensors" --input "$work/x.npy" --output "$work/p.txt"
[[ ! -s $work/out && ! -e $work/p.txt ]] || { echo "FAIL: a refused predict wrote output" >&2; failures=$((failures + 1)); }
write_npy_u8 "$work/wide.npy" "(10, 1568)" "$images" 17
expect 2 "the model expects 784 values per input, the file has 1568" -- "$nmode" predict --model "$work/m.safetensors" --input "$work/wide.npy"
expect 1 "inputs must be an array of shape (n, d) or (n, h, w), got (20,)" -- "$nmode" predict --model "$work/m.safetensors" --input "$work/good/mnist/t10k-labels-idx1-ubyte"
# Your own data: a folder of .npy (or IDX) files, of any width, trains, evaluates and
# predicts; its model is refused on MNIST.
own="$work/own-digits" wide="$work/wide-features"
mkdir -p "$own" "$wide"
for split in train test; do
  idx=$([[ $split == train ]] && echo train || echo t10k)
  write_npy_u8 "$own/$split-inputs.npy" "(20, 28, 28)" "$work/good/mnist/$idx-images-idx3-ubyte" 17
  cp "$work/good/mnist/$idx-labels-idx1-ubyte" "$own/$split-labels.idx"
  write_npy_u8 "$wide/$split-inputs.npy" "(10, 1568)" "$work/good/mnist/$idx-images-idx3-ubyte" 17
  write_labels "$wide/$split-labels.idx" 10
done
expect 0 "" -- "$nmode" train --dataset "$own" --epochs 1 "${tiny[@]}" --no-test --out "$work/own.safetensors"
expect 0 "" -- "$nmode" eval --model "$work/own.safetensors" --dataset "$own" --json
[[ $(jq .examples "$work/out") == 20 ]] || { echo "FAIL: eval on the own dataset: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
[[ $(jq -r '.metadata["data.checksum"]' <("$nmode" info --model "$work/own.safetensors" --json)) == crc32:* ]] ||
  { echo "FAIL: a model of a dataset folder records no data.checksum" >&2; failures=$((failures + 1)); }
expect 2 "--dataset mnist: the model $work/own.safetensors was trained on own-digits" -- "$nmode" eval --model "$work/own.safetensors" --data-dir "$work/good"
expect 0 "" -- "$nmode" train --dataset "$wide" --epochs 1 "${tiny[@]}" --out "$work/wide.safetensors"
expect 0 "" -- "$nmode" info --model "$work/wide.safetensors" --json
[[ $(jq -r '.metadata["model.input"]' "$work/out") == 1568 ]] ||
  { echo "FAIL: a 1568-wide dataset should make a 1568-input model" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" predict --model "$work/wide.safetensors" --input "$wide/test-inputs.npy"
# Features outside [0, 1] (all 2.0 here): the attacks refuse them unless --box gives their domain.
feat="$work/features"
mkdir -p "$feat"
for split in train test; do
  header="{'descr': '<f4', 'fortran_order': False, 'shape': (20, 784), }"
  while (((10 + ${#header} + 1) % 64)); do header+=" "; done
  { printf '\x93NUMPY\x01\x00\x76\x00%s\n' "$header"; printf '\x00\x00\x00\x40%.0s' $(seq 15680); } >"$feat/$split-inputs.npy"
  cp "$work/good/mnist/t10k-labels-idx1-ubyte" "$feat/$split-labels.idx"
done
expect 0 "" -- "$nmode" train --dataset "$feat" --epochs 1 "${tiny[@]}" --no-test --out "$work/feat.safetensors"
expect 2 "in the box [0.000000, 1.000000]" -- "$nmode" attack --model "$work/feat.safetensors" --dataset "$feat" --eps 0.1 --n 20 --steps 2
expect 0 "" -- "$nmode" attack --model "$work/feat.safetensors" --dataset "$feat" --eps 0.1 --n 20 --steps 2 --box 0 3
expect 2 "--dataset $work/none: neither mnist, fashion nor a dataset folder" -- "$nmode" eval --model "$work/m.safetensors" --dataset "$work/none"
expect 1 "has no train-inputs.npy" -- "$nmode" train --dataset "$work/good" --epochs 1 "${tiny[@]}" --out "$work/x.safetensors"
# export --weights-only: a third of the size, the same predictions, not resumable.
expect 0 "" -- "$nmode" export --model "$work/m.safetensors" --out "$work/w.safetensors" --weights-only --json
[[ $(jq '.bytes * 2 < .from_bytes' "$work/out") == true ]] || { echo "FAIL: export is not smaller: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" predict --model "$work/m.safetensors" --input "$images" --output "$work/p1.csv"
expect 0 "" -- "$nmode" predict --model "$work/w.safetensors" --input "$images" --output "$work/p2.csv"
cmp -s "$work/p1.csv" "$work/p2.csv" || { echo "FAIL: the exported model predicts differently" >&2; failures=$((failures + 1)); }
expect 1 "is not a training checkpoint" -- "$nmode" train --data-dir "$work/good" --resume "$work/w.safetensors" --epochs 2 --out "$work/r.safetensors"
expect 2 "give --weights-only" -- "$nmode" export --model "$work/m.safetensors" --out "$work/w2.safetensors"
expect 2 "is the checkpoint itself" -- "$nmode" export --model "$work/m.safetensors" --out "$work/m.safetensors" --weights-only
# Classes without test images (the first 5 images hold classes 0-4) have no accuracy, not 0.
expect 0 "" -- "$nmode" eval --model "$work/m.safetensors" --data-dir "$work/good" --limit 5 --json
[[ $(jq -c '.per_class_accuracy[5:]' "$work/out") == "[null,null,null,null,null]" ]] ||
  { echo "FAIL: eval --limit 5: classes 5-9 should be null, got $(jq -c .per_class_accuracy "$work/out")" >&2; failures=$((failures + 1)); }
expect 0 "" -- "$nmode" eval --model "$work/m.safetensors" --data-dir "$work/good" --limit 5
grep -q " 9:n/a" "$work/out" || { echo "FAIL: eval text should show 9:n/a: $(cat "$work/out")" >&2; failures=$((failures + 1)); }

# Resuming: fewer epochs than the checkpoint has is an error; as many writes --out
# without training; --json keeps stdout a single JSON document.
expect 2 "has already trained 1 epochs" -- "$nmode" train --data-dir "$work/good" --resume "$work/m.safetensors" --epochs 0 --out "$work/r.safetensors"
expect 2 "so --lr, --hidden, --lambda cannot be given with it" -- "$nmode" train --data-dir "$work/good" --resume "$work/m.safetensors" --epochs 2 --hidden 64 --lr 0.5 --lambda 7 --out "$work/r.safetensors"
# A cosine schedule keeps the horizon it started with: another --epochs on resume is refused, none continues to it.
expect 0 "" -- "$nmode" train --data-dir "$work/good" --epochs 2 "${tiny[@]}" --lr-schedule cosine --no-test --out "$work/cos.safetensors"
expect 2 "follows a cosine learning-rate schedule over 2 epochs; resume with --epochs 2 or omit it" -- "$nmode" train --data-dir "$work/good" --resume "$work/cos.safetensors" --epochs 3 --out "$work/r.safetensors"
expect 2 "--lr-schedule: linear not in {constant,cosine}" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --lr-schedule linear --out "$work/x.safetensors"
# Every value is checked before any output or file: NaN where a number is wanted,
# output paths that cannot be written.
expect 2 "--step-size: must be a finite number > 0, got nan" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --step-size nan
expect 2 "--eps: must be a finite number >= 0, got nan" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 nan
[[ ! -s $work/out ]] || { echo "FAIL: attack printed before refusing --eps nan: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 2 "--delta: must be a finite number >= 0, got nan" -- "$nmode" certify --model "$work/m.safetensors" --data-dir "$work/good" --delta 0.001 nan
[[ ! -s $work/out ]] || { echo "FAIL: certify printed before refusing --delta nan: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 2 "--sheet $work/none/x.png: the folder $work/none does not exist" -- "$nmode" perturb --model "$work/m.safetensors" --data-dir "$work/good" --n 5 --sheet "$work/none/x.png"
[[ ! -s $work/out ]] || { echo "FAIL: perturb printed before refusing --sheet: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
# The --sheet extension picks the format (any case); another is refused before any output.
perturb=("$nmode" perturb --model "$work/m.safetensors" --data-dir "$work/good" --n 5 --noise 0.3 --resize 14 --blur 5 --brightness -0.2)
expect 0 "" -- "${perturb[@]}" --sheet "$work/s.svg"
[[ $(head -c 5 "$work/s.svg") == "<?xml" ]] && grep -q "SVG" "$work/out" || { echo "FAIL: --sheet s.svg did not write an SVG" >&2; failures=$((failures + 1)); }
expect 0 "" -- "${perturb[@]}" --sheet "$work/s.PNG"
[[ $(head -c 8 "$work/s.PNG" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || { echo "FAIL: --sheet s.PNG did not write a PNG" >&2; failures=$((failures + 1)); }
expect 2 "--sheet $work/s.jpg has the extension '.jpg', which is no sheet format; end the name in .png (an image) or .svg" -- "${perturb[@]}" --sheet "$work/s.jpg"
[[ ! -s $work/out && ! -e $work/s.jpg ]] || { echo "FAIL: perturb worked before refusing --sheet s.jpg: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
expect 2 "--out $work: is a folder" -- "$nmode" train --data-dir "$work/good" --epochs 1 "${tiny[@]}" --out "$work"
expect 0 "" -- "$nmode" train --data-dir "$work/good" --resume "$work/m.safetensors" --epochs 1 --no-test --json --out "$work/r.safetensors"
if [[ ! -s $work/r.safetensors ]] || [[ $(head -c 1 "$work/out") != "{" ]] || ! grep -q '"after_epoch": 1' "$work/out"; then
  echo "FAIL: resuming at the last epoch: want $work/r.safetensors and one JSON document on stdout, got:" >&2
  sed 's/^/    /' "$work/out" >&2
  failures=$((failures + 1))
fi

# Broken checkpoints: clear errors from every command that reads one.
head -c 100 "$work/m.safetensors" >"$work/cut.safetensors"
for file in garbage cut; do
  expect 1 "$file.safetensors" -- "$nmode" eval --model "$work/$file.safetensors" --data-dir "$work/good"
  expect 1 "$file.safetensors" -- "$nmode" info --model "$work/$file.safetensors"
done

# SIMD targets: NMODE_SIMD forces one by name (any case); an unknown one is a
# usage error before any work. Every target the CPU supports solves the paper's
# Table 1 case to the same printed value.
expect 2 "unknown SIMD target 'avx1024'" -- env NMODE_SIMD=avx1024 "$nmode" solve --lambda 5 --t-end 1 --gamma 0.2222
expect 0 "" -- env NMODE_SIMD=Scalar "$nmode" info
for target in $("$nmode" info --json | jq -r '.simd_supported[]'); do
  expect 0 "" -- env NMODE_SIMD="$target" "$nmode" solve --lambda 5 --t-end 1 --gamma 0.2222
  grep -q " 0\.01044" "$work/out" ||
    { echo "FAIL: NMODE_SIMD=$target solve printed: $(cat "$work/out")" >&2; failures=$((failures + 1)); }
done

# Devices: every command that computes takes --device. Without a GPU, cuda is an
# error that says so before any output or file, and auto falls back with a
# one-line notice; with one, both run.
device_commands=(
  "train --data-dir $work/good --epochs 1 ${tiny[*]} --no-test --out $work/dev.safetensors"
  "eval --model $work/m.safetensors --data-dir $work/good"
  "attack --model $work/m.safetensors --data-dir $work/good --eps 0.1 --n 20 --steps 2"
  "certify --model $work/m.safetensors --data-dir $work/good --n 20 --delta 0.01"
  "perturb --model $work/m.safetensors --data-dir $work/good --n 5 --noise 0.3 --resize --blur --brightness"
  "predict --model $work/m.safetensors --input $work/x.npy"
  "solve --lambda 3 --t-end 1 --gamma 0.5"
  "bench-solver --n 1000 --repeat 1"
  "demo --batch 4 --width 16")
gpu=0
"$nmode" info --json | grep -q '"gpu": true' && gpu=1
for command in "${device_commands[@]}"; do
  read -ra args <<<"$command"
  if ((gpu)); then
    expect 0 "" -- "$nmode" "${args[@]}" --device cuda
  else
    rm -f "$work/dev.safetensors"
    expect 1 "--device cuda: no usable GPU (" -- "$nmode" "${args[@]}" --device cuda
    [[ ! -s $work/out && ! -e $work/dev.safetensors ]] ||
      { echo "FAIL: ${args[0]} --device cuda worked before refusing: $(head -2 "$work/out")" >&2; failures=$((failures + 1)); }
    expect 0 "running on the CPU" -- "$nmode" "${args[@]}" --device auto
    [[ $(grep -c "running on the CPU" "$work/err") == 1 ]] ||
      { echo "FAIL: ${args[0]} --device auto: want one fallback notice, got: $(cat "$work/err")" >&2; failures=$((failures + 1)); }
  fi
done
# What the GPU path lacks stays on the CPU under auto, with the reason.
expect 0 "" -- "$nmode" certify --model "$work/m.safetensors" --data-dir "$work/good" --n 20 --delta 0.01 --device auto
((gpu == 0)) || grep -q "certify computes on the CPU" "$work/err" ||
  { echo "FAIL: certify --device auto on a GPU machine gave no notice" >&2; failures=$((failures + 1)); }

# tools/gpu-check.sh: an incomplete package is exit 2; no usable GPU is exit 3, before any check.
pkg="$work/gpu-check"
mkdir -p "$pkg/bin"
tools_dir="$(dirname "${BASH_SOURCE[0]}")/../../tools"
cp "$tools_dir/gpu-check.sh" "$pkg/"
expect 2 "gpu-tests.txt missing; build the folder with tools/gpu-package.sh" -- bash "$pkg/gpu-check.sh"
cp "$tools_dir/gpu-tests.txt" "$pkg/"
expect 2 "bin/nmode missing; build the folder with tools/gpu-package.sh" -- bash "$pkg/gpu-check.sh"
ln -s "$nmode" "$pkg/bin/nmode"
for f in bench_ode bench_train bench_attack $(cat "$tools_dir/gpu-tests.txt"); do
  ln -s /bin/true "$pkg/bin/$f"
done
# The binaries as gpu-package.sh packs them: a damaged archive is an incomplete package.
echo "not a gzip archive" >"$pkg/bin.tar.gz"
expect 2 "bin.tar.gz does not unpack" -- bash "$pkg/gpu-check.sh"
tar -czf "$pkg/bin.tar.gz" -C "$pkg" bin
if ((gpu == 0)); then
  expect 3 "gpu-check: no usable GPU: " -- bash "$pkg/gpu-check.sh"
  [[ ! -e $pkg/gpu-check-report.txt ]] || { echo "FAIL: gpu-check wrote a report without a GPU" >&2; failures=$((failures + 1)); }
fi

if ((gpu)); then
  expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --n 20 --steps 2 --device cuda
  # The model on the GPU, its surrogate's gradients on the CPU.
  expect 0 "" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --attack pgd surrogate-pgd --eps 0.1 --n 20 --steps 2 --device cuda
else
  expect 1 "no usable GPU" -- "$nmode" solve --lambda 3 --t-end 1 --gamma 0.5 --device cuda
  expect 1 "no usable GPU" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --n 20 --device cuda
  expect 0 "running on the CPU" -- "$nmode" attack --model "$work/m.safetensors" --data-dir "$work/good" --eps 0.1 --n 20 --steps 2 --device auto
fi

if ((failures)); then
  echo "$failures case(s) failed" >&2
  exit 1
fi
echo "all cases passed"
