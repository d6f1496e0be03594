//! [`Task`] (with its [`TaskData`]): everything one task is, end to end
//! (its data, head, loss, metrics, report and predictions), behind the
//! traits that the generic [driver](crate::driver) runs. A task defined in
//! another crate plugs in the same way as the built-in ones.

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{LabelVocab, Splits};
use bert_data::length_groups::Encoded;
use bert_data::{BertTokenizer, TextBatcher};
use bert_model::{BertConfig, BertForTask, ProblemType, TaskHead};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::run::RunDir;
use crate::training::step::{StepOutput, Timed, timed, train_step};
use crate::training::{DataArgs, LossScale, TaskMetrics};

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

/// Makes batches of a task's items; the batch type is the batcher's.
pub trait TaskBatcher<I>: Batcher<I, Self::Batch> + Clone + 'static {
    /// A batch of items on a device.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
}

/// An item that [`TextBatcher`] batches, and the batch it makes of it.
pub trait TextBatch {
    /// The batch of such items.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
}

impl<I: TextBatch + 'static> TaskBatcher<I> for TextBatcher
where
    TextBatcher: Batcher<I, I::Batch>,
{
    type Batch = I::Batch;
}

/// The batch type of task `T`.
pub type TaskBatch<T> = <<T as TaskData>::Batcher as TaskBatcher<<T as TaskData>::Item>>::Batch;

/// A task's data: how its examples are read, learnt from, encoded into
/// items and batched.
pub trait TaskData: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// One labelled example as read.
    type Example: Clone + Send + Sync + 'static;
    /// One model input with its targets.
    type Item: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static;
    /// Makes batches of items.
    type Batcher: TaskBatcher<Self::Item>;

    /// Reads the train, validation and test examples.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Self::Example>>;

    /// Learns what the task needs from the data before training (labels).
    fn learn(&mut self, _examples: &Splits<Self::Example>) -> Result<()> {
        Ok(())
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
}

/// One task on top of its [data](TaskData): its head, loss, metrics,
/// report and predictions. What it learnt from the training data (labels)
/// is saved in the run's config and restored from it.
pub trait Task: TaskData {
    /// The head on the encoder.
    type Head: TaskHead;
    /// What a forward pass returns: loss, predictions and targets, read by the metrics.
    type Output: StepOutput;
    /// The report on a split.
    type Report: TaskReport;

    /// The task's name, as `--task` spells it.
    fn name(&self) -> &'static str;

    /// The labels (or tags) a label-backed task predicts, learnt by
    /// [`learn`](TaskData::learn) and saved as `id2label`; `None` otherwise.
    fn labels(&self) -> Option<&LabelVocab> {
        None
    }

    /// Sets the labels read back from a saved run (label-backed tasks).
    fn set_labels(&mut self, _labels: LabelVocab) {}

    /// transformers' `problem_type` for the saved config, if the task has one.
    fn problem_type(&self) -> Option<ProblemType> {
        None
    }

    /// Restores what [`learn`](TaskData::learn) learnt from a saved run's
    /// config: by default the labels of a label-backed task.
    fn restore(&mut self, config: &BertConfig) -> Result<()> {
        if self.labels().is_some() {
            self.set_labels(labels_from_config(config)?);
        }
        Ok(())
    }

    /// Checks the task can train the model `config` describes (its family).
    fn supports(&self, _config: &BertConfig) -> Result<()> {
        Ok(())
    }

    /// The config saved with the trained model: by default with the labels
    /// and `problem_type`, if the task has them.
    fn config(&self, config: BertConfig) -> BertConfig {
        let config = match self.labels() {
            Some(labels) => config.with_labels(labels.names()),
            None => config,
        };
        match self.problem_type() {
            Some(problem_type) => config.with_problem_type(problem_type),
            None => config,
        }
    }

    /// A new head for `config`.
    fn head(&self, config: &BertConfig, device: &Device) -> Self::Head;

    /// Forward pass with the loss.
    fn forward(&self, model: &BertForTask<Self::Head>, batch: TaskBatch<Self>) -> Self::Output;

    /// The training and validation metrics (loss, learning rate and
    /// throughput are always there), with the one that picks the kept
    /// epoch by default and those `--best-metric` may choose.
    fn metrics(&self) -> TaskMetrics<TaskModel<Self>>;

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
    type Input = TaskBatch<T>;
    type Output = Timed<T::Output>;

    fn step(&self, batch: TaskBatch<T>) -> TrainOutput<Self::Output> {
        train_step(self, self.loss_scale.factor(), || {
            self.task.forward(&self.model, batch)
        })
    }
}

impl<T: Task> InferenceStep for TaskModel<T> {
    type Input = TaskBatch<T>;
    type Output = Timed<T::Output>;

    fn step(&self, batch: TaskBatch<T>) -> Self::Output {
        timed(|| self.task.forward(&self.model, batch))
    }
}
