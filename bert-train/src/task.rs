//! [`Task`] (with its [`TaskData`]): everything one task is, end to end
//! (its data, head, loss, metrics, report and predictions), behind the
//! traits that the generic driver (`driver.rs`) runs. A task defined in
//! another crate plugs in the same way as the built-in ones.

use std::path::Path;

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{LabelVocab, Split, Splits};
use bert_data::{BatchedItem, BertTokenizer, TextBatcher};
use bert_model::{BertConfig, BertForTask, TaskHead};
use burn::module::Module;
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::inference::Batches;
use crate::predict::{Fields, Inputs};
use crate::run::RunDir;
use crate::training::step::{StepOutput, Timed, timed, train_step};
use crate::training::{DataArgs, LossScale, TaskMetrics, TrainingArgs};

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

/// The batch type of task `T`.
pub type TaskBatch<T> = <<T as TaskData>::Item as BatchedItem>::Batch;

/// The batcher type of task `T`.
pub type TaskBatcher<T> = <<T as TaskData>::Item as BatchedItem>::Batcher;

/// A task's examples encoded into items, or the first error (which names
/// the example's file and line).
pub type Items<T> = Result<Vec<<T as TaskData>::Item>>;

/// The model of task `T`: the encoder with the task's head.
pub type Model<T> = BertForTask<<T as Task>::Head>;

/// A task's data after encoding, as [`TaskData::describe`] sees it.
pub struct Prepared<'a, T: TaskData> {
    /// The examples of each split, as read.
    pub examples: &'a Splits<T::Example>,
    /// Their items.
    pub items: &'a Splits<T::Item>,
    /// The truncation length, in tokens.
    pub max_len: usize,
}

/// What a report is computed on: examples, their items batched, and the
/// name of their data (`test`, or the dataset `eval` was given).
pub struct TestData<'a, T: TaskData> {
    /// The examples, as read.
    pub examples: &'a [T::Example],
    /// Their items.
    pub items: &'a [T::Item],
    /// How the items are batched.
    pub batches: Batches<'a, TaskBatcher<T>>,
    /// The model's tokenizer, for texts the task encodes itself.
    pub tokenizer: &'a BertTokenizer,
    /// The name of the data in the report.
    pub split: &'a str,
}

/// Texts batched for the encoder alone, with the tokenizer that encodes them.
pub struct TextBatches<'a> {
    /// How encoded texts are batched.
    pub batches: Batches<'a, TextBatcher>,
    /// The model's tokenizer.
    pub tokenizer: &'a BertTokenizer,
}

/// A task's data: how its examples are read, learnt from and encoded into
/// items (which know how they are batched).
pub trait TaskData: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// One labelled example as read.
    type Example: Clone + Send + Sync + 'static;
    /// One model input with its targets (which knows its batcher).
    type Item: BatchedItem;

    /// Reads the train, validation and test examples.
    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<Self::Example>>;

    /// Learns what the task needs from the data before training (labels).
    fn learn(&mut self, _examples: &Splits<Self::Example>) -> Result<()> {
        Ok(())
    }

    /// Encodes examples into items.
    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Self::Example]) -> Items<Self>;

    /// Encodes the examples of `split`: by default as [`encode`](Self::encode)
    /// does for every split; a task that trains on items made otherwise than
    /// it reports on (pairs drawn from labelled texts) overrides it.
    fn encode_split(
        &self,
        tokenizer: &BertTokenizer,
        _split: Split,
        examples: &[Self::Example],
    ) -> Items<Self> {
        self.encode(tokenizer, examples)
    }

    /// Checks that the encoded data can train the task and describes it for
    /// the log (labels, truncation, ...).
    fn describe(&self, data: &Prepared<Self>) -> Result<String>;

    /// The training batches, as indices into `items`, for a task that
    /// decides which items may share a batch (e.g. no text twice among
    /// in-batch negatives); `None`, the default, leaves it to
    /// `--group-by-length`.
    fn training_batches(
        &self,
        _data: &Prepared<Self>,
        _args: &TrainingArgs,
    ) -> Result<Option<Vec<Vec<usize>>>> {
        Ok(None)
    }
}

/// One task on top of its [data](TaskData): its head, loss, metrics,
/// report and predictions. The labels a label-backed task learnt are saved
/// in the run's `config.json` (`id2label`, with the `problem_type` of its
/// [loss](StepOutput::PROBLEM_TYPE)), where the head finds their number,
/// and restored from it.
pub trait Task: TaskData {
    /// The head on the encoder, built from the config
    /// ([`TaskHead::for_config`]).
    type Head: TaskHead;
    /// What a forward pass returns: loss, predictions and targets, read by the metrics.
    type Output: StepOutput;
    /// The report on a split.
    type Report: TaskReport;

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

    /// Forward pass with the loss.
    fn forward(&self, model: &Model<Self>, batch: TaskBatch<Self>) -> Self::Output;

    /// A training step: the output and the gradients of its loss. By
    /// default [`forward`](Task::forward)'s loss back-propagated; a task
    /// that gets its gradients otherwise (in mini-batches) overrides it.
    fn train_step(
        &self,
        model: &TaskModel<Self>,
        batch: TaskBatch<Self>,
    ) -> TrainOutput<Timed<Self::Output>> {
        train_step(model, model.loss_scale.factor(), || {
            self.forward(&model.model, batch)
        })
    }

    /// Fits what is fitted on the trained encoder rather than trained with
    /// it (a few-shot classifier's logistic regression on the embeddings
    /// of `train`), before the task's files are written (default: nothing).
    fn fit_after_training(
        &mut self,
        _model: &Model<Self>,
        _train: &[Self::Example],
        _batches: &TextBatches,
    ) -> Result<()> {
        Ok(())
    }

    /// Reads what the task takes from a model directory's own files: the
    /// pretrained model's before training, the run's before `eval` and
    /// `predict` (default: nothing).
    fn read_model_files(&mut self, _dir: &Path) -> Result<()> {
        Ok(())
    }

    /// Writes the task's own files into the run beside the saved model,
    /// whose `tokenizer` and `config` are given (default: none).
    fn write_model_files(
        &self,
        _run: &RunDir,
        _tokenizer: &BertTokenizer,
        _config: &BertConfig,
    ) -> Result<()> {
        Ok(())
    }

    /// The training and validation metrics (loss, learning rate and
    /// throughput are always there), with the one that picks the kept
    /// epoch by default and those `--best-metric` may choose.
    fn metrics(&self) -> TaskMetrics<TaskModel<Self>>;

    /// Scores `model` on `test`.
    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<Self::Report>;

    /// The result fields of every input line (one object each).
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>>;
}

/// The config saved with `task`'s trained model: its labels and
/// `problem_type`, if it has them.
pub fn saved_config<T: Task>(task: &mut T, config: BertConfig) -> BertConfig {
    let config = match task.labels_mut() {
        Some(labels) => config.with_labels(labels.names()),
        None => config,
    };
    match <T::Output as StepOutput>::PROBLEM_TYPE {
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
        self.task.train_step(self, batch)
    }
}

impl<T: Task> InferenceStep for TaskModel<T> {
    type Input = TaskBatch<T>;
    type Output = Timed<T::Output>;

    fn step(&self, batch: TaskBatch<T>) -> Self::Output {
        timed(|| self.task.forward(&self.model, batch))
    }
}
