#!/usr/bin/env python3
"""Train a sentence embedding with bert-burn and with sentence-transformers'
trainer, one after the other on this machine, on the same data with the
same recipe, and print both sides' wall time and test scores.

Two jobs (`--job`):
- `cosent`: STS-B's official train split (5,749 pairs, scores / 5), CoSENTLoss;
  validation Spearman on the dev split each epoch, test Spearman (cosine
  against score, `EmbeddingSimilarityEvaluator`) on the test split.
- `mnrl`: the STS-B pairs scored 4 or more as (anchor, positive) rows,
  MultipleNegativesRankingLoss with batches holding no text twice
  (`BatchSamplers.NO_DUPLICATES`); the dev and test pairs so made are the
  validation and test splits, scored by retrieval of each anchor's positive
  among the split's positives (`InformationRetrievalEvaluator`: MRR@10,
  NDCG@10, ...).

The recipe: AdamW lr 2e-5 (eps 1e-8, weight decay 0.01), linear warm-up over
10% of the steps then decay to 0, gradient clipping at 1.0, seed 42, the
model's max_seq_length (256 for all-MiniLM-L6-v2, 384 for
all-mpnet-base-v2), batch 16 (`--batch-size`), 1 epoch (`--epochs`). The
one difference: bert-burn groups its batches by length (its default, and
the `--group-by-length false` run shows the cost of random batches);
sentence-transformers' trainer draws them at random. Before training, each
job scores the untouched model on the test split (sentence-transformers'
evaluator; bert-burn's embeddings equal it to 1e-5, tests/tests/sentence_embedding.rs).

    pip install torch transformers sentence-transformers datasets accelerate
    cargo build --release -p bert-train
    python3 bench/st_peer_train.py --job cosent --model minilm \\
        --binary "$CARGO_TARGET_DIR/release/bert-train" --output st.jsonl

Each side's wall time runs from loading the model to the test report;
cpu_percent is its CPU time over that wall time.
"""
import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from machine import describe_cpu

CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
MAX_SEQ_LENGTH = {"minilm": 256, "mpnet": 384}


def sts_rows(split):
    """(sentence1, sentence2, score / 5) of an STS-B split in bert-burn's cache."""
    rows = []
    for line in (CACHE / f"sts_b/sts-{split}.csv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        rows.append((fields[5], fields[6], float(fields[4]) / 5))
    return rows


def write_data(job, directory: Path):
    """The job's train/validation/test JSON-lines files, as both sides read them."""
    sizes = {}
    for split, name in [("train", "train"), ("dev", "validation"), ("test", "test")]:
        rows = sts_rows(split)
        if job == "mnrl":
            keys, rows = ("anchor", "positive"), [(a, b) for a, b, score in rows if score >= 0.8]
        else:
            keys = ("sentence1", "sentence2", "score")
        body = "".join(json.dumps(dict(zip(keys, row))) + "\n" for row in rows)
        (directory / f"{name}.jsonl").write_text(body, encoding="utf-8")
        sizes[name] = len(rows)
    return sizes


def read_rows(path: Path):
    return [list(json.loads(line).values()) for line in path.read_text(encoding="utf-8").splitlines()]


def evaluator(job, rows, name):
    """sentence-transformers' evaluator of the job on `rows`."""
    from sentence_transformers import util
    from sentence_transformers.evaluation import (EmbeddingSimilarityEvaluator,
                                                  InformationRetrievalEvaluator)
    if job == "cosent":
        return EmbeddingSimilarityEvaluator([r[0] for r in rows], [r[1] for r in rows],
                                            [float(r[2]) for r in rows], name=name,
                                            similarity_fn_names=["cosine"])
    queries, corpus, relevant, query_ids, document_ids = {}, {}, {}, {}, {}
    for anchor, positive in rows:
        qid = query_ids.setdefault(anchor, f"{len(query_ids):08}")
        did = document_ids.setdefault(positive, f"{len(document_ids):08}")
        queries[qid], corpus[did] = anchor, positive
        relevant.setdefault(qid, set()).add(did)
    return InformationRetrievalEvaluator(queries, corpus, relevant, name=name,
                                         score_functions={"cosine": util.cos_sim})


def scores(job, result, name):
    """The evaluator's scores under bert-burn's report names."""
    if job == "cosent":
        return {"spearman": result[f"{name}_spearman_cosine"],
                "pearson": result[f"{name}_pearson_cosine"]}
    return {key: result[f"{name}_cosine_{key}"]
            for key in ["mrr@10", "ndcg@10", "recall@1", "recall@10", "map@100"]}


def run_bert_burn(args, data: Path, run: Path, group_by_length: bool):
    loss = "cosent" if args.job == "cosent" else "mnrl"
    command = [args.binary, "train", "--task", "sentence-embedding", "--loss", loss,
               "--model", args.model, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--lr", "2e-5", "--warmup-ratio", "0.1",
               "--weight-decay", "0.01", "--max-len", str(MAX_SEQ_LENGTH[args.model]),
               "--group-by-length", str(group_by_length).lower(),
               "--train-file", str(data / "train.jsonl"),
               "--validation-file", str(data / "validation.jsonl"),
               "--test-file", str(data / "test.jsonl"), "--output-dir", str(run)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads((run / "report.json").read_text())
    test = report["similarity"] if args.job == "cosent" else report["retrieval"]
    cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    return {"side": "bert-burn", "group_by_length": group_by_length,
            "seconds": round(seconds, 1), "test": test,
            "cpu_percent": round(100 * cpu / seconds), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def run_sentence_transformers(args, data: Path, run: Path, model_dir: str):
    import torch
    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.losses import CoSENTLoss, MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers
    start = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH[args.model]
    train_rows = read_rows(data / "train.jsonl")
    if args.job == "cosent":
        train = Dataset.from_dict({"sentence1": [r[0] for r in train_rows],
                                   "sentence2": [r[1] for r in train_rows],
                                   "score": [float(r[2]) for r in train_rows]})
        loss, sampler = CoSENTLoss(model), BatchSamplers.BATCH_SAMPLER
    else:
        train = Dataset.from_dict({"anchor": [r[0] for r in train_rows],
                                   "positive": [r[1] for r in train_rows]})
        loss, sampler = MultipleNegativesRankingLoss(model), BatchSamplers.NO_DUPLICATES
    training_args = SentenceTransformerTrainingArguments(
        output_dir=str(run), num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        learning_rate=2e-5, warmup_ratio=0.1, weight_decay=0.01, adam_epsilon=1e-8,
        max_grad_norm=1.0, lr_scheduler_type="linear", seed=42, batch_sampler=sampler,
        eval_strategy="epoch", save_strategy="no", logging_strategy="epoch", report_to="none",
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=True)
    validation = evaluator(args.job, read_rows(data / "validation.jsonl"), "validation")
    trainer = SentenceTransformerTrainer(model=model, args=training_args, train_dataset=train,
                                         loss=loss, evaluator=validation)
    trainer.train()
    test = scores(args.job, evaluator(args.job, read_rows(data / "test.jsonl"), "test")(model), "test")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime - cpu_start.ru_utime) + (usage.ru_stime - cpu_start.ru_stime)
    return {"side": "sentence-transformers", "seconds": round(seconds, 1), "test": test,
            "cpu_percent": round(100 * cpu / seconds), "peak_rss_mib": round(usage.ru_maxrss / 1024)}


def score_untrained(args, data: Path, model_dir: str):
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = MAX_SEQ_LENGTH[args.model]
    return scores(args.job, evaluator(args.job, read_rows(data / "test.jsonl"), "test")(model), "test")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--job", choices=["cosent", "mnrl"], default="cosent")
    parser.add_argument("--model", choices=["minilm", "mpnet"], default="minilm")
    parser.add_argument("--binary", required=True, help="bert-train, release build")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sides", default="bert-burn,bert-burn-random,sentence-transformers",
                        help="comma-separated, run in this order")
    parser.add_argument("--output", help="append the results as a JSON line")
    args = parser.parse_args()
    model_dir = subprocess.run([args.binary, "fetch", args.model], check=True,
                               capture_output=True, text=True).stdout.strip()
    results = {"job": args.job, "model": args.model, "epochs": args.epochs,
               "batch_size": args.batch_size, "cpu": describe_cpu(), "threads": args.threads}
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        data.mkdir()
        results["rows"] = write_data(args.job, data)
        results["untrained"] = score_untrained(args, data, model_dir)
        print(json.dumps(results), flush=True)
        sides = []
        for side in args.sides.split(","):
            run = Path(scratch) / side
            if side == "sentence-transformers":
                result = run_sentence_transformers(args, data, run, model_dir)
            else:
                result = run_bert_burn(args, data, run, group_by_length=side == "bert-burn")
            print(json.dumps(result), flush=True)
            sides.append(result)
        results["sides"] = sides
    peer = next((s for s in sides if s["side"] == "sentence-transformers"), None)
    if peer:
        for side in sides:
            if side is not peer:
                print(f"{side['side']} (group_by_length={side['group_by_length']}): "
                      f"{peer['seconds'] / side['seconds']:.2f}x sentence-transformers' speed")
    if args.output:
        with open(args.output, "a") as out:
            out.write(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
