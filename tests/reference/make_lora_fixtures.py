#!/usr/bin/env python3
"""Check that bert-burn's LoRA runs open in Hugging Face peft (the adapter on
its base model) and in transformers (the merged model), and store what they
compute.

1. Fine-tunes the tiny fixture models (tests/reference/make_run_fixtures.py,
   make_family_fixtures.py) with `train --lora-rank 4 --lora-alpha 16` for
   one short epoch: BERT on every task but mlm, the other families on
   classification, into tests/fixtures/lora-runs/<family>/<task>/, keeping
   the adapter (adapter/adapter_config.json, adapter/adapter_model.safetensors)
   and the merged model (config, weights, tokenizer). The adapter has a
   folder of its own: transformers with peft installed opens a directory
   holding adapter_config.json as the adapter on its base, not as the
   merged model beside it. `base_model_name_or_path` is
   rewritten to the base's path from the repository root.
2. Opens each adapter with `PeftModel.from_pretrained(AutoModelFor...(base,
   config=run's config), run/adapter)`, fails if peft leaves a weight of the
   adapter unused, and writes its logits on fixed inputs (unmerged), the
   logits of transformers on the run's merged model.safetensors, the
   adapter's tensor names and shapes and its config to
   tests/fixtures/lora-runs/expected.json. Fails if peft's own merge
   (`merge_and_unload`) and bert-burn's merged weights differ by 1e-5.

tests/tests/lora_runs.rs checks bert-burn's logits (adapter on the base,
unmerged and merged) and the adapter files it writes against that file.

Run from the repository root, with the datasets in bert-burn's cache:
    pip install torch transformers peft
    python3 tests/reference/make_lora_fixtures.py
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import peft
import torch
import transformers
from peft import PeftModel, get_peft_model_state_dict
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_run_fixtures import (FAMILIES, HF_FILES, ROOT, TASKS, rounded, tokenize,  # noqa: E402
                               write_data)

RUNS = ROOT / "tests/fixtures/lora-runs"
ADAPTER = "adapter"
# (family, task): BERT on every task, each other family on classification.
# Not mlm: peft's copy of a `cls` module to save holds the decoder tied to the
# word embeddings, which it then expects in the adapter file.
PLAN = [("bert", task) for task in TASKS if task != "mlm"] + [
    (family, "classification") for family in FAMILIES if family != "bert"]
TOLERANCE = 1e-5


def train(family: str, task: str, args, data: Path) -> Path:
    run = RUNS / family / task
    command = ["cargo", "run", "--quiet", "-p", "bert-train", "--features", "ndarray", "--",
               "train", "--task", task, "--model", str(FAMILIES[family]), "--output-dir", str(run),
               "--overwrite", "--epochs", "1", "--batch-size", "16", "--max-len", "48",
               "--max-train-samples", "64", "--max-eval-samples", "16", "--lr", "1e-2",
               "--lora-rank", "4", "--lora-alpha", "16"]
    command += [arg.format(data=data) for arg in args]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    for entry in run.iterdir():
        if entry.name not in HF_FILES + [ADAPTER]:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    adapter_config = run / ADAPTER / "adapter_config.json"
    settings = json.loads(adapter_config.read_text())
    settings["base_model_name_or_path"] = str(FAMILIES[family].relative_to(ROOT))
    adapter_config.write_text(json.dumps(settings, indent=2))
    return run


def logits_of(output):
    return {name: {"shape": list(value.shape), "values": rounded(value)}
            for name, value in output.items() if name.endswith("logits")}


def largest_difference(first, second):
    return max(max(abs(a - b) for a, b in zip(first[name]["values"], second[name]["values"]))
               for name in first)


def expected(run: Path, base: Path, auto_class, inputs):
    name = str(run.relative_to(RUNS))
    config = AutoConfig.from_pretrained(run)
    batch = tokenize(AutoTokenizer.from_pretrained(run), inputs)

    base_model = auto_class.from_pretrained(base, config=config)
    model = PeftModel.from_pretrained(base_model, run / ADAPTER)
    model.eval()
    held = get_peft_model_state_dict(model)
    # peft 0.21.2's PeftModelForQuestionAnswering.forward drops token_type_ids
    # (and position_ids) before calling its LoraModel: that one gets the batch.
    unmerged_model = model.base_model if auto_class is AutoModelForQuestionAnswering else model
    with torch.no_grad():
        unmerged = logits_of(unmerged_model(**batch))
        peft_merged = logits_of(model.merge_and_unload()(**batch))
    merged_model, info = auto_class.from_pretrained(run, output_loading_info=True)
    merged_model.eval()
    if info["missing_keys"]:
        sys.exit(f"{name}: transformers found no weights for {info['missing_keys']}")
    with torch.no_grad():
        merged = logits_of(merged_model(**batch))
    difference = largest_difference(peft_merged, merged)
    if difference > TOLERANCE:
        sys.exit(f"{name}: peft's merge and bert-burn's merged weights differ by {difference}")
    with safe_open(run / ADAPTER / "adapter_model.safetensors", "pt") as weights:
        tensors = {key: list(weights.get_slice(key).get_shape()) for key in weights.keys()}
        # What peft holds as the adapter is exactly the file: every tensor used.
        if set(held) != set(tensors) or any(
                not torch.equal(held[key], weights.get_tensor(key)) for key in tensors):
            sys.exit(f"{name}: peft holds {sorted(held)}, the file {sorted(tensors)}")
    return {
        "base": str(base.relative_to(ROOT)),
        "peft_class": type(model).__name__,
        "inputs": [list(pair) if isinstance(pair, tuple) else pair for pair in inputs],
        "input_ids": batch["input_ids"].tolist(),
        "token_type_ids": (batch["token_type_ids"] if "token_type_ids" in batch
                           else torch.zeros_like(batch["input_ids"])).tolist(),
        "attention_mask": batch["attention_mask"].tolist(),
        "adapter_tensors": tensors,
        "adapter_config": json.loads((run / ADAPTER / "adapter_config.json").read_text()),
        "peft_logits": unmerged,
        "merged_logits": merged,
    }


def main():
    results = {"peft": peft.__version__, "transformers": transformers.__version__,
               "torch": torch.__version__, "runs": {}}
    with tempfile.TemporaryDirectory() as data:
        write_data(Path(data))
        for family, task in PLAN:
            auto_class, args, inputs = TASKS[task]
            print(f"training {family}/{task}", flush=True)
            run = train(family, task, args, Path(data))
            results["runs"][f"{family}/{task}"] = expected(run, FAMILIES[family], auto_class, inputs)
    (RUNS / "expected.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
