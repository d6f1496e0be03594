"""Build a tiny, randomly initialised BERT checkpoint plus reference outputs.

Purpose: give the Rust (burn) BERT loader a small PyTorch checkpoint
(`pytorch_model.bin` + `config.json`) and the exact outputs Hugging Face
transformers produces for a fixed batch (`expected.json`), so tests can check
weight naming, transposition and the full forward pass (encoder, pooler and
sequence-classification head). Every parameter is drawn from a wide random
distribution, so mistakes cannot hide behind zeros or ones.

Run from the repository root:

    python3 tests/reference/make_tiny_checkpoint.py tests/fixtures/tiny-bert-pt
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification

INPUT_IDS = [[2, 10, 11, 12, 3, 0], [2, 20, 21, 3, 30, 3]]
TOKEN_TYPE_IDS = [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]


def rounded(t: torch.Tensor):
    def rec(x):
        return [rec(v) for v in x] if isinstance(x, list) else round(x, 7)

    return rec(t.detach().double().tolist())


def main(out_dir: Path) -> None:
    torch.manual_seed(0)
    id2label = {0: "neg", 1: "neu", 2: "pos"}
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=32,
        max_position_embeddings=32,
        type_vocab_size=2,
        hidden_act="gelu_new",
        layer_norm_eps=1e-12,
        num_labels=3,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        attn_implementation="eager",
    )
    model = BertForSequenceClassification(config).float().eval()

    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape))
            else:
                p.copy_(torch.randn(p.shape) * 0.5)

    out_dir.mkdir(parents=True, exist_ok=True)
    config.to_json_file(out_dir / "config.json")
    state = model.state_dict()
    torch.save(state, out_dir / "pytorch_model.bin")
    for k, v in state.items():
        print(f"{k} {list(v.shape)} {v.dtype}")
    print("position_ids in state dict:", "bert.embeddings.position_ids" in state)

    inputs = dict(
        input_ids=torch.tensor(INPUT_IDS),
        token_type_ids=torch.tensor(TOKEN_TYPE_IDS),
        attention_mask=torch.tensor(ATTENTION_MASK),
    )
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
        base = model.bert(**inputs)
    hidden = out.hidden_states[-1]
    torch.testing.assert_close(hidden, base.last_hidden_state, rtol=0, atol=0)
    pooled = base.pooler_output
    torch.testing.assert_close(model.classifier(pooled), out.logits, rtol=0, atol=0)

    expected = {
        "input_ids": INPUT_IDS,
        "token_type_ids": TOKEN_TYPE_IDS,
        "attention_mask": ATTENTION_MASK,
        "last_hidden_state": rounded(hidden),
        "pooled_output": rounded(pooled),
        "logits": rounded(out.logits),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print("logits:", expected["logits"])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
