#!/usr/bin/env python3
"""How far transformers' own mixed precision drifts from its f32 output.

Runs all-MiniLM-L6-v2 on the padded batch of tests/fixtures/minilm_reference.json
in f32 and under torch.autocast (bf16, then f16) on the CPU, and prints the
largest |difference| of last_hidden_state over the real tokens. These
numbers bound `mixed_precision_drifts_no_more_than_transformers_autocast` in
tests/tests/minilm_parity.rs: our mixed precision must drift no more.

Run:
    pip install torch transformers
    python3 tests/reference/autocast_drift.py MODEL_DIR

Measured with torch 2.15, transformers 5.24: bf16 1.944e-2, f16 2.492e-3.
"""
import json
import sys
from pathlib import Path

import torch
from transformers import BertModel

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "minilm_reference.json"


def main() -> None:
    model = BertModel.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
    batch = json.loads(FIXTURE.read_text())["batch"]
    inputs = {
        name: torch.tensor(batch[name])
        for name in ("input_ids", "token_type_ids", "attention_mask")
    }
    real = inputs["attention_mask"].unsqueeze(-1)
    with torch.no_grad():
        exact = model(**inputs).last_hidden_state
        for dtype in (torch.bfloat16, torch.float16):
            with torch.autocast("cpu", dtype=dtype):
                mixed = model(**inputs).last_hidden_state.float()
            drift = ((mixed - exact).abs() * real).max().item()
            print(f"{dtype}: max |diff| over real tokens = {drift:.3e}")


if __name__ == "__main__":
    main()
