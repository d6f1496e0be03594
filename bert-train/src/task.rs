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

/// A model input with its targets, and how items of its kind are batched.
pub trait TaskItem: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// A batch of such items on a device.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
    /// What makes the batches.
    type Batcher: Batcher<Self, Self::Batch> + Clone + 'static;

    /// The batcher of `split` for `tokenizer`'s encodings; `seed` is the
    /// run's, for batches drawn at random (masked-LM masks).
    fn batcher(tokenizer: &BertTokenizer, split: Split, seed: u64) -> Result<Self::Batcher>;
}

/// An item that [`TextBatcher`] batches (padding its encodings), and the
/// batch it makes of such items.
pub trait TextBatch: Encoded + Clone + Send + Sync + std::fmt::Debug + 'static {
    /// The batch of such items.
    type Batch: Clone + Send + Sync + std::fmt::Debug + 'static;
}

impl<I: TextBatch> TaskItem for I
where
    TextBatcher: Batcher<I, I::Batch>,
{
    type Batch = I::Batch;
    type Batcher = TextBatcher;

    fn batcher(tokenizer: &BertTokenizer, _: Split, _: u64) -> Result<TextBatcher> {
        Ok(TextBatcher::for_tokenizer(tokenizer))
    }
}

/// The batch type of task `T`.
pub type TaskBatch<T> = <<T as TaskData>::Item as TaskItem>::Batch;

/// The batcher type of task `T`.
pub type TaskBatcher<T> = <<T as TaskData>::Item as TaskItem>::Batcher;

/// A task's data: how its examples are read, learnt from and encoded into
/// items (which know how they are batched).
pub trait TaskData: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// One labelled example as read.
    type Example: Clone + Send + Sync + 'static;
    /// One model input with its targets.
    type Item: TaskItem;

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
}

/// One task on top of its [data](TaskData): its head, loss, metrics,
/// report and predictions. The labels a label-backed task learnt are saved
/// in the run's `config.json` (`id2label`, with [`PROBLEM_TYPE`](Task::PROBLEM_TYPE))
/// and restored from it.
pub trait Task: TaskData {
    /// The head on the encoder.
    type Head: TaskHead;
    /// What a forward pass returns: loss, predictions and targets, read by the metrics.
    type Output: StepOutput;
    /// The report on a split.
    type Report: TaskReport;

    /// transformers' `problem_type` of the saved config, if the task has one.
    const PROBLEM_TYPE: Option<ProblemType> = None;

    /// The task's name, as `--task` spells it.
    fn name(&self) -> &'static str;

    /// The labels (or tags) of a label-backed task, learnt by
    /// [`learn`](TaskData::learn), saved as `id2label` and set again from a
    /// saved run; `None` for a task without labels.
    fn labels_mut(&mut self) -> Option<&mut LabelVocab> {
        None
    }

    /// Checks the task can train the model `config` describes (its family).
    fn supports(&self, _config: &BertConfig) -> Result<()> {
        Ok(())
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
        batches: &Batches<TaskBatcher<Self>>,
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

/// The config saved with `task`'s trained model: its labels and
/// `problem_type`, if it has them.
pub fn saved_config<T: Task>(task: &mut T, config: BertConfig) -> BertConfig {
    let config = match task.labels_mut() {
        Some(labels) => config.with_labels(labels.names()),
        None => config,
    };
    match T::PROBLEM_TYPE {
        Some(problem_type) => config.with_problem_type(problem_type),
        None => config,
    }
}

/// Restores what `task` learnt from a saved run's `config`: the labels
/// (`id2label`) of a label-backed task; an error if it names none.
pub fn restore<T: Task>(task: &mut T, config: &BertConfig) -> Result<()> {
    if let Some(labels) = task.labels_mut() {
        *labels = LabelVocab::from_names(config.labels());
        if labels.is_empty() {
            bail!("config.json has no id2label");
        }
    }
    Ok(())
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
