//! A task defined outside `bert-train`, with its own head and report, trains,
//! evaluates and predicts through the public driver: the `Task` trait is the
//! whole contract. The task: rotten_tomatoes sentiment from the `[CLS]`
//! hidden state alone (no pooler), a head `bert-model` does not have.

use anyhow::Result;
use bert_burn_tests::{assert_png, device, minilm_dir, scratch_dir};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationBatch, ClassificationItem, tokenize_examples};
use bert_data::dataset::{Example, LabelVocab, Splits};
use bert_model::{BertConfig, BertForTask, BertModelOutput, TaskHead};
use bert_train::driver::{Evaluation, evaluate_task, predict_task, train_task};
use bert_train::inference::{Batches, argmax};
use bert_train::predict::{InputLine, text_rows};
use bert_train::run::RunDir;
use bert_train::task::{Split, Task, TaskData, TaskModel, TaskReport};
use bert_train::training::{BestMetric, DataArgs, RunSetup, TaskMetrics, TrainingArgs};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use burn::train::ClassificationOutput;
use burn::train::metric::AccuracyMetric;
use burn::train::metric::store::Direction;
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

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

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        data.load_examples(cache, "label")
    }

    fn learn(&mut self, examples: &Splits<Example>) -> Result<()> {
        self.labels = LabelVocab::from_examples(&examples.train);
        Ok(())
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        examples: &[Example],
        _: Split,
    ) -> Result<Vec<ClassificationItem>> {
        Ok(tokenize_examples(tokenizer, examples, &self.labels)?)
    }

    fn describe(
        &self,
        _: &Splits<Example>,
        _: &Splits<ClassificationItem>,
        _: &BertTokenizer,
    ) -> Result<String> {
        Ok(format!("labels [{}]", self.labels.names().join(", ")))
    }
}

/// Only what differs from the defaults: the labels are saved in and
/// restored from the run's config through `labels_mut`.
impl Task for FirstTokenSentiment {
    type Head = FirstTokenHead;
    type Output = ClassificationOutput;
    type Report = AccuracyReport;

    fn name(&self) -> &'static str {
        "first-token-sentiment"
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn head(&self, config: &BertConfig, device: &Device) -> FirstTokenHead {
        FirstTokenHead {
            first_token_classifier: LinearConfig::new(config.hidden_size, self.labels.len())
                .init(device),
        }
    }

    fn forward(
        &self,
        model: &BertForTask<FirstTokenHead>,
        batch: ClassificationBatch,
    ) -> ClassificationOutput {
        let logits = model.forward(batch.input);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.labels.clone());
        ClassificationOutput::new(loss, logits, batch.labels)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Accuracy).both(
            Some(BestMetric::Accuracy),
            AccuracyMetric::new(),
            Direction::Highest,
        )
    }

    fn evaluate(
        &self,
        model: &BertForTask<FirstTokenHead>,
        _: &[Example],
        items: &[ClassificationItem],
        batches: &Batches,
        _: &str,
    ) -> Result<AccuracyReport> {
        let rows = batches.rows(items, |batch: ClassificationBatch| {
            model.forward(batch.input)
        })?;
        let correct = items
            .iter()
            .zip(&rows)
            .filter(|(item, row)| argmax(row) == item.label)
            .count();
        Ok(AccuracyReport {
            accuracy: correct as f64 / items.len() as f64,
            examples: items.len(),
        })
    }

    fn predict(
        &self,
        model: &BertForTask<FirstTokenHead>,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let rows = text_rows(tokenizer, inputs, batch_size, device, |input| {
            model.forward(input)
        })?;
        Ok(rows
            .iter()
            .map(|row| {
                Map::from_iter([("label".to_string(), json!(self.labels.names()[argmax(row)]))])
            })
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
        seed: args.seed,
    };
    let reloaded = evaluate_task(&run_dir, task.clone(), &evaluation, &device(), &cache).unwrap();
    assert_eq!(reloaded, report);
    let inputs = [InputLine::parse("a warm , funny and moving film .", 1).unwrap()];
    let predicted = predict_task(&run_dir, task, &inputs, 32, 8, &device()).unwrap();
    let label = predicted[0]["label"].as_str().unwrap();
    assert!(["negative", "positive"].contains(&label), "{label}");
}
