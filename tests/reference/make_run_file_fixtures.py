#!/usr/bin/env python3
"""Reference files for the run files other tools read (tests/tests/run_files.rs).

1. tests/fixtures/run-files/trainer_state_transformers.json: the
   `trainer_state.json` transformers' `Trainer` writes, from a short run of
   the tiny BERT (tests/fixtures/tiny-bert-base) on 32 sentences: logging
   every 2 steps, evaluation and a checkpoint each epoch, the best model by
   accuracy. bert-burn's reader must read it as it reads its own.
2. tests/fixtures/run-files/expected.json:
   - `model_card`: tests/fixtures/run-files/card/README.md (the card
     bert-burn writes for the run files beside it; run_files.rs checks
     that it still writes the same) parsed by huggingface_hub's
     `ModelCard`: its metadata and the `model-index` results;
   - `tensorboard`: every scalar TensorBoard's own reader
     (`event_processing.event_accumulator`) reads from
     tests/fixtures/run-files/events.out.tfevents.fixture (written by
     bert-burn's writer with fixed values; run_files.rs checks that it
     still writes the same bytes).

Run from the repository root after `BERT_BURN_WRITE_FIXTURES=1 cargo test
--workspace --test run_files` has written the card and the event file:
    pip install torch transformers huggingface_hub tensorboard
    python3 tests/reference/make_run_file_fixtures.py
"""
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import ModelCard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                          DataCollatorWithPadding, Trainer, TrainingArguments)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/run-files"
TINY = ROOT / "tests/fixtures/tiny-bert-base"
SENTENCES = [("a gorgeous, witty, seductive movie.", 1), ("the plot is nothing but clichés.", 0),
             ("an engaging, thoughtful film.", 1), ("dull and lifeless from start to end.", 0)]


class Rows(torch.utils.data.Dataset):
    def __init__(self, tokenizer, rows):
        self.items = [dict(tokenizer(text, truncation=True, max_length=48), labels=label)
                      for text, label in rows]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def trainer_state():
    """A Trainer run's state, as Trainer writes it."""
    tokenizer = AutoTokenizer.from_pretrained(TINY)
    model = AutoModelForSequenceClassification.from_pretrained(TINY, num_labels=2)

    def metrics(prediction):
        predicted = np.argmax(prediction.predictions, axis=1)
        truth = prediction.label_ids
        f1s = []
        for label in (0, 1):
            tp = np.sum((predicted == label) & (truth == label))
            precision = tp / max(np.sum(predicted == label), 1)
            recall = tp / max(np.sum(truth == label), 1)
            f1s.append(0 if tp == 0 else 2 * precision * recall / (precision + recall))
        return {"accuracy": float(np.mean(predicted == truth)), "f1": float(np.mean(f1s))}

    with tempfile.TemporaryDirectory() as output:
        args = TrainingArguments(output_dir=output, num_train_epochs=2,
                                 per_device_train_batch_size=8, logging_steps=2,
                                 eval_strategy="epoch", save_strategy="epoch",
                                 load_best_model_at_end=True, metric_for_best_model="accuracy",
                                 report_to="none", use_cpu=True, seed=42, disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=Rows(tokenizer, SENTENCES * 8),
                          eval_dataset=Rows(tokenizer, SENTENCES), compute_metrics=metrics,
                          data_collator=DataCollatorWithPadding(tokenizer))
        trainer.train()
        trainer.state.save_to_json(str(OUT / "trainer_state_transformers.json"))


def model_card():
    card = ModelCard.load(OUT / "card/README.md")
    data = card.data.to_dict()
    results = [{"task_type": r.task_type, "dataset_name": r.dataset_name,
                "dataset_type": r.dataset_type, "dataset_split": r.dataset_split,
                "metric_type": r.metric_type, "metric_value": r.metric_value}
               for r in card.data.eval_results or []]
    return {key: data.get(key) for key in
            ["library_name", "base_model", "pipeline_tag", "tags", "datasets", "metrics"]} | {
               "model_name": card.data.model_name, "eval_results": results}


def tensorboard():
    accumulator = EventAccumulator(str(OUT / "events.out.tfevents.fixture"))
    accumulator.Reload()
    return {tag: [[event.step, event.value, event.wall_time] for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def main():
    trainer_state()
    expected = {"model_card": model_card(), "tensorboard": tensorboard()}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
