#!/usr/bin/env bash
# The CPU benchmark table: bert-burn (flex) and PyTorch + transformers on the
# same workloads, taking turns, ROUNDS times each, so that both sides see the
# same machine (its speed drifts by 20% and more within minutes on shared
# hosts); prints the CPU (model, family and model numbers, vector features),
# each side's median samples/s, the ratio, and bert-burn's step rate as a
# share of the feed-forward product's alone (the machine's own gemm peak).
#
#   bench/cpu_suite.sh BERT_TRAIN_BINARY [ROUNDS] [OUTPUT.jsonl]
#
# BERT_TRAIN_BINARY is a release build (`cargo build --release -p bert-train
# --no-default-features --features flex`); PYTHON (default python3) must have
# torch and transformers. PyTorch runs with OMP_NUM_THREADS = the core count.
# WORKLOADS overrides the list ("model mode batch seq" per line).
set -eu
binary=$1
rounds=${2:-3}
output=${3:-$(mktemp --suffix=.jsonl)}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
minilm_dir=$("$binary" fetch minilm)

default_workloads="minilm train 32 128
minilm train 32 64
minilm train 32 32
minilm infer 32 128
minilm infer 32 32
bert-base train 8 128
bert-base infer 8 128"
workloads=${WORKLOADS:-$default_workloads}

while read -r model mode batch seq; do
  flags=(--model "$model" --mode "$mode" --batch-size "$batch" --seq-len "$seq" --output "$output")
  peer_dir=()
  [[ $model == minilm ]] && peer_dir=(--model-dir "$minilm_dir")
  for ((round = 1; round <= rounds; round++)); do
    echo ">>> $model $mode batch $batch seq $seq, round $round of $rounds" >&2
    "$binary" bench "${flags[@]}" | tail -n 1 >&2
    "$python" "$here/pytorch_peer.py" "${flags[@]}" "${peer_dir[@]}" | tail -n 1 >&2
  done
done <<<"$workloads"

"$python" - "$output" <<'EOF'
import json, statistics, sys
from collections import defaultdict
runs, shares, machines = defaultdict(list), defaultdict(list), set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "samples_per_s" in r:
        key = (r["model"], r["mode"], r["batch_size"], r["seq_len"])
        runs[key, r["framework"]].append(r["samples_per_s"])
        machines.add(r["machine"])
        if r.get("gemm_peak_share") is not None:
            shares[key].append(r["gemm_peak_share"])
print("CPU: " + "; ".join(sorted(machines)))
print("| workload | bert-burn samples/s | PyTorch samples/s | bert-burn / PyTorch | bert-burn, share of its gemm peak | runs |")
print("|---|---|---|---|---|---|")
for key in dict.fromkeys(k for k, _ in runs):
    ours = statistics.median(runs[key, "burn-flex"])
    theirs = statistics.median(runs[key, "pytorch"])
    share = f"{100 * statistics.median(shares[key]):.0f}%" if shares[key] else "-"
    model, mode, batch, seq = key
    print(f"| {model} {mode}, batch {batch}, seq {seq} | {ours:.2f} | {theirs:.2f} "
          f"| **{ours / theirs:.2f}** | {share} | {len(runs[key, 'burn-flex'])} + {len(runs[key, 'pytorch'])} |")
EOF
