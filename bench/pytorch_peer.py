#!/usr/bin/env python3
"""The PyTorch + transformers peer of `cargo xtask bench`: the same workloads,
the same JSON keys, so that one table shows both frameworks.

    pip install torch transformers
    python3 bench/pytorch_peer.py --model minilm --model-dir "$(cargo xtask fetch minilm)" --mode train
    python3 bench/pytorch_peer.py --model mpnet --model-dir "$(cargo xtask fetch mpnet)" --mode train
    python3 bench/pytorch_peer.py --model bert-base --mode infer --batch-size 8 --output bench.jsonl
    python3 bench/pytorch_peer.py --model deberta-v3-base --mode train --batch-size 8

Train = forward + backward + AdamW step with dropout on (model.train());
infer = forward only under torch.no_grad(). Inputs are random token ids of a
fixed shape without padding, as in the Rust harness. On a GPU
(`--device cuda`) every step is synchronised; `--dtype bf16` runs under
`torch.autocast` (PyTorch's usual mixed precision: fp32 weights and optimiser).
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
from transformers import (AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification,
                          DebertaV2Config, DebertaV2ForSequenceClassification)

from machine import describe_cpu

# The real checkpoints, by the name `cargo xtask fetch` installs them under.
REAL = ("minilm", "mpnet")


# microsoft/deberta-v3-base's config.json (the Rust harness has the same).
DEBERTA_V3_BASE = dict(attention_probs_dropout_prob=0.1, hidden_act="gelu", hidden_dropout_prob=0.1,
                       hidden_size=768, initializer_range=0.02, intermediate_size=3072,
                       max_position_embeddings=512, relative_attention=True, position_buckets=256,
                       norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type="p2c|c2p",
                       layer_norm_eps=1e-7, max_relative_positions=-1, position_biased_input=False,
                       num_attention_heads=12, num_hidden_layers=12, type_vocab_size=0,
                       vocab_size=128100)


def build_model(name, model_dir, random_init):
    if name in REAL and not random_init:
        if not model_dir:
            raise SystemExit(f"--model {name} needs --model-dir (cargo xtask fetch {name} prints it) or --random-init")
        return AutoModelForSequenceClassification.from_pretrained(
            model_dir, num_labels=2, attn_implementation="eager")
    if name == "deberta-v3-base":
        config = DebertaV2Config(num_labels=2, attn_implementation="eager", **DEBERTA_V3_BASE)
        return DebertaV2ForSequenceClassification(config)
    geometry = {"num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536} if name == "minilm" else {}
    config = BertConfig(num_labels=2, attn_implementation="eager", **geometry)  # bert-base geometry by default
    return BertForSequenceClassification(config)


def geometry(name):
    """(layers, hidden, intermediate) of the bench's models."""
    return (6, 384, 1536) if name == "minilm" else (12, 768, 3072)


def step_flop(name, mode, batch, seq_len):
    """The Rust harness's `step_flop`: encoder matrix products only."""
    layers, h, i = geometry(name)
    tokens = batch * seq_len
    forward = tokens * layers * (8 * h * h + 4 * h * i + 4 * seq_len * h)
    return {"train": 3 * forward, "infer": forward, "matmul": 2 * tokens * h * i}[mode]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["minilm", "mpnet", "bert-base", "deberta-v3-base"],
                        default="minilm")
    parser.add_argument("--model-dir")
    parser.add_argument("--mode", choices=["train", "infer", "matmul"], default="train")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--random-init", action="store_true", help="the model's geometry with random weights")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    model = build_model(args.model, args.model_dir, args.random_init or args.mode == "matmul").to(device)
    _, hidden, intermediate = geometry(args.model)
    a = torch.randn(args.batch_size * args.seq_len, hidden, device=device)
    b = torch.randn(hidden, intermediate, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.01)
    shape = (args.batch_size, args.seq_len)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16")
    times = []
    for step in range(args.warmup + args.steps):
        ids = torch.randint(1000, 30000, shape, device=device)
        labels = torch.randint(0, 2, (args.batch_size,), device=device)
        mask = torch.ones(shape, dtype=torch.long, device=device)
        if gpu:
            torch.cuda.synchronize()
        started = time.perf_counter()
        if args.mode == "matmul":
            (a @ b).sum().item()
        elif args.mode == "train":
            model.train()
            with autocast:
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        else:
            model.eval()
            with torch.no_grad(), autocast:
                model(input_ids=ids, attention_mask=mask).logits.float().cpu().numpy()
        if gpu:
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - started)

    median = statistics.median(times)
    result = {
        "framework": "pytorch",
        "model": args.model,
        "mode": args.mode,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "steps": args.steps,
        "samples_per_s": args.batch_size / median,
        "tokens_per_s": args.batch_size * args.seq_len / median,
        "gflop_per_s": step_flop(args.model, args.mode, args.batch_size, args.seq_len) / median / 1e9,
        "ms_per_step_median": median * 1e3,
        "ms_per_step_min": min(times) * 1e3,
        "ms_per_step_max": max(times) * 1e3,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_device_mib": torch.cuda.max_memory_reserved() / 2**20 if gpu else None,
        "machine": torch.cuda.get_device_name() if gpu else describe_cpu(),
    }
    print(
        f"{'pytorch':<14} {args.model:<9} {args.mode:<6} {args.dtype:<4} batch {args.batch_size:>3} seq {args.seq_len:>4}: "
        f"{result['samples_per_s']:>8.2f} samples/s {result['tokens_per_s']:>10.0f} tokens/s "
        f"{result['gflop_per_s']:>8.1f} GFLOP/s  "
        f"{result['ms_per_step_median']:>8.1f} ms/step (min {result['ms_per_step_min']:.1f}, "
        f"max {result['ms_per_step_max']:.1f})  peak RSS {result['peak_rss_mib']:.0f} MiB"
    )
    if args.output:
        with open(args.output, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
