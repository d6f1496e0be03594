#!/usr/bin/env bash
# Data-parallel training on a machine with several CUDA GPUs (NCCL), which
# this project has not had: the check CPU replicas pass in CI, then a
# throughput table.
#
#   bench/ddp_check.sh BERT_TRAIN_BINARY [MAX_GPUS]
#
# BERT_TRAIN_BINARY is a release build with the cuda feature
# (`cargo build --release -p bert-train --no-default-features --features cuda`).
# Needs python3 with numpy and safetensors for the comparison, and
# all-MiniLM-L6-v2 in the asset cache (`bert-train fetch minilm`) for the table.
#
# 1. Same update: the tiny fixture model, dropout off, 16 sentences, 3 epochs
#    of one AdamW step: one GPU on batches of 16 against two GPUs on batches
#    of 8 (their gradients all-reduced by NCCL), clipping off and on. Every
#    weight must agree within 1e-5, as tests/tests/data_parallel.rs asserts
#    for CPU replicas.
# 2. Throughput: one epoch of the default job (all-MiniLM-L6-v2,
#    rotten_tomatoes, batch 32 per GPU) on 1, 2, 4 and 8 GPUs (as many as
#    there are, up to MAX_GPUS): the "trained in" time and validation accuracy
#    of each.
set -euo pipefail
binary=$1
max_gpus=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gpus=$(nvidia-smi --list-gpus | wc -l)
if ((gpus < 2)); then
  echo "needs at least 2 GPUs, found $gpus" >&2
  exit 1
fi
export BERT_BURN_BACKEND=cuda

model="$work/tiny"
cp -r "$here/tests/fixtures/tiny-bert-base" "$model"
python3 - "$model/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
config = json.load(open(path))
for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
    config[key] = 0.0
json.dump(config, open(path, "w"))
EOF

tiny_run() { # name max_grad_norm flags...
  local name=$1 clip=$2
  shift 2
  "$binary" train --model "$model" --dataset rotten_tomatoes \
    --max-train-samples 16 --max-eval-samples 16 --epochs 3 --max-len 32 \
    --lr 1e-3 --warmup-ratio 0 --best-metric loss --max-grad-norm "$clip" \
    --output-dir "$work/$name" "$@" >"$work/$name.log" 2>&1
}

echo "== same update: 1 GPU x 16 vs 2 GPUs x 8 (NCCL all-reduce)"
for clip in 0 0.01; do
  tiny_run "one-$clip" "$clip" --batch-size 16 --devices cuda:0
  tiny_run "two-$clip" "$clip" --batch-size 8 --devices cuda:0,cuda:1
  python3 - "$work/one-$clip/model.safetensors" "$work/two-$clip/model.safetensors" "$clip" <<'EOF'
import sys
import numpy as np
from safetensors.numpy import load_file
one, two = load_file(sys.argv[1]), load_file(sys.argv[2])
assert one.keys() == two.keys()
diff = max(float(np.abs(one[k] - two[k]).max()) for k in one)
verdict = "PASS" if diff <= 1e-5 else "FAIL"
print(f"--max-grad-norm {sys.argv[3]}: max |difference| {diff:.3g} {verdict}")
EOF
done

echo "== throughput: one epoch of the default job"
printf "%-6s %-12s %-10s %s\n" gpus "trained in" "global" accuracy
for n in 1 2 4 8; do
  if ((n > gpus || n > max_gpus)); then
    break
  fi
  run="$work/default-$n"
  "$binary" train --model minilm --dataset rotten_tomatoes --epochs 1 \
    --devices "$n" --output-dir "$run" >"$run.log" 2>&1
  seconds=$(grep -o 'trained in [0-9]* s' "$run.log" | grep -o '[0-9]*')
  accuracy=$(python3 -c "import json; print(json.load(open('$run/report.json'))['accuracy'])")
  printf "%-6s %-12s %-10s %s\n" "$n" "${seconds} s" "$((32 * n))" "$accuracy"
done
