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
use bert_model::heads::SequenceClassificationHead;
use burn::tensor::activation::sigmoid;
use burn::train::metric::{ClassReduction, FBetaScoreMetric, HammingScore};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::predict::{Fields, Inputs, by_label};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
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

impl TaskData for MultiLabel {
    type Example = MultiLabelExample;
    type Item = MultiLabelItem;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<MultiLabelExample>> {
        let threshold = self.options.threshold;
        if !(threshold > 0.0 && threshold < 1.0) {
            bail!("--threshold is a probability in (0, 1), got {threshold}");
        }
        let columns = data.columns("text", "labels");
        data.load_with(
            cache,
            Some(&columns.label),
            |path| read_multi_label_file(path, &columns, &self.options.label_separator),
            |name| {
                Err(DatasetError::UnknownDataset {
                    name: name.to_string(),
                    known: "none for multi-label: give a .jsonl or Parquet file with a \"labels\" list, or a CSV/TSV file with --label-separator".into(),
                })
            },
        )
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Self::Example]) -> Items<Self> {
        Ok(tokenize_multi_label(tokenizer, examples, &self.labels)?)
    }

    fn learn(&mut self, examples: &Splits<MultiLabelExample>) -> Result<()> {
        let declared = examples.label_names.as_deref();
        self.labels =
            LabelVocab::declared_or(declared, || LabelVocab::from_label_lists(&examples.train));
        if self.labels.is_empty() {
            bail!("the training data has no labels: every example's label list is empty");
        }
        Ok(())
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let train = &data.examples.train;
        let assigned: usize = train.iter().map(|e| e.labels.len()).sum();
        Ok(format!(
            "labels [{}], {:.2} labels per train example",
            self.labels.names().join(", "),
            assigned as f64 / train.len().max(1) as f64
        ))
    }
}

impl Task for MultiLabel {
    type Head = SequenceClassificationHead;
    type Output = MultiLabelOutput;
    type Report = MultiLabelReport;

    /// Binary cross-entropy with a sigmoid per label.
    fn forward(&self, model: &Model<Self>, batch: MultiLabelBatch) -> MultiLabelOutput {
        MultiLabelOutput::new(model.forward(batch.input), batch.targets)
    }

    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        Some(&mut self.labels)
    }

    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::MicroF1, self.f1(ClassReduction::Micro))
            .with(BestMetric::MacroF1, self.f1(ClassReduction::Macro))
            .valid(Some(BestMetric::Accuracy), self.label_accuracy())
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<MultiLabelReport> {
        let probabilities = test.batches.rows(test.items, |batch: MultiLabelBatch| {
            sigmoid(model.forward(batch.input))
        })?;
        let predicted: Vec<Vec<bool>> = probabilities
            .iter()
            .map(|probs| self.over_threshold(probs))
            .collect();
        let truth: Vec<Vec<bool>> = test
            .items
            .iter()
            .map(|item| item.targets.iter().map(|&t| t > 0.5).collect())
            .collect();
        Ok(MultiLabelReport::new(
            test.split,
            self.labels.names(),
            self.options.threshold,
            &truth,
            &predicted,
        ))
    }

    /// `labels` (those over the threshold) and `probs` per label of each text.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let probabilities = inputs.text_rows(|input| sigmoid(model.forward(input)))?;
        let names = self.labels.names();
        let fields = |probs: &Vec<f32>| {
            let over = names.iter().zip(self.over_threshold(probs));
            let chosen: Vec<&str> = over.filter(|(_, o)| *o).map(|(n, _)| n.as_str()).collect();
            Fields::from_iter([
                ("labels".to_string(), json!(chosen)),
                ("probs".to_string(), by_label(names, probs)),
            ])
        };
        Ok(probabilities.iter().map(fields).collect())
    }
}
