//! RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA, MPNet, ModernBERT and DeBERTa-v2 checkpoints written by
//! transformers (tiny random ones: `tests/reference/make_family_fixtures.py`)
//! load into the one encoder and give transformers' token ids, hidden states
//! and classification logits (fp32, 1e-5), for a batch of texts (one longer
//! than the positions) and a pair.

use std::collections::BTreeMap;
use std::path::Path;

use bert_burn_tests::{FAMILY_FIXTURES, device, fixture, max_abs_diff, scratch_dir, values};
use bert_data::BertTokenizer;
use bert_data::sentencepiece::{PieceType, SentencePieceModel};
use bert_model::heads::{ClassifierHeadConfig, PretrainingHeadConfig};
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{BertInput, ModelFamily, log_bucket, relative_position_bucket};
use burn::tensor::{Int, Tensor};
use serde::Deserialize;
use serde_json::Value;

/// Largest allowed |ours - transformers| (fp32, a tiny model).
const TOLERANCE: f32 = 1e-5;

/// Two configs the real checkpoints' values cannot test: MPNet with pad id
/// 0 (transformers derives its positions from id 1 all the same) and
/// DeBERTa with relative attention but neither c2p nor p2c (no relative term).
const CONFIG_VARIANTS: [&str; 2] = ["mpnet-pad0", "deberta-v2-nopos"];

/// Every family's fixtures, then the config variants.
fn families() -> impl Iterator<Item = &'static str> {
    FAMILY_FIXTURES.into_iter().chain(CONFIG_VARIANTS)
}

#[derive(Deserialize)]
struct Expected {
    inputs: Inputs,
    mpnet_relative_buckets: Buckets,
    deberta_relative_buckets: DebertaBuckets,
    sentencepiece: SentencePiece,
    directories: BTreeMap<String, Directory>,
}

/// transformers' DeBERTa log bucket of each relative position from `first`
/// on, for DeBERTa-v3's 256 buckets over 512 positions and the fixture's 8 over 32.
#[derive(Deserialize)]
struct DebertaBuckets {
    first: i64,
    v3: Vec<i64>,
    fixture: Vec<i64>,
}

/// What the DeBERTa fixture's `spm.model` holds (read with protobuf) and the
/// ids transformers' tokenizer, opened from it alone, gives.
#[derive(Deserialize)]
struct SentencePiece {
    pieces: usize,
    unk_id: usize,
    model_type: u64,
    add_dummy_prefix: bool,
    precompiled_charsmap_bytes: usize,
    first_pieces: Vec<(String, f32, u64)>,
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    pair: PairIds,
}

#[derive(Deserialize)]
struct PairIds {
    input_ids: Vec<u32>,
    token_type_ids: Vec<u32>,
}

/// transformers' MPNet bucket of each relative position from `first` on.
#[derive(Deserialize)]
struct Buckets {
    first: i64,
    buckets: Vec<usize>,
}

#[derive(Deserialize)]
struct Inputs {
    texts: Vec<String>,
    pair: (String, String),
    max_length: usize,
}

#[derive(Deserialize)]
struct Directory {
    model_type: ModelFamily,
    class: String,
    texts: Batch,
    pair: Batch,
}

/// One tokenized batch and what transformers computed on it.
#[derive(Deserialize)]
struct Batch {
    input_ids: Vec<Vec<u32>>,
    token_type_ids: Option<Vec<Vec<u32>>>,
    attention_mask: Vec<Vec<u32>>,
    last_hidden_state: Option<Values>,
    logits: Values,
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

impl Batch {
    fn input(&self) -> BertInput {
        let shape = [self.input_ids.len(), self.input_ids[0].len()];
        let flat = |rows: &[Vec<u32>]| rows.iter().flatten().map(|&v| i64::from(v)).collect();
        let token_types = match &self.token_type_ids {
            Some(types) => flat(types),
            None => vec![0; shape[0] * shape[1]],
        };
        BertInput::from_rows(
            flat(&self.input_ids),
            token_types,
            flat(&self.attention_mask),
            shape,
            &device(),
        )
    }

    /// The hidden states of the real tokens (mask 1) of row-major
    /// `[B, S, H]` values. What a padding position computes is not
    /// compared: it reaches no real token, and a ModernBERT padding query
    /// whose whole window is padding is computed differently by each
    /// attention kernel.
    fn real_tokens(&self, hidden: &[f32]) -> Vec<f32> {
        let mask: Vec<u32> = self.attention_mask.iter().flatten().copied().collect();
        let width = hidden.len() / mask.len();
        hidden
            .chunks(width)
            .zip(&mask)
            .filter(|(_, keep)| **keep == 1)
            .flat_map(|(state, _)| state.iter().copied())
            .collect()
    }

    /// The ids of row `row` without padding.
    fn ids(&self, row: usize) -> &[u32] {
        let length = self.attention_mask[row].iter().filter(|&&m| m == 1).count();
        &self.input_ids[row][..length]
    }
}

fn expected() -> Expected {
    bert_burn_tests::read_json("families/expected.json")
}

fn assert_close(what: &str, ours: Vec<f32>, theirs: &[f32]) {
    let diff = max_abs_diff(&ours, theirs);
    eprintln!("{what}: max |diff| = {diff:e}");
    assert!(diff <= TOLERANCE, "{what}: max |diff| = {diff:e}");
}

fn family_dir(name: &str) -> std::path::PathBuf {
    fixture(&format!("families/{name}"))
}

#[test]
fn mpnet_buckets_relative_positions_like_transformers() {
    let expected = expected().mpnet_relative_buckets;
    // Beyond the tiny fixtures' 32 positions: the logarithmic buckets up to
    // and past the 128 distinguished distances, both directions.
    assert!(expected.buckets.len() > 1000);
    for (offset, &theirs) in expected.buckets.iter().enumerate() {
        let position = expected.first + offset as i64;
        assert_eq!(
            relative_position_bucket(position, 32, 128),
            theirs,
            "relative position {position}"
        );
    }
}

#[test]
fn deberta_log_buckets_relative_positions_like_transformers() {
    let expected = expected().deberta_relative_buckets;
    assert!(expected.v3.len() > 1000);
    for (buckets, max_position, table) in [(256, 512, &expected.v3), (8, 32, &expected.fixture)] {
        for (offset, &theirs) in table.iter().enumerate() {
            let position = expected.first + offset as i64;
            assert_eq!(
                log_bucket(position, buckets, max_position),
                theirs,
                "{buckets} buckets: relative position {position}"
            );
        }
    }
}

#[test]
fn deberta_reads_spm_model_and_tokenizes_tricky_text_like_transformers() {
    let expected = expected().sentencepiece;
    let dir = family_dir("deberta-v2");
    assert!(!dir.join("tokenizer.json").exists(), "spm.model alone");
    let model = SentencePieceModel::from_file(dir.join("spm.model")).unwrap();
    assert_eq!(model.pieces.len(), expected.pieces);
    assert_eq!(model.unk_id, expected.unk_id);
    assert_eq!(model.model_type, expected.model_type);
    assert_eq!(model.add_dummy_prefix, expected.add_dummy_prefix);
    assert_eq!(
        model.precompiled_charsmap.len(),
        expected.precompiled_charsmap_bytes
    );
    for (piece, (text, score, kind)) in model.pieces.iter().zip(&expected.first_pieces) {
        assert_eq!(&piece.piece, text);
        assert!(
            (piece.score - score).abs() < 1e-6,
            "{text}: {}",
            piece.score
        );
        let control = piece.kind == PieceType::Control;
        assert_eq!(control, *kind == 3, "{text}");
    }
    let tokenizer = BertTokenizer::from_dir(&dir).unwrap();
    for (text, theirs) in expected.texts.iter().zip(&expected.ids) {
        assert_eq!(
            &tokenizer.encode(text).unwrap().input_ids,
            theirs,
            "{text:?}"
        );
    }
    let pair = tokenizer
        .encode_pair(&expected.texts[0], &expected.texts[3])
        .unwrap();
    assert_eq!(pair.input_ids, expected.pair.input_ids);
    assert_eq!(pair.token_type_ids, expected.pair.token_type_ids);
}

#[test]
fn each_family_tokenizes_like_transformers() {
    let expected = expected();
    for family in families() {
        let dir = family_dir(family);
        let config = pretrained::load_config(&dir).unwrap();
        assert_eq!(
            config.max_input_len(),
            expected.inputs.max_length,
            "{family}"
        );
        let tokenizer = BertTokenizer::from_dir(&dir)
            .unwrap()
            .with_max_len(config.max_input_len())
            .unwrap();
        let run = &expected.directories[family];
        for (row, text) in expected.inputs.texts.iter().enumerate() {
            let ours = tokenizer.encode(text).unwrap();
            assert_eq!(ours.input_ids, run.texts.ids(row), "{family}: {text}");
        }
        let (a, b) = &expected.inputs.pair;
        let ours = tokenizer.encode_pair(a, b).unwrap();
        assert_eq!(ours.input_ids, run.pair.ids(0), "{family}: pair");
        if let Some(types) = &run.pair.token_type_ids {
            assert_eq!(
                ours.token_type_ids,
                types[0][..ours.len()],
                "{family}: pair types"
            );
        }
    }
}

#[test]
fn each_family_encodes_like_transformers() {
    let expected = expected();
    for family in families() {
        let run = &expected.directories[family];
        let (config, model) = pretrained::load_encoder(family_dir(family), &device()).unwrap();
        assert_eq!(config.model_type, run.model_type, "{family}");
        for (name, batch) in [("texts", &run.texts), ("pair", &run.pair)] {
            let output = model.forward(batch.input());
            assert!(output.pooled_output.is_none(), "{family}: no pooler");
            let theirs = batch.last_hidden_state.as_ref().unwrap();
            assert_close(
                &format!("{family} {name} last_hidden_state"),
                batch.real_tokens(&values(output.last_hidden_state)),
                &batch.real_tokens(&theirs.values),
            );
        }
    }
}

#[test]
fn each_family_classifies_like_transformers_and_saves_its_names() {
    let expected = expected();
    for family in families() {
        let name = format!("{family}-classifier");
        let dir = family_dir(&name);
        let run = &expected.directories[&name];
        let config = pretrained::load_config(&dir).unwrap();
        let head = ClassifierHeadConfig::for_model(&config, config.labels().len()).init(&device());
        let (_, model, status) = pretrained::load_for_task(&dir, head, &device()).unwrap();
        assert_eq!(status, HeadStatus::Loaded, "{name}");
        for (split, batch) in [("texts", &run.texts), ("pair", &run.pair)] {
            assert_close(
                &format!("{name} {split} logits"),
                values(model.forward(batch.input())),
                &batch.logits.values,
            );
        }

        let scratch = scratch_dir();
        pretrained::save_for_task(&model, &config, scratch.path()).unwrap();
        assert_eq!(tensor_names(scratch.path()), tensor_names(&dir), "{name}");
        let saved: Value = serde_json::from_str(
            &std::fs::read_to_string(scratch.path().join("config.json")).unwrap(),
        )
        .unwrap();
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(saved, original, "{name}: config.json");
        assert_eq!(saved["architectures"][0], run.class.as_str(), "{name}");
    }
}

#[test]
fn each_masked_lm_predicts_like_transformers() {
    let expected = expected();
    // ELECTRA's base checkpoint is a discriminator, not a masked LM.
    for family in families().filter(|family| *family != "electra") {
        let run = &expected.directories[family];
        assert!(
            run.class.ends_with("ForMaskedLM"),
            "{family}: {}",
            run.class
        );
        let dir = family_dir(family);
        let config = pretrained::load_config(&dir).unwrap();
        let head = PretrainingHeadConfig::for_model(&config).init(&device());
        let (_, model, status) = pretrained::load_for_task(&dir, head, &device()).unwrap();
        assert_eq!(status, HeadStatus::Loaded, "{family}");
        for (name, batch) in [("texts", &run.texts), ("pair", &run.pair)] {
            let input = batch.input();
            let [rows, seq_len] = input.input_ids.dims();
            let transformed = model.forward(input).transformed;
            let every_position = Tensor::<1, Int>::arange(0..(rows * seq_len) as i64, &device());
            let logits = model.mlm_logits(transformed, every_position);
            assert_close(
                &format!("{family} {name} masked-LM logits"),
                batch.real_tokens(&values(logits)),
                &batch.real_tokens(&batch.logits.values),
            );
        }
    }
}

/// The tensor names of a directory's `model.safetensors`, sorted.
fn tensor_names(dir: &Path) -> Vec<String> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
}
