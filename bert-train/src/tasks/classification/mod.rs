//! `--task classification` and `pair-classification`: one label per text
//! (or `[CLS] A [SEP] B [SEP]` pair), a linear head on the pooled `[CLS]`,
//! cross-entropy (optionally class-weighted), accuracy and macro-F1.

mod plot;
mod report;

pub use report::ClassificationReport;

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationBatch, ClassificationItem, tokenize_examples};
use bert_data::dataset::{Example, LabelVocab, Splits};
use bert_model::BertForSequenceClassification;
use bert_model::heads::SequenceClassificationHead;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::softmax;
use burn::train::ClassificationOutput;
use burn::train::metric::{AccuracyMetric, ClassReduction, FBetaScoreMetric};
use serde_json::json;

use crate::inference::{Batches, argmax};
use crate::predict::{Fields, Inputs, by_label};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
use crate::training::class_weights::ClassWeightArgs;
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// Single-label text (or pair) classification.
#[derive(Clone, Debug)]
pub struct Classification {
    /// Whether every example is a pair (`pair-classification`).
    pub pairs: bool,
    /// `--class-weights`.
    pub weights: ClassWeightArgs,
    /// The labels, learnt from the training split or read from a run.
    pub labels: LabelVocab,
    /// Resolved class weights, in label order.
    pub class_weights: Option<Vec<f32>>,
}

impl Classification {
    /// Classification of single texts (`pairs: false`) or of pairs.
    pub fn new(pairs: bool, weights: ClassWeightArgs) -> Self {
        Self {
            pairs,
            weights,
            labels: LabelVocab::from_names(Vec::new()),
            class_weights: None,
        }
    }
}

/// Softmax probabilities `[num_labels]` of every item, in order.
pub fn predict_probabilities(
    model: &BertForSequenceClassification,
    items: &[ClassificationItem],
    batches: &Batches,
) -> Result<Vec<Vec<f32>>> {
    batches.rows(items, |batch: ClassificationBatch| {
        softmax(model.forward(batch.input), 1)
    })
}

crate::step_output!(ClassificationOutput, samples: targets, problem: SingleLabelClassification);

fn macro_f1() -> FBetaScoreMetric {
    FBetaScoreMetric::multiclass(1.0, 1, ClassReduction::Macro)
}

impl TaskData for Classification {
    type Example = Example;
    type Item = ClassificationItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        let splits = data.sample_per_class(data.load_examples(cache, "label")?)?;
        if self.pairs
            && let Some(single) = splits.train.iter().find(|e| e.text_pair.is_none())
        {
            bail!(
                "{}: pair classification needs a second text (--text-pair-column)",
                single.origin
            );
        }
        Ok(splits)
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Example]) -> Items<Self> {
        Ok(tokenize_examples(tokenizer, examples, &self.labels)?)
    }

    fn learn(&mut self, examples: &Splits<Example>) -> Result<()> {
        let declared = examples.label_names.as_deref();
        self.labels =
            LabelVocab::declared_or(declared, || LabelVocab::from_examples(&examples.train));
        let ids = examples.train.iter().map(|example| self.labels.id(example));
        self.class_weights = self.weights.learn(&self.labels, "label", ids)?;
        Ok(())
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let labels = self.labels.names().join(", ");
        let max_len = data.max_len;
        let train = data.items.train.iter();
        let truncated = train.filter(|item| item.encoding.len() == max_len).count();
        Ok(format!(
            "labels [{labels}], {truncated} train examples truncated to {max_len} tokens"
        ))
    }
}

impl Task for Classification {
    type Head = SequenceClassificationHead;
    type Output = ClassificationOutput;
    type Report = ClassificationReport;

    /// Cross-entropy, class-weighted with `--class-weights`.
    fn forward(&self, model: &Model<Self>, batch: ClassificationBatch) -> ClassificationOutput {
        let logits = model.forward(batch.input);
        let loss = CrossEntropyLossConfig::new()
            .with_weights(self.class_weights.clone())
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::Accuracy, AccuracyMetric::new())
            .with(BestMetric::MacroF1, macro_f1())
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<ClassificationReport> {
        let probabilities = predict_probabilities(model, test.items, &test.batches)?;
        let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
        let truth: Vec<usize> = test.items.iter().map(|item| item.label).collect();
        let names = self.labels.names();
        Ok(ClassificationReport::new(names, &truth, &predicted))
    }

    /// `label` and `probs` (per label) of each text.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let probabilities = inputs.text_rows(|input| softmax(model.forward(input), 1))?;
        let names = self.labels.names();
        let fields = |probs: &Vec<f32>| {
            Fields::from_iter([
                ("label".to_string(), json!(names[argmax(probs)])),
                ("probs".to_string(), by_label(names, probs)),
            ])
        };
        Ok(probabilities.iter().map(fields).collect())
    }
}
