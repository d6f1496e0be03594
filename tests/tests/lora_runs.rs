//! LoRA: fresh adapters change nothing, a step moves only adapters and head,
//! and LoRA runs open in peft and transformers. For each run in
//! `tests/fixtures/lora-runs/<family>/<task>/` (made by bert-burn,
//! `tests/reference/make_lora_fixtures.py`), peft loaded `adapter/` onto the
//! base model and transformers loaded the merged `model.safetensors`, and
//! stored their logits. Here bert-burn loads the same adapter onto the same
//! base and must give peft's logits unmerged and transformers' merged, and
//! saving the adapter again must write the files peft read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bert_burn_tests::{
    StoredBatch, StoredLogits, check_stored_logits, device, fixture, scratch_dir, train_args,
    values,
};
use bert_data::assets::AssetCache;
use bert_model::heads::{
    ClassifierHeadConfig, QuestionAnsweringHeadConfig, SequenceClassificationHead,
};
use bert_model::peft::{self, ADAPTER_CONFIG, ADAPTER_WEIGHTS, AdapterConfig};
use bert_model::pretrained;
use bert_model::{BertConfig, BertForTask, BertInput, LoraConfig, LoraError, TaskHead};
use bert_train::run::RunDir;
use bert_train::tasks::{RunReport, Start, train};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor};
use serde::Deserialize;
use serde_json::Value;

/// Largest allowed |ours - peft or transformers| on logits (fp32, a tiny model).
const LOGIT_TOLERANCE: f32 = 1e-5;

#[derive(Deserialize)]
struct Expected {
    runs: BTreeMap<String, ExpectedRun>,
}

/// What peft and transformers made of one LoRA run.
#[derive(Deserialize)]
struct ExpectedRun {
    /// The base model, from the repository root.
    base: String,
    #[serde(flatten)]
    batch: StoredBatch,
    adapter_tensors: BTreeMap<String, Vec<usize>>,
    adapter_config: Value,
    peft_logits: BTreeMap<String, StoredLogits>,
    merged_logits: BTreeMap<String, StoredLogits>,
}

/// A model's named `[rows, C]` logits, and whether there is one row per token.
type NamedLogits = Vec<(&'static str, Tensor<2>, bool)>;

impl ExpectedRun {
    fn check(&self, what: &str, ours: NamedLogits, stored: &BTreeMap<String, StoredLogits>) {
        assert_eq!(ours.len(), stored.len(), "{what}: logits");
        for (name, logits, per_token) in ours {
            let kept = if per_token {
                self.batch.real_tokens()
            } else {
                vec![true; self.batch.input_ids.len()]
            };
            let what = format!("{what} {name}");
            check_stored_logits(&what, logits, &stored[name], &kept, LOGIT_TOLERANCE);
        }
    }
}

fn repository_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Checks one run: the adapter on its base against peft, saved again
/// against the files peft read, merged against transformers on the run.
fn check_run<H: TaskHead>(
    name: &str,
    run: &ExpectedRun,
    head: impl Fn(&BertConfig) -> H,
    logits: impl Fn(&BertForTask<H>, BertInput) -> NamedLogits,
) {
    let dir = fixture(&format!("lora-runs/{name}"));
    let adapter_dir = dir.join("adapter");
    let config = pretrained::load_config(&dir).unwrap();
    let family = config.model_type;
    let adapter = AdapterConfig::read(&adapter_dir).unwrap();
    let lora = adapter.lora().unwrap();
    let base = repository_path(&run.base);
    let (_, model, _) = pretrained::load_for_task(&base, head(&config), &device()).unwrap();
    let mut model = model.with_lora(&lora, family).unwrap();
    peft::load_adapter(&mut model, family, &adapter_dir).unwrap();
    run.check(
        &format!("{name} unmerged"),
        logits(&model, run.batch.input()),
        &run.peft_logits,
    );

    // Saved again: the config and the tensors peft read.
    let scratch = scratch_dir();
    let saved = peft::save_adapter(&model, &config, &lora, &run.base, scratch.path()).unwrap();
    assert_eq!(
        serde_json::to_value(&saved).unwrap(),
        run.adapter_config,
        "{name}"
    );
    let written = std::fs::read_to_string(scratch.path().join(ADAPTER_CONFIG)).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&written).unwrap(),
        run.adapter_config,
        "{name}"
    );
    let tensors = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        file.tensors()
            .into_iter()
            .map(|(name, view)| (name, (view.shape().to_vec(), view.data().to_vec())))
            .collect::<BTreeMap<_, _>>()
    };
    let ours = tensors(&scratch.path().join(ADAPTER_WEIGHTS));
    let shapes: BTreeMap<String, Vec<usize>> = ours
        .iter()
        .map(|(name, (shape, _))| (name.clone(), shape.clone()))
        .collect();
    assert_eq!(shapes, run.adapter_tensors, "{name}: adapter tensors");
    assert_eq!(ours, tensors(&adapter_dir.join(ADAPTER_WEIGHTS)), "{name}");

    let merged = model.merge_lora();
    run.check(
        &format!("{name} merged"),
        logits(&merged, run.batch.input()),
        &run.merged_logits,
    );
    let (_, saved_merged, _) = pretrained::load_for_task(&dir, head(&config), &device()).unwrap();
    run.check(
        &format!("{name} model.safetensors"),
        logits(&saved_merged, run.batch.input()),
        &run.merged_logits,
    );
}

fn expected() -> Expected {
    bert_burn_tests::read_json("lora-runs/expected.json")
}

/// The runs whose task is one of `tasks`.
fn runs_of<'a>(expected: &'a Expected, tasks: &[&str]) -> Vec<(&'a String, &'a ExpectedRun)> {
    let runs: Vec<_> = expected
        .runs
        .iter()
        .filter(|(name, _)| tasks.contains(&name.split('/').nth(1).unwrap()))
        .collect();
    assert!(!runs.is_empty(), "no {tasks:?} run");
    runs
}

fn classifier(config: &BertConfig) -> SequenceClassificationHead {
    ClassifierHeadConfig::for_model(config, config.labels().len()).init(&device())
}

#[test]
fn sequence_classification_adapters_match_peft() {
    let expected = expected();
    let tasks = [
        "classification",
        "pair-classification",
        "regression",
        "multi-label",
    ];
    let runs = runs_of(&expected, &tasks);
    assert!(runs.len() >= 7 + 3, "every family's classification run");
    for (name, run) in runs {
        check_run(name, run, classifier, |model, input| {
            vec![("logits", model.forward(input), false)]
        });
    }
}

#[test]
fn token_classification_adapters_match_peft() {
    let expected = expected();
    for (name, run) in runs_of(&expected, &["token-classification"]) {
        let head = |config: &BertConfig| {
            ClassifierHeadConfig::for_model(config, config.labels().len()).init_token(&device())
        };
        check_run(name, run, head, |model, input| {
            let logits = model.forward(input);
            let [batch, seq_len, tags] = logits.dims();
            vec![("logits", logits.reshape([batch * seq_len, tags]), true)]
        });
    }
}

#[test]
fn question_answering_adapters_match_peft() {
    let expected = expected();
    for (name, run) in runs_of(&expected, &["question-answering"]) {
        let head =
            |config: &BertConfig| QuestionAnsweringHeadConfig::for_model(config).init(&device());
        check_run(name, run, head, |model, input| {
            let spans = model.forward(input);
            vec![
                ("start_logits", spans.start, false),
                ("end_logits", spans.end, false),
            ]
        });
    }
}

/// The tiny BERT base with a new two-class head.
fn tiny_classifier(device: &Device) -> (BertConfig, BertForTask<SequenceClassificationHead>) {
    let base = fixture("tiny-bert-base");
    let config = pretrained::load_config(&base).unwrap();
    let head = ClassifierHeadConfig::for_model(&config, 2).init(device);
    let (config, model, _) = pretrained::load_for_task(&base, head, device).unwrap();
    (config, model)
}

fn tiny_input(device: &Device) -> BertInput {
    let ids = vec![2, 10, 11, 12, 3, 2, 13, 14, 3, 0];
    let mask = vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
    BertInput::from_rows(ids, vec![0; 10], mask, [2, 5], device)
}

#[test]
fn fresh_adapters_leave_the_outputs_unchanged() {
    let (config, model) = tiny_classifier(&device());
    let before = values(model.forward(tiny_input(&device())));
    let lora = LoraConfig::new(4, config.model_type);
    let adapted = model.with_lora(&lora, config.model_type).unwrap();
    assert_eq!(values(adapted.forward(tiny_input(&device()))), before);
}

/// Every parameter's bytes, by module path.
fn parameters<M: ModuleSnapshot>(model: &M) -> BTreeMap<String, Vec<u8>> {
    model
        .collect(None, None, true)
        .into_iter()
        .map(|tensor| (tensor.name.clone(), tensor.to_bytes().unwrap().to_vec()))
        .collect()
}

#[test]
fn a_step_moves_the_adapters_and_the_head_only() {
    let training = device().autodiff();
    let (config, model) = tiny_classifier(&training);
    let model = model
        .with_lora(&LoraConfig::new(4, config.model_type), config.model_type)
        .unwrap();
    let before = parameters(&model);
    let logits = model.forward(tiny_input(&training));
    let loss = (logits.clone() * logits).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut optimizer = AdamWConfig::new().init();
    let stepped = optimizer.step(1e-2, model, grads);
    let after = parameters(&stepped);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let mut moved = Vec::new();
    for (name, values) in &before {
        if after[name] != *values {
            moved.push(name.as_str());
        }
    }
    // The adapters (A by weight decay alone: B starts at zero, so A's first
    // gradient is zero) and the head move; nothing else.
    let expected: Vec<&str> = before
        .keys()
        .map(String::as_str)
        .filter(|name| name.contains(".lora.") || name.starts_with("head."))
        .collect();
    assert_eq!(moved, expected);
    assert!(expected.iter().any(|name| name.contains("lora_b")));
}

#[test]
fn default_targets_adapt_each_familys_attention() {
    let families = std::iter::once("bert").chain(bert_burn_tests::FAMILY_FIXTURES);
    for family_name in families {
        let dir = match family_name {
            "bert" => fixture("tiny-bert-base"),
            other => fixture(&format!("families/{other}")),
        };
        let (config, mut encoder) = pretrained::load_encoder(&dir, &device()).unwrap();
        let lora = LoraConfig::new(2, config.model_type);
        let per_layer = lora.targets.len();
        encoder = encoder.with_lora(&lora, config.model_type).unwrap();
        let adapted = encoder
            .linears_mut()
            .into_iter()
            .filter(|(_, layer)| layer.lora.is_some())
            .count();
        assert_eq!(
            adapted,
            per_layer * config.num_hidden_layers,
            "{family_name}"
        );
    }
}

#[test]
fn bad_lora_settings_are_refused() {
    let (config, model) = tiny_classifier(&device());
    let family = config.model_type;
    let zero = LoraConfig::new(0, family);
    assert_eq!(
        model.clone().with_lora(&zero, family).unwrap_err(),
        LoraError::ZeroRank
    );
    let unknown = LoraConfig {
        targets: vec!["query".into(), "q_lin".into()],
        ..LoraConfig::new(4, family)
    };
    let error = model.with_lora(&unknown, family).unwrap_err().to_string();
    assert!(error.contains("\"q_lin\""), "{error}");
    assert!(error.contains("query, key, value, dense"), "{error}");
}

/// `train` on 16 rotten_tomatoes sentences into `run`, from `model`, with `extra` flags.
fn quick_run(model: &Path, run: &Path, extra: &[&str]) -> anyhow::Result<RunReport> {
    let (model, run) = (model.display().to_string(), run.display().to_string());
    let mut flags = vec![
        "--task",
        "classification",
        "--dataset",
        "rotten_tomatoes",
        "--model",
        &model,
        "--output-dir",
        &run,
        "--max-train-samples",
        "16",
        "--max-eval-samples",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--max-len",
        "32",
    ];
    flags.extend(extra);
    train(
        train_args(&flags),
        Start::New,
        device(),
        &AssetCache::from_env(),
    )
}

#[test]
fn an_adapter_given_as_model_continues_or_merges() {
    let scratch = scratch_dir();
    let base = fixture("tiny-bert-base");
    let first = RunDir::new(scratch.path().join("first"));
    quick_run(&base, first.root(), &["--lora-rank", "4"]).unwrap();
    let adapter = first.adapter_dir();
    let settings = AdapterConfig::read(&adapter).unwrap();
    assert_eq!(
        settings.base_model_name_or_path.as_deref(),
        Some(std::path::absolute(&base).unwrap().to_str().unwrap())
    );

    // Continued: the same adapter trains on, on the same base.
    let continued = RunDir::new(scratch.path().join("continued"));
    quick_run(&adapter, continued.root(), &["--lora-rank", "4"]).unwrap();
    let again = AdapterConfig::read(&continued.adapter_dir()).unwrap();
    assert_eq!(again, settings);
    let error = quick_run(&adapter, &scratch.path().join("x"), &["--lora-rank", "8"]).unwrap_err();
    assert!(format!("{error:#}").contains("has rank 4"), "{error:#}");

    // Without --lora-rank: merged, then fine-tuned in full (no adapter).
    let full = RunDir::new(scratch.path().join("full"));
    quick_run(&adapter, full.root(), &[]).unwrap();
    assert!(full.file("model.safetensors").is_file());
    assert!(!full.adapter_dir().exists());
}

#[test]
fn bad_lora_options_end_in_clear_errors() {
    let scratch = scratch_dir();
    let base = fixture("tiny-bert-base");
    let cases: [(&[&str], &str); 4] = [
        (&["--lora-rank", "0"], "rank must be at least 1"),
        (
            &["--lora-targets", "query"],
            "--lora-targets needs --lora-rank",
        ),
        (
            &["--lora-rank", "4", "--lora-dropout", "1"],
            "dropout must be in [0, 1)",
        ),
        (
            &["--lora-rank", "4", "--lora-targets", "query,q_lin"],
            "\"q_lin\" matches no linear layer",
        ),
    ];
    for (i, (flags, message)) in cases.into_iter().enumerate() {
        let error = quick_run(&base, &scratch.path().join(i.to_string()), flags).unwrap_err();
        assert!(
            format!("{error:#}").contains(message),
            "{flags:?}: {error:#}"
        );
    }
}
