#!/usr/bin/env python3
"""Train a reranker (cross-encoder) with bert-burn and with
sentence-transformers' CrossEncoder trainer, one after the other on this
machine, on the same labelled pairs with the same recipe, and print both
sides' wall time and test reranking scores.

Data: the STS-B pairs scored 4 or more, (query, positive); each query gets
3 negatives, mined with all-MiniLM-L6-v2 as a bi-encoder by
sentence-transformers' `mine_hard_negatives` (the first-ranked passages
that are not the query's own, after skipping rank 0) or drawn at random
from the split's other positives. Training rows are (query, passage, label)
files both sides read; the test split's queries are reranked among their
positive and 3 mined negatives (`CrossEncoderRerankingEvaluator`:
MRR@10, NDCG@10, MAP) by both sides. A third bert-burn run mines its own
negatives (`--mine-negatives-with minilm`) from the raw pairs.

The recipe: all-MiniLM-L6-v2 with a new one-logit head, binary
cross-entropy, AdamW lr 2e-5 (weight decay 0.01), 10% warm-up, clipping
1.0, seed 42, max length 256, batch 16, 1 epoch.

    pip install torch transformers sentence-transformers datasets accelerate
    cargo build --release -p bert-train
    python3 bench/ce_peer_train.py --binary "$CARGO_TARGET_DIR/release/bert-train"
"""
import argparse
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))


def sts_pairs(split):
    pairs = []
    for line in (CACHE / f"sts_b/sts-{split}.csv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if float(fields[4]) >= 4.0:
            pairs.append((fields[5], fields[6]))
    return pairs


def mined(pairs, embedder, count=3):
    """{query: [negatives]} from sentence-transformers' mine_hard_negatives."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives
    dataset = Dataset.from_dict({"query": [q for q, _ in pairs], "positive": [p for _, p in pairs]})
    result = mine_hard_negatives(dataset, embedder, num_negatives=count, range_min=1,
                                 sampling_strategy="top", output_format="n-tuple",
                                 use_faiss=False, verbose=False)
    negatives = {}
    for row in result:
        negatives[row["query"]] = [row[f"negative_{i + 1}"] for i in range(count)]
    return negatives


def random_negatives(pairs, count=3, seed=42):
    rng = random.Random(seed)
    passages = sorted({p for _, p in pairs})
    out = {}
    for query, positive in pairs:
        pool = [p for p in passages if p != positive]
        out[query] = rng.sample(pool, count)
    return out


def write_labelled(path, pairs, negatives):
    with open(path, "w", encoding="utf-8") as f:
        for query, positive in pairs:
            if query not in negatives:
                continue
            f.write(json.dumps({"query": query, "passage": positive, "label": 1}) + "\n")
            for negative in negatives[query]:
                f.write(json.dumps({"query": query, "passage": negative, "label": 0}) + "\n")


def write_pairs(path, pairs):
    with open(path, "w", encoding="utf-8") as f:
        for query, positive in pairs:
            f.write(json.dumps({"query": query, "positive": positive}) + "\n")


def run_bert_burn(args, files, run, extra=()):
    command = [args.binary, "train", "--task", "reranking", "--model", "minilm",
               "--epochs", "1", "--batch-size", "16", "--lr", "2e-5", "--warmup-ratio", "0.1",
               "--weight-decay", "0.01", "--max-len", "256",
               "--train-file", str(files["train"]), "--validation-file", str(files["validation"]),
               "--test-file", str(files["test"]), "--output-dir", str(run), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads((run / "report.json").read_text())["reranking"]
    cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    return {"seconds": round(seconds, 1), "test": report, "cpu_percent": round(100 * cpu / seconds)}


def rerank_samples(path):
    samples = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        sample = samples.setdefault(row["query"], {"query": row["query"], "positive": [], "negative": []})
        (sample["positive"] if row["label"] else sample["negative"]).append(row["passage"])
    return list(samples.values())


def run_sentence_transformers(args, files, run, model_dir):
    import torch
    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (CrossEncoder, CrossEncoderTrainer,
                                                     CrossEncoderTrainingArguments)
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    start = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    model = CrossEncoder(model_dir, num_labels=1, max_length=256, device="cpu")
    rows = [json.loads(line) for line in Path(files["train"]).read_text().splitlines()]
    train = Dataset.from_dict({"query": [r["query"] for r in rows],
                               "passage": [r["passage"] for r in rows],
                               "label": [float(r["label"]) for r in rows]})
    training_args = CrossEncoderTrainingArguments(
        output_dir=str(run), num_train_epochs=1, per_device_train_batch_size=16,
        learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, max_grad_norm=1.0, seed=42,
        eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True)
    validation = CrossEncoderRerankingEvaluator(rerank_samples(files["validation"]), name="validation")
    trainer = CrossEncoderTrainer(model=model, args=training_args, train_dataset=train,
                                  loss=BinaryCrossEntropyLoss(model), evaluator=validation)
    trainer.train()
    result = CrossEncoderRerankingEvaluator(rerank_samples(files["test"]), name="test")(model)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - cpu_start.ru_utime) + (usage.ru_stime - cpu_start.ru_stime)
    return {"seconds": round(seconds, 1), "cpu_percent": round(100 * cpu / seconds),
            "test": {"mrr@10": result["test_mrr@10"], "ndcg@10": result["test_ndcg@10"],
                     "map": result["test_map"]}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", help="append the results as a JSON line")
    args = parser.parse_args()
    model_dir = subprocess.run([args.binary, "fetch", "minilm"], check=True,
                               capture_output=True, text=True).stdout.strip()
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    embedder = SentenceTransformer(model_dir, device="cpu")
    splits = {"train": sts_pairs("train"), "validation": sts_pairs("dev"), "test": sts_pairs("test")}
    results = {"rows": {k: len(v) for k, v in splits.items()}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        hard = {name: mined(pairs, embedder) for name, pairs in splits.items()}
        easy = random_negatives(splits["train"])
        files = {}
        for name, pairs in splits.items():
            files[name] = scratch / f"{name}.jsonl"
            write_labelled(files[name], pairs, hard[name])
        random_files = dict(files, train=scratch / "train-random.jsonl")
        write_labelled(random_files["train"], splits["train"], easy)
        raw = {name: scratch / f"{name}-pairs.jsonl" for name in splits}
        for name, pairs in splits.items():
            write_pairs(raw[name], pairs)
        sides = {
            "bert-burn, mined negatives": lambda: run_bert_burn(args, files, scratch / "mined"),
            "bert-burn, random negatives": lambda: run_bert_burn(args, random_files, scratch / "random"),
            "bert-burn, mining itself": lambda: run_bert_burn(
                args, dict(raw, test=files["test"]), scratch / "self-mined",
                ["--mine-negatives-with", "minilm", "--negatives-per-query", "3", "--mine-range-min", "1"]),
            "sentence-transformers, mined negatives": lambda: run_sentence_transformers(
                args, files, scratch / "st", model_dir),
        }
        for name, side in sides.items():
            result = side()
            result["side"] = name
            print(json.dumps(result), flush=True)
            results[name] = result
    if args.output:
        with open(args.output, "a") as out:
            out.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
