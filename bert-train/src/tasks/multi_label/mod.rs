//! `--task multi-label`: zero or more labels per text (or pair), a sigmoid
//! per label on the pooled `[CLS]` with binary cross-entropy (transformers'
//! `problem_type: "multi_label_classification"`), micro- and macro-F1.

mod output;
mod report;

pub use output::MultiLabelOutput;
pub use report::MultiLabelReport;

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::{
    DatasetError, LabelVocab, MultiLabelExample, Splits, read_multi_label_file,
};
use bert_data::multi_label::{MultiLabelBatch, MultiLabelItem, tokenize_multi_label};
use bert_model::heads::{ClassifierHeadConfig, SequenceClassificationHead};
use bert_model::{BertConfig, BertForSequenceClassification, ProblemType};
use burn::tensor::Device;
use burn::tensor::activation::sigmoid;
use burn::train::metric::store::Direction;
use burn::train::metric::{ClassReduction, FBetaScoreMetric, HammingScore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::inference::Batches;
use crate::predict::{InputLine, by_label, text_rows};
use crate::task::{Split, Task, TaskData, TaskModel, TextBatch};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

fn default_threshold() -> f64 {
    0.5
}

fn default_label_separator() -> String {
    ",".into()
}

/// The flags of multi-label classification.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct MultiLabelOptions {
    /// Multi-label: a label is predicted when its probability is above this.
    #[arg(long, default_value_t = 0.5)]
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Multi-label: what separates the labels of a CSV/TSV cell (JSONL gives a list).
    #[arg(long, default_value = ",")]
    #[serde(default = "default_label_separator")]
    pub label_separator: String,
}

impl Default for MultiLabelOptions {
    fn default() -> Self {
        Self {
            threshold: default_threshold(),
            label_separator: default_label_separator(),
        }
    }
}

/// Multi-label text (or pair) classification.
#[derive(Clone, Debug)]
pub struct MultiLabel {
    /// Threshold and separator.
    pub options: MultiLabelOptions,
    /// The labels, learnt from the training split or read from a run.
    pub labels: LabelVocab,
}

impl MultiLabel {
    /// Multi-label classification with these options.
    pub fn new(options: MultiLabelOptions) -> Self {
        Self {
            options,
            labels: LabelVocab::from_names(Vec::new()),
        }
    }

    fn f1(&self, reduction: ClassReduction) -> FBetaScoreMetric {
        FBetaScoreMetric::multilabel(1.0, self.options.threshold, reduction)
    }

    fn label_accuracy(&self) -> HammingScore {
        HammingScore::new()
            .with_threshold(self.options.threshold as f32)
            .with_sigmoid(true)
    }

    /// The labels whose probability is above the threshold.
    fn over_threshold(&self, probs: &[f32]) -> Vec<bool> {
        probs
            .iter()
            .map(|&p| f64::from(p) > self.options.threshold)
            .collect()
    }
}

impl TextBatch for MultiLabelItem {
    type Batch = MultiLabelBatch;
}

impl TaskData for MultiLabel {
    type Example = MultiLabelExample;
    type Item = MultiLabelItem;

    fn read(&self, data: &DataArgs, _: &AssetCache) -> Result<Splits<MultiLabelExample>> {
        let threshold = self.options.threshold;
        if !(threshold > 0.0 && threshold < 1.0) {
            bail!("--threshold is a probability in (0, 1), got {threshold}");
        }
        let columns = data.columns("labels");
        data.load_with(
            |path| read_multi_label_file(path, &columns, &self.options.label_separator),
            |name| {
                Err(DatasetError::UnknownDataset {
                    name: name.to_string(),
                    known: "none for multi-label: give a .jsonl file with a \"labels\" list, or a CSV/TSV file with --label-separator".into(),
                })
            },
        )
    }

    fn learn(&mut self, examples: &Splits<MultiLabelExample>) -> Result<()> {
        self.labels = LabelVocab::from_label_lists(&examples.train);
        if self.labels.is_empty() {
            bail!("the training data has no labels: every example's label list is empty");
        }
        Ok(())
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        examples: &[MultiLabelExample],
        _: Split,
    ) -> Result<Vec<MultiLabelItem>> {
        Ok(tokenize_multi_label(tokenizer, examples, &self.labels)?)
    }

    fn describe(
        &self,
        examples: &Splits<MultiLabelExample>,
        _: &Splits<MultiLabelItem>,
        _: &BertTokenizer,
    ) -> Result<String> {
        let assigned: usize = examples.train.iter().map(|e| e.labels.len()).sum();
        Ok(format!(
            "labels [{}], {:.2} labels per train example",
            self.labels.names().join(", "),
            assigned as f64 / examples.train.len().max(1) as f64
        ))
    }
}

impl Task for MultiLabel {
    type Head = SequenceClassificationHead;
    type Output = MultiLabelOutput;
    type Report = MultiLabelReport;

    const PROBLEM_TYPE: Option<ProblemType> = Some(ProblemType::MultiLabelClassification);

    fn name(&self) -> &'static str {
        "multi-label"
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
        batch: MultiLabelBatch,
    ) -> MultiLabelOutput {
        MultiLabelOutput::new(model.forward(batch.input), batch.targets)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::MicroF1)
            .both(
                Some(BestMetric::MicroF1),
                self.f1(ClassReduction::Micro),
                Direction::Highest,
            )
            .both(
                Some(BestMetric::MacroF1),
                self.f1(ClassReduction::Macro),
                Direction::Highest,
            )
            .valid(
                Some(BestMetric::Accuracy),
                self.label_accuracy(),
                Direction::Highest,
            )
    }

    fn evaluate(
        &self,
        model: &BertForSequenceClassification,
        _: &[MultiLabelExample],
        items: &[MultiLabelItem],
        batches: &Batches,
        split: &str,
    ) -> Result<MultiLabelReport> {
        let probabilities = batches.rows(items, |batch: MultiLabelBatch| {
            sigmoid(model.forward(batch.input))
        })?;
        let predicted: Vec<Vec<bool>> = probabilities
            .iter()
            .map(|probs| self.over_threshold(probs))
            .collect();
        let truth: Vec<Vec<bool>> = items
            .iter()
            .map(|item| item.targets.iter().map(|&t| t > 0.5).collect())
            .collect();
        Ok(MultiLabelReport::new(
            split,
            self.labels.names(),
            self.options.threshold,
            &truth,
            &predicted,
        ))
    }

    /// Input: a text or `{"text", "text_pair"}`; output: `labels` (those
    /// over the threshold) and `probs` per label.
    fn predict(
        &self,
        model: &BertForSequenceClassification,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let probabilities = text_rows(tokenizer, inputs, batch_size, device, |input| {
            sigmoid(model.forward(input))
        })?;
        let names = self.labels.names();
        Ok(probabilities
            .iter()
            .map(|probs| {
                let chosen: Vec<&str> = names
                    .iter()
                    .zip(self.over_threshold(probs))
                    .filter(|(_, over)| *over)
                    .map(|(name, _)| name.as_str())
                    .collect();
                Map::from_iter([
                    ("labels".to_string(), json!(chosen)),
                    ("probs".to_string(), by_label(names, probs)),
                ])
            })
            .collect())
    }
}
