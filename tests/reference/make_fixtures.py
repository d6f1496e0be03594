#!/usr/bin/env python3
"""Produce reference fixtures for bert-burn from Hugging Face transformers.

Runs a real sentence-transformers checkpoint (all-MiniLM-L6-v2: BertModel;
all-mpnet-base-v2: MPNetModel; AutoModel, fp32, eval, eager attention) on a fixed set
of texts and writes a JSON file with the tokenizer output (input_ids,
token_type_ids) and selected model outputs: the first and last token of
last_hidden_state, pooler_output, and the L2-normalised attention-masked mean
of last_hidden_state (the sentence-transformers embedding). A padded batch and
a cosine-similarity check are included too. The Rust tests compare against
this file to ~1e-4.

Run:
    pip install torch transformers
    python3 tests/reference/make_fixtures.py MODEL_DIR tests/fixtures/minilm_reference.json
    python3 tests/reference/make_fixtures.py MPNET_DIR tests/fixtures/mpnet_reference.json 384

The optional third argument replaces the 512-token truncation of the cases
and the batch (all-mpnet-base-v2: its sentence_bert_config.json's 384).
Token type ids are stored only where the tokenizer returns them (MPNet's
does not).

MODEL_DIR holds config.json, model.safetensors and tokenizer.json (e.g. the
model/ folder of the all-MiniLM-L6-v2 distribution). Note that its
tokenizer.json presets truncation and padding to 128; every tokenizer call
below passes explicit arguments, which override that preset.
"""
import hashlib
import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoModel, AutoTokenizer

ROUND = 7

LONG = (
    "The history of natural language processing generally started in the 1950s, "
    "although work can be found from earlier periods. In 1950, Alan Turing published "
    "an article titled \"Computing Machinery and Intelligence\" which proposed what is "
    "now called the Turing test as a criterion of intelligence. Up to the 1980s, most "
    "natural language processing systems were based on complex sets of hand-written "
    "rules. Starting in the late 1980s, however, there was a revolution in natural "
    "language processing with the introduction of machine learning algorithms for "
    "language processing, due both to the steady increase in computational power and "
    "the gradual lessening of the dominance of Chomskyan theories of linguistics."
)

SECOND_LONG = (
    "Transformers replaced recurrent networks in most language tasks after 2017. "
    "Self-attention lets every token look at every other token, and pretraining on "
    "large corpora with masked language modelling produced encoders such as BERT, "
    "which are then fine-tuned for classification, retrieval and question answering."
)

OVER_512 = " ".join(
    f"Paragraph {i}: the quick brown fox jumps over the lazy dog near river number {i * 7}, "
    "while researchers measure tokenization, attention, and embeddings carefully."
    for i in range(40)
)

CASES = [
    ("short", "Hello world!", None, 512),
    ("sentence", "The cat sat quietly on the warm windowsill, watching the birds outside.", None, 512),
    ("long", LONG, None, 512),
    ("pair", "How old is the Eiffel Tower?", "The Eiffel Tower was completed in 1889 for the World's Fair.", 512),
    ("pair_truncated", LONG, SECOND_LONG, 32),
    ("accents", "Café naïve résumé à la crème brûlée, Zoë Ångström.", None, 512),
    ("cjk", "我爱北京天安门。東京は日本の首都です。한국어도 있어요.", None, 512),
    ("emoji", "I love pizza 🍕 and sunshine ☀️! Party time 🎉🎉 — thumbs up 👍🏽 😂", None, 512),
    ("numbers", "On 2024-03-15 we sold 1,234,567 units at $3.99 each; the 1st, 2nd and 23rd orders were 0.5% off.", None, 512),
    ("mixed_case_punct", "DON'T Stop!!! U.S.A. -- e-mail: someone@example.com (c) 2024... #Hashtag & <tags> [x]", None, 512),
    ("over_512", OVER_512, None, 512),
    ("empty", "", None, 512),
]

BATCH = [
    "Hi.",
    "A man is playing a guitar on the street.",
    "The committee postponed its decision until more data on the environmental impact could be collected.",
    LONG,
]

SIMILARITY = ("A man is eating food.", "A man is eating a piece of bread.")


def rnd(t):
    return [round(float(x), ROUND) for x in t.tolist()]


def mean_pool(hidden, mask):
    """Masked mean over tokens, then L2 normalisation: [B, T, H] -> [B, H]."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


def main(model_dir, out_path, max_length=512):
    model_dir = Path(model_dir)
    cases_to_run = [(name, text, pair, max_length if length == 512 else length)
                    for name, text, pair, length in CASES]
    sha = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    tok = AutoTokenizer.from_pretrained(model_dir, use_fast=True)
    assert tok.is_fast
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()

    def run(enc):
        with torch.no_grad():
            return model(**enc)

    cases = []
    for name, text, pair, max_len in cases_to_run:
        enc = tok(text, pair, truncation=True, max_length=max_len, padding=False, return_tensors="pt")
        out = run(enc)
        ids = enc["input_ids"][0].tolist()
        assert all(m == 1 for m in enc["attention_mask"][0].tolist()), name  # no padding
        if name == "over_512":
            assert len(ids) == max_length, len(ids)
        if name == "long":
            assert 100 <= len(ids) <= max_length, len(ids)  # the 128 preset must not apply
        if name == "pair_truncated":
            assert len(ids) == max_len, len(ids)
            if "token_type_ids" in enc:
                types = enc["token_type_ids"][0].tolist()
                assert abs(types.count(0) - types.count(1)) <= 2, types  # longest-first trims both sides
        if name == "empty":
            assert ids == [tok.cls_token_id, tok.sep_token_id], ids
        hidden = out.last_hidden_state
        cases.append({
            "name": name,
            "text": text,
            "text_pair": pair,
            "max_len": max_len,
            "input_ids": ids,
            **({"token_type_ids": enc["token_type_ids"][0].tolist()}
               if "token_type_ids" in enc else {}),
            "last_hidden_first": rnd(hidden[0, 0]),
            "last_hidden_last": rnd(hidden[0, -1]),
            "pooled": rnd(out.pooler_output[0]),
            "mean_pooled": rnd(mean_pool(hidden, enc["attention_mask"])[0]),
        })
        print(f"{name:17s} ids={len(ids):4d} first={ids[:6]} "
              f"types={sorted(set(cases[-1].get('token_type_ids', [])))}")

    enc = tok(BATCH, truncation=True, max_length=max_length, padding="longest", return_tensors="pt")
    out = run(enc)
    mask = enc["attention_mask"]
    lengths = mask.sum(1).tolist()
    assert len(set(lengths)) == len(BATCH) and max(lengths) == mask.shape[1]
    assert all(enc["input_ids"][i, n:].eq(tok.pad_token_id).all()
               for i, n in enumerate(lengths))  # right side
    hidden = out.last_hidden_state
    batch = {
        "texts": BATCH,
        "max_len": max_length,
        "input_ids": enc["input_ids"].tolist(),
        "attention_mask": mask.tolist(),
        **({"token_type_ids": enc["token_type_ids"].tolist()} if "token_type_ids" in enc else {}),
        "last_hidden_first": [rnd(hidden[i, 0]) for i in range(len(BATCH))],
        "last_hidden_last_real": [rnd(hidden[i, n - 1]) for i, n in enumerate(lengths)],
        "pooled": [rnd(p) for p in out.pooler_output],
        "mean_pooled": [rnd(p) for p in mean_pool(hidden, mask)],
    }
    # Padding must not change the real tokens' outputs: compare with unbatched runs.
    for i, text in enumerate(BATCH):
        single = run(tok(text, truncation=True, max_length=max_length, padding=False,
                         return_tensors="pt"))
        diff = (single.last_hidden_state[0] - hidden[i, : lengths[i]]).abs().max().item()
        assert diff < 1e-4, (i, diff)
    print(f"batch             lengths={lengths}")

    a, b = SIMILARITY
    enc = tok([a, b], truncation=True, max_length=max_length, padding="longest", return_tensors="pt")
    emb = mean_pool(run(enc).last_hidden_state, enc["attention_mask"])
    cosine = float(emb[0] @ emb[1])
    print(f"similarity        cosine={cosine:.4f} (all-MiniLM-L6-v2: sentence-transformers documents 0.7553)")

    doc = {
        "model": model_dir.name if model_dir.name != "model" else "all-MiniLM-L6-v2",
        "model_sha256": sha,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "cases": cases,
        "batch": batch,
        "similarity": {"a": a, "b": b, "cosine": round(cosine, ROUND)},
    }
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out_path} ({out_path.stat().st_size} bytes)")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:]))
