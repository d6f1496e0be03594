//! [`Task`]: everything one task is, end to end (its data, head, loss,
//! metrics, report and predictions), behind one trait that the generic
//! [driver](crate::driver) runs. A task defined in another crate plugs in
//! the same way as the built-in ones.

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::dataset::{LabelVocab, Splits};
use bert_data::length_groups::Encoded;
use bert_model::{BertConfig, BertForTask, TaskHead};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::{InferenceStep, SupervisedTraining, TrainOutput, TrainStep};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::run::RunDir;
use crate::training::step::{StepOutput, Timed, timed, train_step};
use crate::training::{BestMetric, DataArgs, LossScale, Selection};

/// Which split a set of examples is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Learnt from.
    Train,
    /// Picks the best epoch.
    Validation,
    /// Reported on.
    Test,
}

/// The report of a task on a split: `report.json`, a readable table, and
/// any other files (plots).
pub trait TaskReport: Serialize + DeserializeOwned + Clone + std::fmt::Debug {
    /// The readable summary printed and written as `report.txt`.
    fn table(&self) -> String;

    /// Writes files beside `report.json` into the run (default: none).
    fn write_files(&self, _run: &RunDir) -> Result<()> {
        Ok(())
    }
}

/// One task: how its examples are read and encoded, its head, loss,
/// metrics, report and predictions. Task state learnt from the training
/// data (labels) is restored from a saved run's config.
pub trait Task: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// One labelled example as read.
    type Example: Clone + Send + Sync + 'static;
    /// One model input with its targets.
    type Item: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static;
    /// A batch of items on a device.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
    /// Makes batches of items.
    type Batcher: Batcher<Self::Item, Self::Batch> + Clone + 'static;
    /// The head on the encoder.
    type Head: TaskHead;
    /// What a forward pass returns: loss, predictions and targets, read by the metrics.
    type Output: StepOutput;
    /// The report on a split.
    type Report: TaskReport;

    /// The task's name, as `--task` spells it.
    fn name(&self) -> &'static str;

    /// Reads the train, validation and test examples.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Self::Example>>;

    /// Learns what the task needs from the data before training (labels).
    fn learn(&mut self, _examples: &Splits<Self::Example>) -> Result<()> {
        Ok(())
    }

    /// Restores what [`learn`](Task::learn) learnt from a saved run's config.
    fn restore(&mut self, _config: &BertConfig) -> Result<()> {
        Ok(())
    }

    /// Checks the task can train the model `config` describes (its family).
    fn supports(&self, _config: &BertConfig) -> Result<()> {
        Ok(())
    }

    /// The config saved with the trained model (labels, `problem_type`).
    fn config(&self, config: BertConfig) -> BertConfig {
        config
    }

    /// Encodes the examples of `split` into items.
    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        examples: &[Self::Example],
        split: Split,
    ) -> Result<Vec<Self::Item>>;

    /// Checks that the encoded data can train the task and describes it for
    /// the log (labels, truncation, ...).
    fn describe(
        &self,
        examples: &Splits<Self::Example>,
        items: &Splits<Self::Item>,
        tokenizer: &BertTokenizer,
    ) -> Result<String>;

    /// The batcher for `split`.
    fn batcher(&self, tokenizer: &BertTokenizer, split: Split) -> Result<Self::Batcher>;

    /// A new head for `config`.
    fn head(&self, config: &BertConfig, device: &Device) -> Self::Head;

    /// Forward pass with the loss.
    fn forward(&self, model: &BertForTask<Self::Head>, batch: Self::Batch) -> Self::Output;

    /// The validation metric that picks the kept epoch (`best`, or the
    /// task's default), with early stopping after `patience` epochs.
    fn selection(&self, best: Option<BestMetric>, patience: Option<usize>) -> Result<Selection>;

    /// Registers the task's training and validation metrics (loss,
    /// learning rate and throughput are always there).
    fn metrics(
        &self,
        training: SupervisedTraining<TaskModel<Self>>,
    ) -> SupervisedTraining<TaskModel<Self>>;

    /// Scores `model` on encoded `items` of `examples`, the data named `split`.
    fn evaluate(
        &self,
        model: &BertForTask<Self::Head>,
        examples: &[Self::Example],
        items: &[Self::Item],
        batches: &Batches<Self::Batcher>,
        split: &str,
    ) -> Result<Self::Report>;

    /// The result fields of every input line (one object each).
    fn predict(
        &self,
        model: &BertForTask<Self::Head>,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>>;
}

/// The labels a run's `config.json` names (`id2label`), for
/// [`Task::restore`]; an error if it names none.
pub fn labels_from_config(config: &BertConfig) -> Result<LabelVocab> {
    let labels = LabelVocab::from_names(config.labels());
    if labels.is_empty() {
        bail!("config.json has no id2label");
    }
    Ok(labels)
}

/// A task's model as burn-train's `Learner` trains it: the encoder with the
/// task's head, and the task, which computes the loss.
#[derive(Module, Debug)]
pub struct TaskModel<T: Task> {
    /// Encoder and head.
    pub model: BertForTask<T::Head>,
    /// The task (not a parameter).
    #[module(skip)]
    pub task: T,
    /// The loss scale of f16 training (a factor of 1 otherwise).
    #[module(skip)]
    pub loss_scale: LossScale,
}

impl<T: Task> TrainStep for TaskModel<T> {
    type Input = T::Batch;
    type Output = Timed<T::Output>;

    fn step(&self, batch: T::Batch) -> TrainOutput<Self::Output> {
        train_step(self, self.loss_scale.factor(), || {
            self.task.forward(&self.model, batch)
        })
    }
}

impl<T: Task> InferenceStep for TaskModel<T> {
    type Input = T::Batch;
    type Output = Timed<T::Output>;

    fn step(&self, batch: T::Batch) -> Self::Output {
        timed(|| self.task.forward(&self.model, batch))
    }
}
