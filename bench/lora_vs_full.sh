#!/usr/bin/env bash
# LoRA against full fine-tuning, both with the same release binary on the same
# machine, one after the other: the default job (all-MiniLM-L6-v2 on
# rotten_tomatoes, 3 epochs) and a base-size model (all-mpnet-base-v2, one
# epoch on the first 640 training sentences). Prints one row per run:
# trainable parameters, training seconds, samples/s of the last epoch, peak
# RSS, optimiser state on disk, test accuracy.
#
#   cargo build --release -p bert-train --no-default-features --features flex
#   bench/lora_vs_full.sh "$CARGO_TARGET_DIR/release/bert-train" [OUT_DIR]
# EPOCHS and MAX_TRAIN shorten the MiniLM pair; PAIRS=minilm or PAIRS=mpnet runs one pair.
set -euo pipefail

binary=${1:?usage: lora_vs_full.sh BERT_TRAIN_BINARY [OUT_DIR]}
out=${2:-$(mktemp -d)}
lora=(--lora-rank 8 --lora-alpha 16 --lr 5e-4)

run() {
  local name=$1
  shift
  local dir="$out/$name"
  /usr/bin/time -f "%M" -o "$dir.rss" "$binary" train --output-dir "$dir" --overwrite "$@" \
    > "$dir.log" 2>&1
  local trainable seconds throughput rss optim accuracy
  trainable=$(grep -o '[0-9]* of [0-9]* parameters train' "$dir.log" || echo "all")
  seconds=$(grep -o 'trained in [0-9]* s' "$dir.log" | grep -o '[0-9]*')
  throughput=$(grep 'train:' "$dir.log" | tail -1 | grep -o 'Throughput [0-9.]*' | cut -d' ' -f2)
  rss=$(( $(tail -1 "$dir.rss") / 1024 ))
  optim=$(ls -S "$dir"/checkpoint/optim-*.bpk | head -1 | xargs stat -c %s)
  accuracy=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['accuracy'])" \
    "$dir/report.json")
  printf '%-12s | %-32s | %6s s | %8s samples/s | %6s MB RSS | %8.1f MB optimiser | accuracy %s\n' \
    "$name" "$trainable" "$seconds" "$throughput" "$rss" "$(echo "$optim / 1048576" | bc -l)" \
    "$accuracy"
}

pairs=${PAIRS:-minilm mpnet}
minilm=(--epochs "${EPOCHS:-3}" --max-train-samples "${MAX_TRAIN:-6824}")
mpnet=(--model mpnet --epochs 1 --max-train-samples 640 --max-eval-samples 320)
for pair in $pairs; do
  declare -n flags=$pair
  run "$pair-full" "${flags[@]}"
  run "$pair-lora" "${flags[@]}" "${lora[@]}"
done
