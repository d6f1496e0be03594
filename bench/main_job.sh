#!/usr/bin/env bash
# The main job's benchmark: one epoch of `cargo xtask train`'s default job
# (all-MiniLM-L6-v2 on rotten_tomatoes, batch 32, max_len 64, batches grouped
# by length, validation each epoch, the best epoch's test accuracy) with
# bert-burn (flex) and with transformers' Trainer doing the same work on the
# same splits, one after the other; prints the CPU, each side's training
# seconds, time to the first step and wall time, and the ratios.
#
#   bench/main_job.sh BERT_TRAIN_BINARY [EPOCHS] [OUTPUT.jsonl]
#
# BERT_TRAIN_BINARY is a release build (`cargo build --release -p bert-train
# --no-default-features --features flex`); PYTHON (default python3) must have
# torch, transformers and accelerate. PyTorch runs on as many threads as
# bert-burn: the cores this process may use.
set -eu
binary=$1
epochs=${2:-1}
output=${3:-$(mktemp --suffix=.jsonl)}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
"$python" "$here/hf_peer_train.py" --model minilm --epochs "$epochs" --binary "$binary" \
  --threads "$(nproc)" --output "$output"
