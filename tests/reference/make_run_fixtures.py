#!/usr/bin/env python3
"""Check that bert-burn's run directories open in Hugging Face transformers
as they are, one run per task and encoder family, and store what
transformers computes on them.

1. Writes a tiny random BERT base model with a character-level WordPiece
   vocabulary (transformers' own save_pretrained) to
   tests/fixtures/tiny-bert-base/: a unit-test model, not a pretrained one.
   The other families' tiny models are tests/fixtures/families/<family>/
   (tests/reference/make_family_fixtures.py).
2. Fine-tunes each for one short epoch per task with bert-burn's CLI
   (`cargo run -p bert-train -- train ...`) on small subsets of the real
   datasets (rotten_tomatoes, STS-B, twitter_ner, the SQuAD sample), into
   tests/fixtures/hf-runs/<family>/<task>/, keeping the files a Hugging Face
   model directory has (config, weights, tokenizer files). ELECTRA has no
   mlm run: its discriminator checkpoints have no masked-LM head.
3. Opens each run with transformers' AutoConfig, AutoTokenizer and the
   AutoModelFor... class of its task, fails if any weight is missing or the
   class differs from `architectures`, and writes the token ids and logits
   on fixed inputs to tests/fixtures/hf-runs/expected.json.

tests/tests/hf_runs.rs checks bert-burn's ids and logits against that file,
and that saving a run today writes the same config and tokenizer files.

Run from the repository root (needs the datasets installed by bert-burn in
its cache, e.g. after `cargo xtask train` or `cargo test`):
    pip install torch transformers
    python3 tests/reference/make_run_fixtures.py            # every family
    python3 tests/reference/make_run_fixtures.py modernbert # one family's runs, the others kept
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import (AutoConfig, AutoModelForMaskedLM, AutoModelForPreTraining,
                          AutoModelForQuestionAnswering,
                          AutoModelForSequenceClassification,
                          AutoModelForTokenClassification, AutoTokenizer,
                          BertConfig, BertForPreTraining, BertTokenizerFast)

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "tests/fixtures/tiny-bert-base"
FAMILIES = {
    "bert": BASE,
    "roberta": ROOT / "tests/fixtures/families/roberta",
    "xlm-roberta": ROOT / "tests/fixtures/families/xlm-roberta",
    "distilbert": ROOT / "tests/fixtures/families/distilbert",
    "electra": ROOT / "tests/fixtures/families/electra",
    "mpnet": ROOT / "tests/fixtures/families/mpnet",
    "modernbert": ROOT / "tests/fixtures/families/modernbert",
    "deberta-v2": ROOT / "tests/fixtures/families/deberta-v2",
}
RUNS = ROOT / "tests/fixtures/hf-runs"
CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
ROUND = 7

# The files of a Hugging Face model directory; the rest of a run (logs,
# checkpoints, reports) is not needed by transformers.
HF_FILES = ["config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]

TEXTS = ["a gorgeous, witty, seductive movie.",
         "the plot is nothing but boilerplate clichés from start to finish,",
         "It's the view from where I'm living for two weeks. Empire State Building = ESB."]
PAIRS = [("A plane is taking off.", "An air plane is taking off."),
         ("A man is playing a large flute.", "A woman is slicing an onion.")]
QUESTIONS = [("Which NFL team represented the AFC at Super Bowl 50?",
              "Super Bowl 50 was an American football game to determine the champion of the "
              "National Football League (NFL) for the 2015 season. The American Football "
              "Conference (AFC) champion Denver Broncos defeated the National Football "
              "Conference (NFC) champion Carolina Panthers 24-10.")]

# task -> (transformers class, CLI arguments, inputs)
TASKS = {
    "classification": (AutoModelForSequenceClassification,
                       ["--dataset", "rotten_tomatoes"], TEXTS),
    "pair-classification": (AutoModelForSequenceClassification,
                            ["--dataset", "{data}/sts_pairs.tsv", "--text-column", "sentence1",
                             "--text-pair-column", "sentence2"], PAIRS),
    "regression": (AutoModelForSequenceClassification, ["--dataset", "sts_b"], PAIRS),
    "multi-label": (AutoModelForSequenceClassification,
                    ["--dataset", "{data}/tweet_entities.jsonl"], TEXTS),
    "token-classification": (AutoModelForTokenClassification,
                             ["--dataset", "twitter_ner"], TEXTS),
    "question-answering": (AutoModelForQuestionAnswering,
                           ["--train-file", "tests/fixtures/squad_sample.json",
                            "--validation-file", "tests/fixtures/squad_sample.json"], QUESTIONS),
    "mlm": (AutoModelForPreTraining, ["--dataset", "rotten_tomatoes"], TEXTS),
}


def make_base_model():
    """A 2-layer, 16-wide BERT with a character-level WordPiece vocabulary."""
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789") + list(".,'!?-=()@#:;\"&/")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    BASE.mkdir(parents=True, exist_ok=True)
    (BASE / "vocab.txt").write_text("".join(token + "\n" for token in vocab))
    tokenizer = BertTokenizerFast(vocab_file=str(BASE / "vocab.txt"), do_lower_case=True,
                                  model_max_length=128)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=32,
                        max_position_embeddings=128, hidden_act="gelu")
    torch.manual_seed(0)
    BertForPreTraining(config).bert.save_pretrained(BASE)
    tokenizer.save_pretrained(BASE)


def write_data(data: Path):
    """Pair labels from STS-B scores, entity-type sets of twitter_ner tweets."""
    with open(data / "sts_pairs.tsv", "w") as out:
        out.write("sentence1\tsentence2\tlabel\n")
        lines = (CACHE / "sts_b/sts-train.csv").read_text().splitlines()[:400]
        for line in lines:
            fields = line.split("\t")
            label = "similar" if float(fields[4]) >= 3.0 else "different"
            out.write(f"{fields[5]}\t{fields[6]}\t{label}\n")
    sentences, words, types = [], [], set()
    for line in (CACHE / "twitter_ner/ner.txt").read_text().splitlines():
        if line.strip() == "":
            if words:
                sentences.append({"text": " ".join(words), "labels": sorted(types)})
            words, types = [], set()
            continue
        word, tag = line.split("\t")
        words.append(word)
        if tag != "O":
            types.add(tag[2:])
    with open(data / "tweet_entities.jsonl", "w") as out:
        for sentence in sentences[:400]:
            out.write(json.dumps(sentence) + "\n")


def train(family: str, task: str, args, data: Path):
    run = RUNS / family / task
    command = ["cargo", "run", "--quiet", "-p", "bert-train", "--features", "ndarray", "--",
               "train", "--task", task, "--model", str(FAMILIES[family]), "--output-dir", str(run),
               "--overwrite", "--epochs", "1", "--batch-size", "16", "--max-len", "48",
               "--max-train-samples", "64", "--max-eval-samples", "16", "--lr", "1e-3"]
    command += [arg.format(data=data) for arg in args]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for entry in run.iterdir():
        if entry.name not in HF_FILES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def rounded(tensor):
    return [round(float(x), ROUND) for x in tensor.flatten()]


def tokenize(tokenizer, inputs):
    """The padded batch of texts or pairs, truncated to the run's --max-len
    (model_max_length), as bert-burn does."""
    if isinstance(inputs[0], tuple):
        firsts, seconds = zip(*inputs)
        return tokenizer(list(firsts), list(seconds), padding=True, truncation=True,
                         return_tensors="pt")
    return tokenizer(inputs, padding=True, truncation=True, return_tensors="pt")


def expected(run: Path, auto_class, inputs):
    task = str(run.relative_to(RUNS))
    config = AutoConfig.from_pretrained(run)
    if auto_class is AutoModelForPreTraining and config.architectures[0].endswith("ForMaskedLM"):
        # ModernBERT has no AutoModelForPreTraining entry; its class is a masked LM.
        auto_class = AutoModelForMaskedLM
    tokenizer = AutoTokenizer.from_pretrained(run)
    model, info = auto_class.from_pretrained(run, output_loading_info=True)
    model.eval()
    if info["missing_keys"]:
        sys.exit(f"{task}: transformers found no weights for {info['missing_keys']}")
    if type(model).__name__ != config.architectures[0]:
        sys.exit(f"{task}: {type(model).__name__} is not {config.architectures}")
    batch = tokenize(tokenizer, inputs)
    with torch.no_grad():
        output = model(**batch)
    logits = {name: {"shape": list(value.shape), "values": rounded(value)}
              for name, value in output.items() if name.endswith("logits")}
    return {
        "class": type(model).__name__,
        "problem_type": config.problem_type,
        "model_max_length": tokenizer.model_max_length,
        "unexpected_keys": sorted(info["unexpected_keys"]),
        "inputs": [list(pair) if isinstance(pair, tuple) else pair for pair in inputs],
        "input_ids": batch["input_ids"].tolist(),
        # Families without segments (RoBERTa, DistilBERT) return none: zeros.
        "token_type_ids": (batch["token_type_ids"] if "token_type_ids" in batch
                           else torch.zeros_like(batch["input_ids"])).tolist(),
        "tokenizer_returns_token_type_ids": "token_type_ids" in batch,
        "attention_mask": batch["attention_mask"].tolist(),
        "logits": logits,
    }


def main(families):
    """Every family's runs, or only those of `families`, kept beside the
    stored runs of the others."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        sys.exit(f"unknown families {sorted(unknown)}: expected some of {list(FAMILIES)}")
    families = families or list(FAMILIES)
    if "bert" in families:
        make_base_model()
    RUNS.mkdir(parents=True, exist_ok=True)
    results = {"transformers": transformers.__version__, "torch": torch.__version__, "runs": {}}
    stored = RUNS / "expected.json"
    if stored.exists() and len(families) < len(FAMILIES):
        results["runs"] = {name: run for name, run in json.loads(stored.read_text())["runs"].items()
                           if name.split("/")[0] not in families}
    with tempfile.TemporaryDirectory() as data:
        write_data(Path(data))
        for family in families:
            for task, (auto_class, args, inputs) in TASKS.items():
                if family == "electra" and task == "mlm":
                    continue
                name = f"{family}/{task}"
                print(f"training {name}", flush=True)
                train(family, task, args, Path(data))
                results["runs"][name] = expected(RUNS / name, auto_class, inputs)
                print(f"  opened as {results['runs'][name]['class']}", flush=True)
    results["runs"] = dict(sorted(results["runs"].items(),
                                  key=lambda item: list(FAMILIES).index(item[0].split("/")[0])))
    stored.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
