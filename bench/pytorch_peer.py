#!/usr/bin/env python3
"""The PyTorch + transformers peer of `cargo xtask bench`: the same workloads,
the same JSON keys, so that one table shows both frameworks.

    pip install torch transformers
    python3 bench/pytorch_peer.py --model minilm --model-dir "$(cargo xtask fetch minilm)" --mode train
    python3 bench/pytorch_peer.py --model bert-base --mode infer --batch-size 8 --output bench.jsonl

Train = forward + backward + AdamW step with dropout on (model.train());
infer = forward only under torch.no_grad(). Inputs are random token ids of a
fixed shape without padding, as in the Rust harness.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification


def build_model(name, model_dir):
    if name == "minilm":
        if not model_dir:
            raise SystemExit("--model minilm needs --model-dir (cargo xtask fetch minilm prints it)")
        return BertForSequenceClassification.from_pretrained(model_dir, num_labels=2, attn_implementation="eager")
    config = BertConfig(num_labels=2, attn_implementation="eager")  # bert-base geometry
    return BertForSequenceClassification(config)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["minilm", "bert-base"], default="minilm")
    parser.add_argument("--model-dir")
    parser.add_argument("--mode", choices=["train", "infer"], default="train")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    model = build_model(args.model, args.model_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.01)
    shape = (args.batch_size, args.seq_len)
    times = []
    for step in range(args.warmup + args.steps):
        ids = torch.randint(1000, 30000, shape)
        labels = torch.randint(0, 2, (args.batch_size,))
        started = time.perf_counter()
        if args.mode == "train":
            model.train()
            loss = model(input_ids=ids, attention_mask=torch.ones(shape, dtype=torch.long), labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            model.eval()
            with torch.no_grad():
                model(input_ids=ids, attention_mask=torch.ones(shape, dtype=torch.long)).logits.numpy()
        if step >= args.warmup:
            times.append(time.perf_counter() - started)

    median = statistics.median(times)
    result = {
        "framework": "pytorch",
        "model": args.model,
        "mode": args.mode,
        "dtype": "f32",
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "steps": args.steps,
        "samples_per_s": args.batch_size / median,
        "tokens_per_s": args.batch_size * args.seq_len / median,
        "ms_per_step_median": median * 1e3,
        "ms_per_step_min": min(times) * 1e3,
        "ms_per_step_max": max(times) * 1e3,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
    }
    print(
        f"{'pytorch':<14} {args.model:<9} {args.mode:<6} batch {args.batch_size:>3} seq {args.seq_len:>4}: "
        f"{result['samples_per_s']:>8.2f} samples/s {result['tokens_per_s']:>10.0f} tokens/s  "
        f"{result['ms_per_step_median']:>8.1f} ms/step (min {result['ms_per_step_min']:.1f}, "
        f"max {result['ms_per_step_max']:.1f})  peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    if args.output:
        with open(args.output, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
