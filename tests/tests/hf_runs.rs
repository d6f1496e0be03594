//! Run directories open in transformers as they are: for each encoder family
//! and task, a run made by bert-burn (`tests/fixtures/hf-runs/<family>/<task>/`)
//! was opened with the task's `AutoModelFor...` class by
//! `tests/reference/make_run_fixtures.py`, which stored its token ids and
//! logits. Here bert-burn reads the same runs and must give the same ids and
//! logits, and saving a run today must write the same config, tokenizer files
//! and tensors that transformers opened.

use std::path::Path;

use bert_burn_tests::{
    StoredBatch, StoredLogits, check_stored_logits, device, fixture, scratch_dir,
};
use bert_data::BertTokenizer;
use bert_model::heads::{ClassifierHeadConfig, PretrainingHeadConfig, QuestionAnsweringHeadConfig};
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{BertConfig, BertForTask, BertInput, TaskHead};
use bert_train::run::RunDir;
use burn::tensor::{Int, Tensor};
use serde::Deserialize;
use serde_json::Value;

/// Largest allowed |ours - transformers| on logits (fp32, a tiny model).
const LOGIT_TOLERANCE: f32 = 1e-5;

#[derive(Deserialize)]
struct Expected {
    runs: std::collections::BTreeMap<String, ExpectedRun>,
}

/// What transformers made of one run.
#[derive(Deserialize)]
struct ExpectedRun {
    class: String,
    problem_type: Option<String>,
    model_max_length: usize,
    inputs: Vec<Value>,
    #[serde(flatten)]
    batch: StoredBatch,
    tokenizer_returns_token_type_ids: bool,
    logits: std::collections::BTreeMap<String, StoredLogits>,
}

impl ExpectedRun {
    /// The padded batch transformers ran.
    fn input(&self) -> BertInput {
        self.batch.input()
    }

    fn check_logits(&self, task: &str, name: &str, ours: Tensor<2>, rows: usize) {
        self.compare(task, name, ours, &vec![true; rows]);
    }

    /// [`Self::check_logits`] for one row per token (`[B * S, C]`), at the
    /// real tokens only: what a padding position computes reaches no real
    /// token, and a ModernBERT padding query whose whole window is padding
    /// is computed differently by each attention kernel.
    fn check_token_logits(&self, task: &str, name: &str, ours: Tensor<2>) {
        self.compare(task, name, ours, &self.batch.real_tokens());
    }

    /// Our `[rows, C]` logits against transformers' at the rows `kept` marks.
    fn compare(&self, task: &str, name: &str, ours: Tensor<2>, kept: &[bool]) {
        let what = format!("{task} {name}");
        check_stored_logits(&what, ours, &self.logits[name], kept, LOGIT_TOLERANCE);
    }
}

fn expected() -> Expected {
    bert_burn_tests::read_json("hf-runs/expected.json")
}

/// Our tokenizer, truncating to the run's length, gives transformers' ids
/// for the run's inputs (and segment ids, where its tokenizer returns them).
fn check_token_ids(task: &str, dir: &Path, run: &ExpectedRun) {
    let tokenizer = BertTokenizer::from_dir(dir)
        .unwrap()
        .with_max_len(run.model_max_length)
        .unwrap();
    for (row, input) in run.inputs.iter().enumerate() {
        let encoding = match input {
            Value::String(text) => tokenizer.encode(text).unwrap(),
            Value::Array(pair) => tokenizer
                .encode_pair(pair[0].as_str().unwrap(), pair[1].as_str().unwrap())
                .unwrap(),
            other => panic!("{task}: unexpected input {other}"),
        };
        let length = run.batch.attention_mask[row]
            .iter()
            .filter(|&&m| m == 1)
            .count();
        assert_eq!(
            encoding.input_ids,
            run.batch.input_ids[row][..length],
            "{task} row {row}"
        );
        if run.tokenizer_returns_token_type_ids {
            let types = &run.batch.token_type_ids[row][..length];
            assert_eq!(encoding.token_type_ids, types, "{task} row {row}");
        }
    }
}

/// Loads the run with `head`, checks it is the class transformers opened,
/// and that saving it again writes the files transformers read.
fn load<H: TaskHead>(
    task: &str,
    run: &ExpectedRun,
    head: impl FnOnce(&BertConfig) -> H,
) -> BertForTask<H> {
    let dir = fixture(&format!("hf-runs/{task}"));
    check_token_ids(task, &dir, run);
    let config = pretrained::load_config(&dir).unwrap();
    assert_eq!(
        config.architectures,
        std::slice::from_ref(&run.class),
        "{task}"
    );
    let problem_type = config
        .problem_type
        .map(|p| serde_json::to_value(p).unwrap());
    assert_eq!(
        problem_type,
        run.problem_type.clone().map(Value::from),
        "{task}"
    );
    let (_, model, status) = pretrained::load_for_task(&dir, head(&config), &device()).unwrap();
    assert_eq!(status, HeadStatus::Loaded, "{task}");
    assert_eq!(
        model.head.architecture(config.model_type),
        run.class,
        "{task}"
    );
    check_saved_files(task, &dir, &model, &config, run.model_max_length);
    model
}

/// Saving the loaded run today writes the same HF files as the fixture.
fn check_saved_files<H: TaskHead>(
    task: &str,
    dir: &Path,
    model: &BertForTask<H>,
    config: &BertConfig,
    max_len: usize,
) {
    let scratch = scratch_dir();
    let saved = RunDir::new(scratch.path().join(task));
    let tokenizer = BertTokenizer::from_dir(dir)
        .unwrap()
        .with_max_len(max_len)
        .unwrap();
    saved.save(model, config, &tokenizer).unwrap();
    let json = |path: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    for name in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert_eq!(
            json(&saved.file(name)),
            json(&dir.join(name)),
            "{task}: {name}"
        );
    }
    // WordPiece vocabularies only.
    assert_eq!(
        std::fs::read_to_string(saved.file("vocab.txt")).ok(),
        std::fs::read_to_string(dir.join("vocab.txt")).ok(),
        "{task}: vocab.txt"
    );
    let tensors = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut named: Vec<(String, Vec<u8>)> = file
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.data().to_vec()))
            .collect();
        named.sort();
        named
    };
    assert_eq!(
        tensors(&saved.file("model.safetensors")),
        tensors(&dir.join("model.safetensors")),
        "{task}: model.safetensors"
    );
}

/// The runs whose transformers class ends with `suffix`, by name.
fn runs_of<'a>(expected: &'a Expected, suffix: &str) -> Vec<(&'a String, &'a ExpectedRun)> {
    let runs: Vec<_> = expected
        .runs
        .iter()
        .filter(|(_, run)| run.class.ends_with(suffix))
        .collect();
    assert!(!runs.is_empty(), "no {suffix} run");
    runs
}

#[test]
fn sequence_classification_runs_match_transformers() {
    let expected = expected();
    for (task, run) in runs_of(&expected, "ForSequenceClassification") {
        let model = load(task, run, |config| {
            ClassifierHeadConfig::for_model(config, config.labels().len()).init(&device())
        });
        let rows = run.inputs.len();
        run.check_logits(task, "logits", model.forward(run.input()), rows);
    }
}

#[test]
fn token_classification_runs_match_transformers() {
    let expected = expected();
    for (task, run) in runs_of(&expected, "ForTokenClassification") {
        let model = load(task, run, |config| {
            ClassifierHeadConfig::for_model(config, config.labels().len()).init_token(&device())
        });
        let logits = model.forward(run.input());
        let [batch, seq_len, tags] = logits.dims();
        let logits = logits.reshape([batch * seq_len, tags]);
        run.check_token_logits(task, "logits", logits);
    }
}

#[test]
fn question_answering_runs_match_transformers() {
    let expected = expected();
    for (task, run) in runs_of(&expected, "ForQuestionAnswering") {
        let model = load(task, run, |config| {
            QuestionAnsweringHeadConfig::for_model(config).init(&device())
        });
        let spans = model.forward(run.input());
        let rows = run.inputs.len();
        run.check_logits(task, "start_logits", spans.start, rows);
        run.check_logits(task, "end_logits", spans.end, rows);
    }
}

#[test]
fn masked_lm_runs_match_transformers() {
    let expected = expected();
    let runs = expected.runs.iter().filter(|(_, run)| {
        run.class.ends_with("ForPreTraining") || run.class.ends_with("ForMaskedLM")
    });
    for (task, run) in runs {
        let model = load(task, run, |config| {
            PretrainingHeadConfig::for_model(config).init(&device())
        });
        let output = model.forward(run.input());
        let [batch, seq_len, _] = output.transformed.dims();
        let every_position = Tensor::<1, Int>::arange(0..(batch * seq_len) as i64, &device());
        let prediction = model.mlm_logits(output.transformed, every_position);
        let name = if run.logits.contains_key("prediction_logits") {
            "prediction_logits"
        } else {
            "logits"
        };
        run.check_token_logits(task, name, prediction);
        match output.nsp_logits {
            Some(nsp) => run.check_logits(task, "seq_relationship_logits", nsp, batch),
            None => assert!(
                !run.logits.contains_key("seq_relationship_logits"),
                "{task}"
            ),
        }
    }
}
