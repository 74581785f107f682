#!/usr/bin/env bash
# The main job: set up (packages and data), build, then show the solver at work
# and train, evaluate and attack the reference MNIST model.
#   tools/run.sh            the full job (a few epochs on full MNIST)
#   tools/run.sh --quick    a reduced run that finishes in a few minutes
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

tools/setup.sh --data
cmake --preset release >/dev/null
cmake --build --preset release
nmode=build/release/bin/nmode

echo "== nmode info"
"$nmode" info
echo "== one nmODE layer (256 x 2048): throughput and the stability theorem"
"$nmode" demo
echo "== solver throughput, with sensitivities as in training"
"$nmode" bench-solver --sens

model=build/release/mnist_nmode.safetensors
if [[ $quick -eq 1 ]]; then
  train_args=(--epochs 1 --limit 10000)
  n=200
else
  train_args=(--epochs 10)
  n=1000
fi
echo "== train the reference model on MNIST (784 -> 2048 nmODE(lambda=3, t_end=1) -> 10)"
"$nmode" train --dataset mnist "${train_args[@]}" --out "$model"
echo "== evaluate"
"$nmode" eval --model "$model"
echo "== attack: FGSM and PGD-40 (L-inf), first $n test images"
"$nmode" attack --model "$model" --attack fgsm pgd --eps 0.01 0.03 0.05 --n "$n"
echo "== certify from the stability theorem (L-inf): the computed network, then the exact ODE map"
"$nmode" certify --model "$model" --n "$n" --delta 0.001 0.003 0.01
"$nmode" certify --model "$model" --n "$n" --delta 0.001 0.003 0.01 --exact-ode
echo "== natural perturbations"
"$nmode" perturb --model "$model" --n "$n" --sheet build/release/perturbations.png
