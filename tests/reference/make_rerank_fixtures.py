#!/usr/bin/env python3
"""Reference values for `--task reranking`, from sentence-transformers.

1. tests/fixtures/rerank/run/: a reranking run of the tiny BERT
   (tests/fixtures/tiny-bert-base), trained for one short epoch with
   bert-burn's CLI on the (anchor, positive) pairs of
   tests/fixtures/sentence/pairs with 2 random negatives per query,
   keeping the files a Hugging Face model directory has.
2. tests/fixtures/rerank/expected.json:
   - `cross_encoder`: the run opened with `CrossEncoder(run)` as it is,
     its scores (`predict`) of fixed (query, passage) pairs, and the logits
     `AutoModelForSequenceClassification` gives them;
   - `metrics`: `CrossEncoderRerankingEvaluator.compute_metrics` (MRR@10,
     NDCG@10, AP) on fixed labels and scores, per query.

tests/tests/reranking.rs checks bert-burn against these files.

Run from the repository root:
    pip install torch transformers sentence-transformers
    python3 tests/reference/make_rerank_fixtures.py
"""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import sentence_transformers
import torch
from sentence_transformers.cross_encoder import CrossEncoder
from sentence_transformers.cross_encoder.evaluation import CrossEncoderRerankingEvaluator
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/rerank"
HF_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "vocab.txt", "training_args.json"]
PAIRS = [["A man is playing a guitar.", "A man plays the guitar."],
         ["A man is playing a guitar.", "A woman is slicing an onion."],
         ["Two dogs run in the snow.", "Dogs are running through snow."]]
# Per query: labels and scores, ties left out (ranks are then unambiguous).
RANKINGS = [([0, 1, 0, 1], [0.9, 0.8, 0.5, 0.1]),
            ([1, 0, 0], [0.2, 0.7, 0.6]),
            ([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1], [.95, .9, .85, .8, .75, .7, .65, .6, .55, .5, .45, .4]),
            ([1], [0.3])]


def train():
    run = OUT / "run"
    command = ["cargo", "run", "--quiet", "-p", "bert-train", "--features", "ndarray", "--",
               "train", "--task", "reranking", "--model", "tests/fixtures/tiny-bert-base",
               "--dataset", "tests/fixtures/sentence/pairs", "--negatives-per-query", "2",
               "--output-dir", str(run.relative_to(ROOT)), "--overwrite", "--epochs", "1",
               "--batch-size", "16", "--max-len", "64", "--lr", "1e-3"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for entry in run.iterdir():
        if entry.name not in HF_FILES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return run


def cross_encoder(run):
    model = CrossEncoder(str(run), device="cpu")
    scores = model.predict(PAIRS, convert_to_numpy=True)
    tokenizer = AutoTokenizer.from_pretrained(run)
    classifier = AutoModelForSequenceClassification.from_pretrained(run).eval()
    batch = tokenizer([p[0] for p in PAIRS], [p[1] for p in PAIRS], padding=True,
                      truncation=True, return_tensors="pt")
    with torch.no_grad():
        logits = classifier(**batch).logits
    return {"pairs": PAIRS, "scores": [round(float(s), 7) for s in scores],
            "logits": [round(float(x), 7) for x in logits.flatten()],
            "class": type(classifier).__name__}


def metrics():
    evaluator = CrossEncoderRerankingEvaluator([{"query": "q", "positive": ["p"], "negative": ["n"]}])
    return [{"labels": labels, "scores": scores,
             "mrr@10_ndcg@10_ap": [float(v) for v in evaluator.compute_metrics(
                 np.array(labels), np.array(scores), sum(labels))]}
            for labels, scores in RANKINGS]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    run = train()
    expected = {"sentence_transformers": sentence_transformers.__version__,
                "cross_encoder": cross_encoder(run), "metrics": metrics()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
