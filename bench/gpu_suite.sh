#!/usr/bin/env bash
# The GPU benchmark table: PyTorch (eager, autocast for bf16) and burn's cuda
# and wgpu backends on the same workloads (bf16: burn's mixed precision, and
# pure bf16 on cuda), one JSON line per run.
#
#   bench/gpu_suite.sh BERT_TRAIN_BINARY OUTPUT.jsonl
#
# BERT_TRAIN_BINARY is a release build of bert-train with the `cuda` and
# `wgpu` features (`cargo build --release -p bert-train --no-default-features
# --features wgpu,cuda`); BERT_BURN_BACKEND picks the backend of each run.
# MiniLM runs use its geometry with random weights (--random-init): speed does
# not depend on the weights, and the GPU machine needs no download.
# BUDGET_S (default 540) stops starting new runs when time is short; RUN_LIMIT_S
# (default 150) bounds each run, JIT compilation included.
set -u
binary=$1
output=$2
budget=${BUDGET_S:-540}
limit=${RUN_LIMIT_S:-150}
started=$SECONDS
here=$(cd "$(dirname "$0")" && pwd)

# model mode batch dtype
# (bert-base is all-mpnet-base-v2's geometry: 12 layers of 768, 12 heads.)
workloads=(
  "minilm train 32 f32"
  "minilm train 32 bf16"
  "minilm train 256 bf16"
  "bert-base train 32 f32"
  "bert-base train 32 bf16"
  "bert-base train 256 bf16"
  "minilm infer 32 f32"
  "bert-base infer 32 bf16"
)

time_left() {
  local left=$((budget - (SECONDS - started)))
  if ((left < 30)); then
    echo "skipped (budget spent): $*"
    return 1
  fi
  echo ">>> $* ($((SECONDS - started)) s in)"
}

for workload in "${workloads[@]}"; do
  read -r model mode batch dtype <<<"$workload"
  time_left pytorch "$workload" || continue
  timeout "$limit" python3 "$here/pytorch_peer.py" --device cuda --random-init --model "$model" \
    --mode "$mode" --batch-size "$batch" --dtype "$dtype" --steps 20 --warmup 3 --output "$output" \
    || echo "pytorch $workload failed ($?)"
done

# burn's float settings for a workload's dtype on a backend: f32 as is; bf16
# as mixed precision (PyTorch's autocast: --precision bf16) and, on cuda, also
# pure (--dtype bf16: parameters too); wgpu has no bf16, so its mixed run is f16.
float_settings() {
  local dtype=$1 backend=$2
  if [[ $dtype == f32 ]]; then
    echo "--dtype f32"
  elif [[ $backend == cuda ]]; then
    echo "--precision bf16"
    echo "--dtype bf16"
  else
    echo "--precision f16"
  fi
}

for workload in "${workloads[@]}"; do
  for backend in cuda wgpu; do
    read -r model mode batch dtype <<<"$workload"
    while read -r settings; do
      time_left "$backend" "$workload" "$settings" || continue
      # shellcheck disable=SC2086 # $settings is two words on purpose
      BERT_BURN_BACKEND=$backend timeout "$limit" "$binary" bench --random-init --model "$model" \
        --mode "$mode" --batch-size "$batch" $settings --steps 20 --warmup 3 --output "$output" \
        || echo "$backend $workload $settings failed ($?)"
    done < <(float_settings "$dtype" "$backend")
  done
done
