#!/usr/bin/env python3
"""Reference values for `--task sentence-embedding`, from sentence-transformers.

1. tests/fixtures/sentence/losses.json: fixed random embeddings and scores,
   and the loss and its gradient with respect to every embedding as
   sentence-transformers computes them (`compute_loss_from_embeddings` of
   MultipleNegativesRankingLoss, its symmetric form, CoSENTLoss,
   CosineSimilarityLoss; MatryoshkaLoss's `shrink` around them).
2. tests/fixtures/sentence/{scored,pairs}/: small real data cut from STS-B
   (the copy bert-burn installs in its cache): scored pairs (scores / 5)
   and (anchor, positive) pairs scored 4 or more, each as train,
   validation and test files.
3. tests/fixtures/sentence/runs/<name>/: sentence-embedding runs of the
   tiny BERT and MPNet models, trained for one short epoch with bert-burn's
   CLI (`cargo run -p bert-train -- train --task sentence-embedding ...`),
   keeping the files a sentence-transformers model directory has.
4. tests/fixtures/sentence/expected.json: each run opened with
   `SentenceTransformer(run)` as it is: its modules, max_seq_length and the
   embeddings of fixed texts; and sentence-transformers' evaluators on the
   test files with the real all-MiniLM-L6-v2 (the tiny random models embed
   every text nearly alike, so their rankings hinge on rounding):
   EmbeddingSimilarityEvaluator for the scored pairs,
   InformationRetrievalEvaluator for the pairs (each distinct anchor a
   query, each distinct positive a document, numbered in order of appearance).

tests/tests/sentence_embedding.rs checks bert-burn against these files.

Run from the repository root (needs sts_b and all-MiniLM-L6-v2 in
bert-burn's cache, e.g. after `cargo test`):
    pip install torch transformers sentence-transformers
    python3 tests/reference/make_sentence_fixtures.py
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer
from sentence_transformers.evaluation import (EmbeddingSimilarityEvaluator,
                                              InformationRetrievalEvaluator)
from sentence_transformers.losses import (CoSENTLoss, CosineSimilarityLoss,
                                          MultipleNegativesRankingLoss)
from sentence_transformers.sentence_transformer.losses.matryoshka import shrink

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/sentence"
CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
ROUND = 7

# The files of a sentence-transformers model directory, and the run's
# arguments (`eval --run` reads them).
ST_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "vocab.txt", "modules.json", "sentence_bert_config.json",
            "config_sentence_transformers.json", "1_Pooling", "2_Normalize", "training_args.json"]

TEXTS = ["A man is playing a guitar.", "A woman is slicing an onion.",
         "Three dogs run on the beach; one of them carries a ball in its mouth."]

# name -> (model, data folder, extra CLI arguments)
RUNS = {
    "bert-cosent": ("tests/fixtures/tiny-bert-base", "scored",
                    ["--loss", "cosent", "--normalize"]),
    "bert-mnrl": ("tests/fixtures/tiny-bert-base", "pairs",
                  ["--loss", "mnrl", "--pooling", "cls", "--matryoshka-dims", "16,8"]),
    "mpnet-cosine": ("tests/fixtures/families/mpnet", "scored",
                     ["--loss", "cosine", "--pooling", "max"]),
}


def rounded(tensor):
    return [round(float(x), ROUND) for x in tensor.flatten()]


def loss_cases():
    """Every loss on fixed embeddings: value and gradients."""
    rng = np.random.default_rng(7)
    rows, width = 6, 8
    columns = [rng.normal(size=(rows, width)).astype(np.float32) for _ in range(3)]
    scores = np.array([0.1, 0.9, 0.4, 0.4, 0.75, 0.0], dtype=np.float32)

    def run(name, compute, used, dims=None):
        embeddings = [torch.tensor(c, requires_grad=True) for c in columns[:used]]
        labels = torch.tensor(scores)
        if dims:
            loss = sum(compute([shrink(e, d) for e in embeddings], labels) for d in dims)
        else:
            loss = compute(embeddings, labels)
        loss.backward()
        return {"name": name, "columns": used, "matryoshka_dims": dims or [],
                "loss": round(float(loss), ROUND),
                "gradients": [rounded(e.grad) for e in embeddings]}

    mnrl = MultipleNegativesRankingLoss(None, scale=20.0)
    symmetric = MultipleNegativesRankingLoss(None, scale=20.0,
                                             directions=("query_to_doc", "doc_to_query"),
                                             partition_mode="per_direction")
    cosent = CoSENTLoss(None, scale=20.0)
    cosine = CosineSimilarityLoss(None)
    return {
        "embeddings": [c.tolist() for c in columns],
        "scores": scores.tolist(),
        "cases": [
            run("mnrl", mnrl.compute_loss_from_embeddings, 3),
            run("mnrl-pairs", mnrl.compute_loss_from_embeddings, 2),
            run("mnrl-symmetric", symmetric.compute_loss_from_embeddings, 2),
            run("cosent", cosent.compute_loss_from_embeddings, 2),
            run("cosine", cosine.compute_loss_from_embeddings, 2),
            run("matryoshka-mnrl", mnrl.compute_loss_from_embeddings, 3, [8, 4]),
            run("matryoshka-cosent", cosent.compute_loss_from_embeddings, 2, [8, 4, 2]),
        ],
    }


def write_data():
    """Scored pairs and (anchor, positive) pairs from STS-B's train file."""
    lines = (CACHE / "sts_b/sts-train.csv").read_text().splitlines()
    # Sentences of at most 30 characters: the tiny models' character
    # tokens then fit --max-len 32, and no two texts embed alike by truncation.
    rows = [line.split("\t") for line in lines]
    rows = [r for r in rows if len(r[5]) <= 30 and len(r[6]) <= 30 and r[5] != r[6]]
    pairs_seen, scored = set(), []
    for r in rows:
        pair = frozenset((r[5], r[6]))
        if pair not in pairs_seen and len(scored) < 112:
            pairs_seen.add(pair)
            scored.append((r[5], r[6], round(float(r[4]) / 5, 4)))
    seen, positives = set(), []
    for r in rows:
        if float(r[4]) >= 4.0 and r[5] not in seen and r[6] not in seen:
            seen.update((r[5], r[6]))
            positives.append((r[5], r[6]))
    cuts = {"train": slice(0, 64), "validation": slice(64, 80), "test": slice(80, 112)}
    for folder, header, data in [("scored", "sentence1\tsentence2\tscore", scored),
                                 ("pairs", "anchor\tpositive", positives)]:
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        for split, cut in cuts.items():
            body = "".join("\t".join(str(v) for v in row) + "\n" for row in data[cut])
            (OUT / folder / f"{split}.tsv").write_text(header + "\n" + body)


def train(name):
    model, data, args = RUNS[name]
    run = OUT / "runs" / name
    command = ["cargo", "run", "--quiet", "-p", "bert-train", "--features", "ndarray", "--",
               "train", "--task", "sentence-embedding", "--model", model,
               "--dataset", str((OUT / data).relative_to(ROOT)),
               "--output-dir", str(run.relative_to(ROOT)), "--overwrite",
               "--epochs", "1", "--batch-size", "16", "--max-len", "32", "--lr", "1e-4"] + args
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for entry in run.iterdir():
        if entry.name not in ST_FILES:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return run


def read_tsv(path):
    lines = path.read_text().splitlines()
    return [line.split("\t") for line in lines[1:]]


def check_no_near_ties(values, what):
    """Rankings compared across two implementations must not hinge on a
    difference of float rounding."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    gap = np.diff(ordered).min()
    if gap < 1e-5:
        raise SystemExit(f"{what}: two scores {gap:.2e} apart; choose other rows")


def evaluate(model, evaluation):
    """The scored test pairs as scored pairs ("similarity"), or as
    (anchor, positive) pairs whatever their score ("retrieval": harder
    than the pairs scored 4 or more, which all-MiniLM-L6-v2 ranks perfectly)."""
    rows = read_tsv(OUT / "scored/test.tsv")
    embed = lambda texts: model.encode(texts, convert_to_tensor=True)
    if evaluation == "similarity":
        cosines = torch.nn.functional.cosine_similarity(embed([r[0] for r in rows]),
                                                        embed([r[1] for r in rows]))
        check_no_near_ties(cosines.tolist(), "cosines")
        evaluator = EmbeddingSimilarityEvaluator([r[0] for r in rows], [r[1] for r in rows],
                                                 [float(r[2]) for r in rows],
                                                 similarity_fn_names=["cosine"])
        result = evaluator(model)
        return {"pearson": result["pearson_cosine"], "spearman": result["spearman_cosine"]}
    queries, corpus, relevant = {}, {}, {}
    query_ids, document_ids = {}, {}
    for anchor, positive, _ in rows:
        qid = query_ids.setdefault(anchor, f"{len(query_ids):08}")
        did = document_ids.setdefault(positive, f"{len(document_ids):08}")
        queries[qid], corpus[did] = anchor, positive
        relevant.setdefault(qid, set()).add(did)
    similarities = sentence_transformers.util.cos_sim(embed(list(queries.values())),
                                                     embed(list(corpus.values())))
    # Only the ranks of the relevant documents count.
    ids = list(corpus)
    for query, row in zip(queries, similarities):
        for document in relevant[query]:
            position = ids.index(document)
            others = torch.cat((row[:position], row[position + 1:]))
            gap = (others - row[position]).abs().min()
            if gap < 1e-5:
                raise SystemExit(f"query {query}: a document {gap:.2e} from its positive")
    evaluator = InformationRetrievalEvaluator(queries, corpus, relevant,
                                              score_functions={"cosine": sentence_transformers.util.cos_sim})
    result = evaluator(model)
    return {key: result[f"cosine_{key}"] for key in
            ["mrr@10", "ndcg@10", "recall@1", "recall@10", "map@100"]}


def expected(name):
    run = OUT / "runs" / name
    model = SentenceTransformer(str(run), device="cpu")
    model.eval()
    embeddings = model.encode(TEXTS, convert_to_tensor=True, batch_size=8)
    return {
        "modules": [type(module).__name__ for module in model],
        "max_seq_length": model.max_seq_length,
        "texts": TEXTS,
        "embeddings": [rounded(row) for row in embeddings],
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "losses.json").write_text(json.dumps(loss_cases(), indent=1) + "\n")
    write_data()
    results = {"sentence_transformers": sentence_transformers.__version__,
               "transformers": transformers.__version__, "torch": torch.__version__, "runs": {}}
    for name in RUNS:
        print(f"training {name}", flush=True)
        train(name)
        results["runs"][name] = expected(name)
        print(f"  opened as {results['runs'][name]['modules']}", flush=True)
    minilm = SentenceTransformer(str(CACHE / "minilm"), device="cpu")
    results["minilm"] = {evaluation: evaluate(minilm, evaluation)
                         for evaluation in ["similarity", "retrieval"]}
    (OUT / "expected.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
