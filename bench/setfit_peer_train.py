#!/usr/bin/env python3
"""Few-shot classification: bert-burn's `--task few-shot`, the `setfit`
library and bert-burn's plain classifier, one after the other on this
machine, on the same few examples, and print each side's wall time and
test accuracy (mean and standard deviation over the seeds).

Data: rotten_tomatoes as hf_peer_train.py splits it (bert-burn's cache,
80/10/10, seed 42). For each seed, K examples per label are drawn from the
training split (and K per label from the validation split, which only the
plain classifier uses, to keep its best epoch); the test split (853
sentences) is scored whole.

The SetFit recipe, both sides: the model's own pooling and normalisation,
pairs drawn by SetFit's default (oversampling), CosineSimilarityLoss, one
epoch, batch 16, AdamW lr 2e-5 (weight decay 0.01), 10% warm-up, max
length 64, then scikit-learn's default LogisticRegression on the
embeddings (bert-burn: the same objective, fitted to convergence). The
plain classifier: a linear head on the pooled [CLS], cross-entropy, batch 8,
lr 5e-5, 10 epochs, the best epoch by validation accuracy.

Each bert-burn few-shot run is also opened as a SetFit model (the run's
sentence-transformers body and its head given to scikit-learn) and in
transformers (`AutoModelForSequenceClassification`, the run's remote code),
and both sides' test probabilities compared with bert-burn's `predict`.

    pip install torch transformers sentence-transformers setfit scikit-learn
    cargo build --release -p bert-train
    python3 bench/setfit_peer_train.py --binary "$CARGO_TARGET_DIR/release/bert-train"
"""
import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from hf_peer_train import write_splits  # noqa: E402


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["text"], row["label"]) for row in csv.DictReader(f)]


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def draw(rows, per_class, seed):
    rng = random.Random(seed)
    drawn = []
    for label in sorted({label for _, label in rows}):
        drawn += rng.sample([r for r in rows if r[1] == label], per_class)
    rng.shuffle(drawn)
    return drawn


def bert_burn(args, task, model, files, run, seed, extra):
    command = [args.binary, "train", "--task", task, "--model", model, "--max-len", "64",
               "--train-file", str(files["train"]), "--validation-file", str(files["validation"]),
               "--test-file", str(files["test"]), "--output-dir", str(run), "--seed", str(seed),
               "--report-to", "none", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    report = json.loads((run / "report.json").read_text())
    return {"seconds": seconds, "accuracy": report["accuracy"]}


FEW_SHOT = ["--epochs", "1", "--batch-size", "16", "--lr", "2e-5"]
PLAIN = ["--epochs", "10", "--batch-size", "8", "--lr", "5e-5"]


def setfit(args, model_dir, files, seed, run):
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    start = time.perf_counter()
    model = SetFitModel.from_pretrained(model_dir, device="cpu")
    model.model_body.max_seq_length = 64
    train = read_rows(files["train"])
    dataset = Dataset.from_dict({"text": [t for t, _ in train], "label": [l for _, l in train]})
    training = TrainingArguments(batch_size=16, num_epochs=1, body_learning_rate=2e-5,
                                 max_length=64, seed=seed, report_to="none", show_progress_bar=False,
                                 output_dir=str(run), save_strategy="no")
    Trainer(model=model, args=training, train_dataset=dataset).train()
    test = read_rows(files["test"])
    predicted = model.predict([t for t, _ in test])
    accuracy = sum(p == l for p, (_, l) in zip(predicted, test)) / len(test)
    return {"seconds": time.perf_counter() - start, "accuracy": accuracy}


def opened_as_setfit(run, files):
    """Largest difference between bert-burn's `predict` probabilities and
    those of the run opened as a SetFit model."""
    import numpy as np
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    from setfit import SetFitModel
    from sklearn.linear_model import LogisticRegression
    labels = json.loads((run / "config_setfit.json").read_text())["labels"]
    saved = load_file(str(run / "model_head.safetensors"))
    head = LogisticRegression()
    head.coef_, head.intercept_, head.classes_ = saved["coef"], saved["intercept"], np.arange(len(labels))
    model = SetFitModel(model_body=SentenceTransformer(str(run), device="cpu"), model_head=head,
                        labels=labels)
    texts = [t for t, _ in read_rows(files["test"])]
    theirs = model.predict_proba(texts).numpy()
    inputs = run / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return theirs, inputs, labels


def opened_in_transformers(run, files):
    """The run's test probabilities as transformers' sequence classifier
    gives them (columns in label-id order, as config_setfit.json's labels)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained(str(run), trust_remote_code=True)
    tokenizer = AutoTokenizer.from_pretrained(str(run))
    texts = [t for t, _ in read_rows(files["test"])]
    probs = []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            inputs = tokenizer(texts[start:start + 64], padding=True, truncation=True,
                               max_length=64, return_tensors="pt")
            probs.append(model.eval()(**inputs).logits.softmax(-1).numpy())
    import numpy as np
    return np.concatenate(probs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--shots", default="8,16")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    model_dir = subprocess.run([args.binary, "fetch", args.model], check=True,
                               capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        write_splits(scratch)
        splits = {name: read_rows(scratch / f"{name}.csv") for name in ("train", "validation")}
        for shots in [int(k) for k in args.shots.split(",")]:
            results = {"bert-burn few-shot": [], "setfit": [], "bert-burn classifier": []}
            for seed in range(args.seeds):
                files = {"train": scratch / f"k{shots}-s{seed}-train.csv",
                         "validation": scratch / f"k{shots}-s{seed}-validation.csv",
                         "test": scratch / "test.csv"}
                write_rows(files["train"], draw(splits["train"], shots, seed))
                write_rows(files["validation"], draw(splits["validation"], shots, seed))
                run = scratch / f"few-shot-{shots}-{seed}"
                ours = bert_burn(args, "few-shot", args.model, files, run, seed, FEW_SHOT)
                theirs, inputs, labels = opened_as_setfit(run, files)
                predicted = subprocess.run([args.binary, "predict", "--run", str(run), "--input",
                                            str(inputs)], check=True, capture_output=True, text=True)
                probs = np.array([[json.loads(line)["probs"][label] for label in labels]
                                  for line in predicted.stdout.split("\n") if line])
                ours["opened_as_setfit_max_diff"] = float(np.abs(probs - theirs).max())
                in_transformers = opened_in_transformers(run, files)
                ours["opened_in_transformers_max_diff"] = float(np.abs(probs - in_transformers).max())
                results["bert-burn few-shot"].append(ours)
                results["setfit"].append(
                    setfit(args, model_dir, files, seed, scratch / f"setfit-{shots}-{seed}"))
                plain = scratch / f"plain-{shots}-{seed}"
                results["bert-burn classifier"].append(
                    bert_burn(args, "classification", args.model, files, plain, seed, PLAIN))
                print(json.dumps({"shots": shots, "seed": seed,
                                  **{side: runs[-1] for side, runs in results.items()}}), flush=True)
            for side, runs in results.items():
                accuracies = [r["accuracy"] for r in runs]
                seconds = [r["seconds"] for r in runs]
                print(json.dumps({
                    "model": args.model, "shots": shots, "side": side, "seeds": len(runs),
                    "accuracy_mean": round(statistics.mean(accuracies), 4),
                    "accuracy_std": round(statistics.stdev(accuracies), 4) if len(runs) > 1 else 0.0,
                    "seconds_mean": round(statistics.mean(seconds), 1),
                }), flush=True)


if __name__ == "__main__":
    main()
