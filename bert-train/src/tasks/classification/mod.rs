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
use bert_model::heads::{ClassifierHeadConfig, SequenceClassificationHead};
use bert_model::{BertConfig, BertForSequenceClassification, ProblemType};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burn::train::ClassificationOutput;
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, ClassReduction, FBetaScoreMetric};
use serde_json::{Map, Value, json};

use crate::inference::{Batches, argmax};
use crate::predict::{InputLine, by_label, text_rows};
use crate::task::{Split, Task, TaskData, TaskModel, TextBatch};
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

crate::step_output!(ClassificationOutput, samples: targets);

fn macro_f1() -> FBetaScoreMetric {
    FBetaScoreMetric::multiclass(1.0, 1, ClassReduction::Macro)
}

impl TextBatch for ClassificationItem {
    type Batch = ClassificationBatch;
}

impl TaskData for Classification {
    type Example = Example;
    type Item = ClassificationItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Example>> {
        let splits = data.load_examples(cache, "label")?;
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

    fn learn(&mut self, examples: &Splits<Example>) -> Result<()> {
        self.labels = LabelVocab::from_examples(&examples.train);
        if self.labels.len() < 2 {
            bail!(
                "the training data has {} label(s); classification needs at least 2",
                self.labels.len()
            );
        }
        let mut counts = vec![0; self.labels.len()];
        for example in &examples.train {
            counts[self.labels.id(example)?] += 1;
        }
        self.class_weights = self.weights.resolve(self.labels.names(), &counts)?;
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
        items: &Splits<ClassificationItem>,
        tokenizer: &BertTokenizer,
    ) -> Result<String> {
        let truncated = items
            .train
            .iter()
            .filter(|item| item.encoding.len() == tokenizer.max_len())
            .count();
        Ok(format!(
            "labels [{}], {truncated} train examples truncated to {} tokens",
            self.labels.names().join(", "),
            tokenizer.max_len()
        ))
    }
}

impl Task for Classification {
    type Head = SequenceClassificationHead;
    type Output = ClassificationOutput;
    type Report = ClassificationReport;

    const PROBLEM_TYPE: Option<ProblemType> = Some(ProblemType::SingleLabelClassification);

    fn name(&self) -> &'static str {
        if self.pairs {
            "pair-classification"
        } else {
            "classification"
        }
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn head(&self, config: &BertConfig, device: &Device) -> SequenceClassificationHead {
        ClassifierHeadConfig::for_model(config, self.labels.len()).init(device)
    }

    fn forward(
        &self,
        model: &BertForSequenceClassification,
        batch: ClassificationBatch,
    ) -> ClassificationOutput {
        let logits = model.forward(batch.input);
        let loss = CrossEntropyLossConfig::new()
            .with_weights(self.class_weights.clone())
            .init(&logits.device())
            .forward(logits.clone(), batch.labels.clone());
        ClassificationOutput::new(loss, logits, batch.labels)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Accuracy)
            .both(
                Some(BestMetric::Accuracy),
                AccuracyMetric::new(),
                Direction::Highest,
            )
            .both(Some(BestMetric::MacroF1), macro_f1(), Direction::Highest)
    }

    fn evaluate(
        &self,
        model: &BertForSequenceClassification,
        _: &[Example],
        items: &[ClassificationItem],
        batches: &Batches,
        _: &str,
    ) -> Result<ClassificationReport> {
        let probabilities = predict_probabilities(model, items, batches)?;
        let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p)).collect();
        let truth: Vec<usize> = items.iter().map(|item| item.label).collect();
        Ok(ClassificationReport::new(
            self.labels.names(),
            &truth,
            &predicted,
        ))
    }

    fn predict(
        &self,
        model: &BertForSequenceClassification,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let probabilities = text_rows(tokenizer, inputs, batch_size, device, |input| {
            softmax(model.forward(input), 1)
        })?;
        let names = self.labels.names();
        Ok(probabilities
            .iter()
            .map(|probs| {
                Map::from_iter([
                    ("label".to_string(), json!(names[argmax(probs)])),
                    ("probs".to_string(), by_label(names, probs)),
                ])
            })
            .collect())
    }
}
