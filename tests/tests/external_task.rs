//! A task defined outside `bert-train`, with its own head and report, trains,
//! evaluates and predicts through the public driver: the `Task` trait is the
//! whole contract. The task: rotten_tomatoes sentiment from the `[CLS]`
//! hidden state alone (no pooler), a head `bert-model` does not have.

use anyhow::Result;
use bert_burn_tests::{assert_png, device, minilm_dir, scratch_dir};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationBatch, ClassificationItem, tokenize_examples};
use bert_data::dataset::{BuiltinDataset, DatasetError, Example, LabelVocab, Splits};
use bert_model::{BertConfig, BertModelOutput, TaskHead};
use bert_train::driver::{Evaluation, evaluate_task, predict_task, train_task};
use bert_train::inference::argmax;
use bert_train::predict::{Fields, InputLine, Inputs};
use bert_train::run::RunDir;
use bert_train::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TaskReport, TestData};
use bert_train::training::{BestMetric, DataArgs, RunSetup, TaskMetrics, TrainingArgs};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use burn::train::ClassificationOutput;
use burn::train::metric::AccuracyMetric;
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A linear classifier on the `[CLS]` hidden state.
#[derive(Module, Debug)]
struct FirstTokenHead {
    first_token_classifier: Linear,
}

impl TaskHead for FirstTokenHead {
    type Output = Tensor<2>;

    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["first_token_classifier"];

    // transformers has no class for this head: it opens the encoder.
    const TASK: Option<&'static str> = None;

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        let classes = config.labels().len();
        Self {
            first_token_classifier: LinearConfig::new(config.hidden_size, classes).init(device),
        }
    }

    fn forward(&self, encoded: BertModelOutput) -> Tensor<2> {
        let [batch, _, hidden] = encoded.last_hidden_state.dims();
        let first = encoded
            .last_hidden_state
            .slice([0..batch, 0..1])
            .reshape([batch, hidden]);
        self.first_token_classifier.forward(first)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AccuracyReport {
    accuracy: f64,
    examples: usize,
}

impl TaskReport for AccuracyReport {
    fn table(&self) -> String {
        format!(
            "accuracy {:.4} on {} examples\n",
            self.accuracy, self.examples
        )
    }
}

/// Binary sentiment from the first token.
#[derive(Clone, Debug)]
struct FirstTokenSentiment {
    labels: LabelVocab,
}

impl TaskData for FirstTokenSentiment {
    type Example = Example;
    type Item = ClassificationItem;

    /// Built-in datasets only (the readers of files are bert-train's).
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        let builtin = |name: &str| BuiltinDataset::find(name)?.load(cache);
        let no_files = |path: &std::path::Path| {
            Err(DatasetError::File {
                path: path.display().to_string(),
                message: "this task reads built-in datasets only".into(),
            })
        };
        data.load_with(cache, None, no_files, builtin)
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Self::Example]) -> Items<Self> {
        Ok(tokenize_examples(tokenizer, examples, &self.labels)?)
    }

    fn learn(&mut self, examples: &Splits<Example>) -> Result<()> {
        self.labels = LabelVocab::from_examples(&examples.train);
        Ok(())
    }

    fn describe(&self, _: &Prepared<Self>) -> Result<String> {
        Ok(format!("labels [{}]", self.labels.names().join(", ")))
    }
}

/// Only what differs from the defaults: the labels are saved in and
/// restored from the run's config through `labels_mut`, and the head is
/// built from that config.
impl Task for FirstTokenSentiment {
    type Head = FirstTokenHead;
    type Output = ClassificationOutput;
    type Report = AccuracyReport;

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::Accuracy, AccuracyMetric::new())
    }

    fn forward(&self, model: &Model<Self>, batch: ClassificationBatch) -> ClassificationOutput {
        let logits = model.forward(batch.input);
        let cross_entropy = CrossEntropyLoss::new(None, &logits.device());
        let loss = cross_entropy.forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<AccuracyReport> {
        let rows = test
            .batches
            .rows(test.items, |batch: ClassificationBatch| {
                model.forward(batch.input)
            })?;
        let labels = test.items.iter().map(|item| item.label);
        let correct = labels
            .zip(&rows)
            .filter(|(label, row)| argmax(row) == *label);
        Ok(AccuracyReport {
            accuracy: correct.count() as f64 / test.items.len() as f64,
            examples: test.items.len(),
        })
    }

    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let rows = inputs.text_rows(|input| model.forward(input))?;
        let label = |row: &Vec<f32>| json!(self.labels.names()[argmax(row)]);
        Ok(rows
            .iter()
            .map(|row| Fields::from_iter([("label".to_string(), label(row))]))
            .collect())
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainingArgs,
}

#[test]
fn a_task_defined_outside_bert_train_trains_evaluates_and_predicts() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let run = scratch.path().join("run");
    let (model, run_arg) = (
        minilm_dir().display().to_string(),
        run.display().to_string(),
    );
    let args = Cli::try_parse_from([
        "test",
        "--model",
        &model,
        "--dataset",
        "rotten_tomatoes",
        "--output-dir",
        &run_arg,
        "--max-train-samples",
        "64",
        "--max-eval-samples",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--max-len",
        "32",
        "--lr",
        "3e-4",
        "--warmup-ratio",
        "0",
    ])
    .unwrap()
    .args;
    let task = FirstTokenSentiment {
        labels: LabelVocab::from_names(Vec::new()),
    };
    device().seed(5);
    let setup = RunSetup::new(args.clone(), &args, false, device(), &cache).unwrap();
    let report = train_task(&setup, task.clone(), &cache).unwrap();
    assert_png(&run.join("curves.png"));
    assert_eq!(report.examples, 32);
    // MiniLM's [CLS] state separates sentiment well above chance (0.5).
    assert!(report.accuracy > 0.6, "test accuracy {}", report.accuracy);

    // The saved run holds the new head under its own name, reloads to the
    // same report and predicts.
    let run_dir = RunDir::new(&run);
    let evaluation = Evaluation {
        data: &args.data,
        max_eval: Some(32),
        split: "test".into(),
        max_len: 32,
        batch_size: 16,
        best_metric: None,
    };
    let reloaded = evaluate_task(&run_dir, task.clone(), &evaluation, &device(), &cache).unwrap();
    assert_eq!(reloaded, report);
    let inputs = [InputLine::parse("a warm , funny and moving film .", 1).unwrap()];
    let predicted = predict_task(&run_dir, task, &inputs, 32, 8, &device()).unwrap();
    let label = predicted[0]["label"].as_str().unwrap();
    assert!(["negative", "positive"].contains(&label), "{label}");
}
