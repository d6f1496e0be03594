"""A bert-burn few-shot run as a transformers sequence classifier.

Written into the run by bert-burn (`--task few-shot`) so that
`AutoModelForSequenceClassification.from_pretrained(run, trust_remote_code=True)`
gives the run's probabilities: the encoder, its sentence-transformers pooling
(`setfit_pooling`, `setfit_normalize` in config.json), then the
logistic-regression head of `model_head.safetensors` as a linear layer
(softmax of the logits is scikit-learn's `predict_proba`).
"""
import json

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.auto.configuration_auto import CONFIG_MAPPING
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.utils import cached_file

MODEL_TYPE = "{MODEL_TYPE}"
HEAD_FILE = "model_head.safetensors"
Encoder = MODEL_MAPPING[CONFIG_MAPPING[MODEL_TYPE]]
HUB_ARGUMENTS = ("cache_dir", "force_download", "proxies", "token", "revision", "local_files_only",
                 "subfolder")


def saved_weight_names(path, hub):
    """The names of the weights saved at `path` (one file, or shards)."""
    find = lambda name: cached_file(path, name, _raise_exceptions_for_missing_entries=False, **hub)
    index = find("model.safetensors.index.json")
    if index is not None:
        with open(index) as f:
            return set(json.load(f)["weight_map"])
    weights = find("model.safetensors")
    if weights is None:
        return set()
    with safe_open(weights, "pt") as f:
        return set(f.keys())


def pool(hidden, attention_mask, mode):
    """sentence-transformers' `Pooling` of the encoder's last hidden states."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class SetFitForSequenceClassification(Encoder):
    """The encoder, pooled, and a linear head with the logistic regression's weights."""

    _keys_to_ignore_on_load_missing = [r"^classifier\.", r"^pooler\."]

    def __init__(self, config):
        super().__init__(config)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """The encoder's weights; the head's from `model_head.safetensors`
        unless the checkpoint has the classifier (a `save_pretrained` copy)."""
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        hub = {key: kwargs[key] for key in HUB_ARGUMENTS if key in kwargs}
        head = cached_file(pretrained_model_name_or_path, HEAD_FILE,
                           _raise_exceptions_for_missing_entries=False, **hub)
        if head is not None and "classifier.weight" not in saved_weight_names(
                pretrained_model_name_or_path, hub):
            model.load_head(load_file(head))
        return loaded

    @torch.no_grad()
    def load_head(self, saved):
        """Copies scikit-learn's `coef_` and `intercept_` into the linear layer.

        Two classes have one row (the positive class's log-odds): the logits
        are then (0, log-odds), whose softmax is `predict_proba`.
        """
        coef, intercept = saved["coef"], saved["intercept"]
        if coef.shape[0] == 1:
            coef = torch.cat([torch.zeros_like(coef), coef])
            intercept = torch.cat([torch.zeros_like(intercept), intercept])
        weight = self.classifier.weight
        weight.copy_(coef.to(weight.dtype))
        self.classifier.bias.copy_(intercept.to(weight.dtype))

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = super().forward(
            input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        pooled = pool(hidden, attention_mask, getattr(self.config, "setfit_pooling", "mean"))
        if getattr(self.config, "setfit_normalize", False):
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            loss = torch.nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)
