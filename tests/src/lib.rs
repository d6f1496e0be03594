//! Shared helpers of the workspace-level tests: the real checkpoint, the
//! Hugging Face reference fixtures and float comparisons.

use std::path::{Path, PathBuf};

use bert_data::assets::{AssetCache, MINILM, MPNET};
use bert_data::{BertTokenizer, Encoding};
use bert_model::BertInput;
use bert_train::run::RunDir;
use bert_train::tasks::{Start, TrainArgs, evaluate_run, train};
use burn::tensor::{Device, Tensor};
use clap::Parser;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Largest allowed |ours - Hugging Face| on hidden states (fp32).
pub const TOLERANCE: f32 = 1e-4;

/// The CPU device most tests run on: flex, the default CPU backend.
pub fn device() -> Device {
    Device::flex()
}

/// Both CPU backends, for the parity tests: flex, and ndarray (deprecated by
/// burn, still the reference CPU path).
#[allow(deprecated)]
pub fn cpu_devices() -> [(&'static str, Device); 2] {
    [("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// The settings of the tests' quick runs of all-MiniLM-L6-v2: small batches
/// of short texts, a high learning rate without warm-up.
pub const QUICK_RUN: [&str; 8] = [
    "--batch-size",
    "16",
    "--max-len",
    "48",
    "--lr",
    "3e-4",
    "--warmup-ratio",
    "0",
];

/// `train`'s arguments from `flags`, parsed as `bert-train train FLAGS` parses them.
pub fn train_args(flags: &[&str]) -> TrainArgs {
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }
    let argv = std::iter::once("train").chain(flags.iter().copied());
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{e}"))
        .args
}

/// Writes `body` to `root/name` and returns the path as text (a data file
/// for a test's flags).
pub fn write_data_file(root: &Path, name: &str, body: &str) -> String {
    let path = root.join(name);
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path.to_str().expect("UTF-8 path").to_string()
}

/// `text,label` rows of a two-label CSV: `rows` sentences numbered from 0,
/// labelled `1` ("good") and `0` ("bad") in turn.
pub fn two_label_csv(rows: usize) -> String {
    (0..rows).fold(String::from("text,label\n"), |mut csv, i| {
        csv.push_str(&format!(
            "sentence {i} is {},{}\n",
            ["good", "bad"][i % 2],
            i % 2
        ));
        csv
    })
}

/// The flags of a short run of `task` on the tiny models: `model` on
/// `data` into `output`, batch 16, 32 tokens, lr 1e-3.
pub fn tiny_run_flags<'a>(
    task: &'a str,
    model: &'a str,
    data: &'a str,
    output: &'a str,
) -> Vec<&'a str> {
    vec![
        "--task",
        task,
        "--model",
        model,
        "--dataset",
        data,
        "--output-dir",
        output,
        "--batch-size",
        "16",
        "--max-len",
        "32",
        "--lr",
        "1e-3",
    ]
}

/// Trains a new run with `args` on `device` and returns its test report as `R`.
pub fn train_new<R: DeserializeOwned>(args: TrainArgs, device: Device, cache: &AssetCache) -> R {
    train(args, Start::New, device, cache)
        .unwrap()
        .get()
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Reloads the run in `run` and returns its test report, recomputed on `device`, as `R`.
pub fn reevaluate<R: DeserializeOwned>(run: &Path, device: &Device, cache: &AssetCache) -> R {
    evaluate_run(&RunDir::new(run), None, None, device, cache)
        .unwrap()
        .get()
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The sentences of rotten_tomatoes' training split (real text for the
/// tests' generated tasks).
pub fn rotten_tomatoes_sentences() -> Vec<String> {
    let dataset = bert_data::dataset::BuiltinDataset::find("rotten_tomatoes").unwrap();
    let splits = dataset.load(&AssetCache::from_env()).unwrap();
    splits
        .train
        .into_iter()
        .map(|example| example.text)
        .collect()
}

/// all-MiniLM-L6-v2, installed into the cache on first use.
pub fn minilm_dir() -> PathBuf {
    AssetCache::from_env()
        .ensure(&MINILM)
        .unwrap_or_else(|e| panic!("cannot install all-MiniLM-L6-v2: {e}"))
}

/// all-mpnet-base-v2, installed into the cache on first use.
pub fn mpnet_dir() -> PathBuf {
    AssetCache::from_env()
        .ensure(&MPNET)
        .unwrap_or_else(|e| panic!("cannot install all-mpnet-base-v2: {e}"))
}

/// Row `row` of a `[B, S, H]` tensor at position `position`.
pub fn token_state(hidden: &Tensor<3>, row: usize, position: usize) -> Vec<f32> {
    let [_, _, width] = hidden.dims();
    values(
        hidden
            .clone()
            .slice([row..row + 1, position..position + 1])
            .reshape([width]),
    )
}

/// Row `row` of a `[B, H]` tensor.
pub fn matrix_row(matrix: &Tensor<2>, row: usize) -> Vec<f32> {
    let [_, width] = matrix.dims();
    values(matrix.clone().narrow(0, row, 1).reshape([width]))
}

/// A fresh folder for one test's files. Dropping the guard removes it and
/// everything in it, also when the test fails.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("bert-burn-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}"))
}

/// Asserts that `path` is a PNG image with something drawn in it.
pub fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{} is not a drawn PNG",
        path.display()
    );
}

/// Path of a file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Reads a JSON fixture.
pub fn read_json<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `tests/fixtures/minilm_reference.json`, written by `tests/reference/make_fixtures.py`.
#[derive(Deserialize)]
pub struct Reference {
    /// SHA-256 of the checkpoint the fixture was made from.
    pub model_sha256: String,
    /// One text or pair per case.
    pub cases: Vec<ReferenceCase>,
    /// A padded batch of single texts.
    pub batch: ReferenceBatch,
    /// sentence-transformers' documented similarity example.
    pub similarity: ReferenceSimilarity,
}

/// One input encoded and run alone.
#[derive(Deserialize)]
pub struct ReferenceCase {
    /// What the case covers.
    pub name: String,
    /// Sentence A.
    pub text: String,
    /// Sentence B, for pairs.
    pub text_pair: Option<String>,
    /// Truncation length.
    pub max_len: usize,
    /// Hugging Face's ids.
    pub input_ids: Vec<u32>,
    /// Hugging Face's segment ids; empty where its tokenizer returns none (MPNet).
    #[serde(default)]
    pub token_type_ids: Vec<u32>,
    /// `last_hidden_state[0, 0]`.
    pub last_hidden_first: Vec<f32>,
    /// `last_hidden_state[0, -1]`.
    pub last_hidden_last: Vec<f32>,
    /// `pooler_output[0]`.
    pub pooled: Vec<f32>,
    /// Normalised mean-pooled embedding.
    pub mean_pooled: Vec<f32>,
}

/// A batch of single texts padded to the longest.
#[derive(Deserialize)]
pub struct ReferenceBatch {
    /// The texts.
    pub texts: Vec<String>,
    /// Padded ids, one row per text.
    pub input_ids: Vec<Vec<i64>>,
    /// 1 for tokens, 0 for padding.
    pub attention_mask: Vec<Vec<i64>>,
    /// Segment ids; empty where the tokenizer returns none (MPNet).
    #[serde(default)]
    pub token_type_ids: Vec<Vec<i64>>,
    /// Token 0 of each row.
    pub last_hidden_first: Vec<Vec<f32>>,
    /// Last real token of each row.
    pub last_hidden_last_real: Vec<Vec<f32>>,
    /// Pooled output of each row.
    pub pooled: Vec<Vec<f32>>,
    /// Normalised mean-pooled embedding of each row.
    pub mean_pooled: Vec<Vec<f32>>,
}

impl ReferenceBatch {
    /// The batch as model input; segment ids 0 where the tokenizer gave none.
    pub fn input(&self, device: &Device) -> BertInput {
        let shape = [self.input_ids.len(), self.input_ids[0].len()];
        let token_type_ids = if self.token_type_ids.is_empty() {
            vec![0; shape[0] * shape[1]]
        } else {
            self.token_type_ids.concat()
        };
        BertInput::from_rows(
            self.input_ids.concat(),
            token_type_ids,
            self.attention_mask.concat(),
            shape,
            device,
        )
    }
}

/// Two sentences and the cosine of their embeddings.
#[derive(Deserialize)]
pub struct ReferenceSimilarity {
    /// First sentence.
    pub a: String,
    /// Second sentence.
    pub b: String,
    /// Cosine of the normalised mean-pooled embeddings.
    pub cosine: f32,
}

/// Encodes a reference case as transformers did: its text (and pair) at its length.
pub fn encode_case(tokenizer: &BertTokenizer, case: &ReferenceCase) -> Encoding {
    let tokenizer = tokenizer.clone().with_max_len(case.max_len).unwrap();
    match &case.text_pair {
        Some(pair) => tokenizer.encode_pair(&case.text, pair),
        None => tokenizer.encode(&case.text),
    }
    .unwrap()
}

/// Loads `tests/fixtures/minilm_reference.json`.
pub fn reference() -> Reference {
    read_json("minilm_reference.json")
}

/// Loads `tests/fixtures/mpnet_reference.json` (all-mpnet-base-v2, 384 tokens).
pub fn mpnet_reference() -> Reference {
    read_json("mpnet_reference.json")
}

/// Largest absolute element-wise difference; panics on a length mismatch.
pub fn max_abs_diff(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len(), "length differs");
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// Asserts `max |ours - reference| <= TOLERANCE`, naming what is compared.
pub fn assert_close(what: &str, ours: &[f32], reference: &[f32]) {
    let diff = max_abs_diff(ours, reference);
    eprintln!("{what}: max |diff| = {diff:e}");
    assert!(
        diff <= TOLERANCE,
        "{what}: max |diff| = {diff:e} > {TOLERANCE:e}"
    );
}

/// A tensor's values, row-major.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_to_vec::<f32>()
        .expect("float tensor converts to f32")
}

/// Logits as a reference script stored them (rounded to 7 decimals).
#[derive(Deserialize)]
pub struct StoredLogits {
    /// transformers' shape, e.g. `[B, C]` or `[B, S, C]`.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The padded batch a reference script ran.
#[derive(Deserialize)]
pub struct StoredBatch {
    /// `[B, S]` token ids.
    pub input_ids: Vec<Vec<u32>>,
    /// `[B, S]` segment ids (zeros where the tokenizer returns none).
    pub token_type_ids: Vec<Vec<u32>>,
    /// `[B, S]`, 1 at real tokens.
    pub attention_mask: Vec<Vec<u32>>,
}

impl StoredBatch {
    /// The batch as the model's input.
    pub fn input(&self) -> BertInput {
        let shape = [self.input_ids.len(), self.input_ids[0].len()];
        let flat = |rows: &[Vec<u32>]| rows.iter().flatten().map(|&v| v as i64).collect();
        BertInput::from_rows(
            flat(&self.input_ids),
            flat(&self.token_type_ids),
            flat(&self.attention_mask),
            shape,
            &device(),
        )
    }

    /// One flag per token, row-major: whether it is a real token.
    pub fn real_tokens(&self) -> Vec<bool> {
        self.attention_mask
            .iter()
            .flatten()
            .map(|&m| m == 1)
            .collect()
    }
}

/// Our `[rows, C]` logits against stored ones at the rows `kept` marks:
/// `max |diff| <= tolerance`.
pub fn check_stored_logits(
    what: &str,
    ours: Tensor<2>,
    expected: &StoredLogits,
    kept: &[bool],
    tolerance: f32,
) {
    let columns = expected.values.len() / kept.len();
    assert_eq!(ours.dims(), [kept.len(), columns], "{what}: shape");
    let rows = |values: &[f32]| -> Vec<f32> {
        values
            .chunks(columns)
            .zip(kept)
            .filter(|(_, keep)| **keep)
            .flat_map(|(row, _)| row.iter().copied())
            .collect()
    };
    let diff = max_abs_diff(&rows(&values(ours)), &rows(&expected.values));
    eprintln!("{what} {:?}: max |diff| = {diff:e}", expected.shape);
    assert!(diff <= tolerance, "{what}: max |diff| = {diff:e}");
}

/// The tiny random checkpoints of every family but BERT, under
/// `tests/fixtures/families/` (`tests/reference/make_family_fixtures.py`).
pub const FAMILY_FIXTURES: [&str; 7] = [
    "roberta",
    "xlm-roberta",
    "distilbert",
    "electra",
    "mpnet",
    "modernbert",
    "deberta-v2",
];
