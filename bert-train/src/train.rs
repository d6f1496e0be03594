//! `train`: fine-tune a pretrained BERT for a task, then evaluate it on the
//! test split. Text classification lives here; the other tasks in their modules.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationItem, tokenize_examples};
use bert_data::dataset::LabelVocab;
use bert_model::heads::ClassifierHeadConfig;
use bert_model::pretrained::{self, HeadStatus};
use burn::module::Module;
use burn::tensor::Device;
use burn::train::metric::store::Direction;
use burn::train::metric::{AccuracyMetric, ClassReduction, FBetaScoreMetric, LossMetric};
use serde::{Deserialize, Serialize};

use crate::classifier::TextClassifier;
use crate::data::DataArgs;
use crate::evaluate::evaluate_and_report;
use crate::fit::{RunSetup, Selection};
use crate::inference::Batches;
use crate::pretrain_task::{PretrainingReport, train_pretraining};
use crate::qa_task::{QaReport, train_answerer};
use crate::regression_task::{RegressionReport, train_regressor};
use crate::report::Report;
use crate::run::RunDir;
use crate::task::Task;
use crate::token_task::{TokenReport, train_tagger};

/// The validation metric that picks the best epoch (and early stopping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BestMetric {
    /// Validation accuracy, higher is better.
    Accuracy,
    /// Validation macro-F1, higher is better.
    MacroF1,
    /// Validation loss, lower is better.
    Loss,
    /// Validation Pearson correlation (regression), higher is better.
    Pearson,
}

impl BestMetric {
    /// The metric a task selects by when `--best-metric` is not given.
    pub fn default_for(task: Task) -> Self {
        match task {
            Task::Regression => Self::Pearson,
            Task::Mlm => Self::Loss,
            _ => Self::Accuracy,
        }
    }
}

fn default_doc_stride() -> usize {
    128
}

fn default_max_answer_len() -> usize {
    30
}

/// Every setting of a fine-tuning run; saved as `training_args.json`.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct TrainArgs {
    /// What to learn; each task has its head, loss, metrics and default dataset.
    #[arg(long, value_enum, default_value = "classification")]
    #[serde(default)]
    pub task: Task,
    /// `minilm` or a Hugging Face BERT directory (a previous run works too).
    #[arg(long, default_value = "minilm")]
    pub model: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub data: DataArgs,
    /// With `--task mlm`: train next-sentence prediction too, on sentence pairs
    /// (half true successors, half random sentences of other documents).
    #[arg(long)]
    #[serde(default)]
    pub nsp: bool,
    /// Passes over the training data.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Micro-batches per optimiser step (effective batch = batch size x this).
    #[arg(long, default_value_t = 1)]
    pub grad_accumulation: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Share of optimiser steps with linear warm-up.
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    /// AdamW weight decay (not applied to biases and LayerNorm).
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f32,
    /// AdamW epsilon.
    #[arg(long, default_value_t = 1e-8)]
    pub adam_epsilon: f32,
    /// Clip the global gradient norm to this (0 disables clipping).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Longest tokenized example; longer ones are truncated (question
    /// answering cuts passages into windows instead).
    #[arg(long, default_value_t = 64)]
    pub max_len: usize,
    /// Question answering: tokens shared by consecutive passage windows
    /// (at most half a window is used).
    #[arg(long, default_value_t = 128)]
    #[serde(default = "default_doc_stride")]
    pub doc_stride: usize,
    /// Question answering: longest predicted answer, in tokens.
    #[arg(long, default_value_t = 30)]
    #[serde(default = "default_max_answer_len")]
    pub max_answer_len: usize,
    /// Seed of weight initialisation, dropout and shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Validation metric that picks the model kept at the end (default:
    /// accuracy; Pearson for regression; token accuracy for token
    /// classification; loss for mlm).
    #[arg(long, value_enum)]
    pub best_metric: Option<BestMetric>,
    /// Stop after this many epochs without improvement of the best metric.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Use only the first N training examples (quick runs).
    #[arg(long)]
    pub max_train_samples: Option<usize>,
    /// Use only the first N validation and test examples (quick runs).
    #[arg(long)]
    pub max_eval_samples: Option<usize>,
    /// Run directory; default `runs/<dataset>`.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

impl TrainArgs {
    /// The run directory.
    pub fn run_dir(&self) -> RunDir {
        RunDir::new(self.output_dir.clone().unwrap_or_else(|| {
            let name = self
                .data
                .dataset_name(self.task)
                .ok()
                .and_then(|name| {
                    PathBuf::from(name)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                })
                .unwrap_or_else(|| "run".into());
            PathBuf::from("runs").join(name)
        }))
    }

    /// The metric that picks the kept epoch.
    pub fn best_metric(&self) -> BestMetric {
        self.best_metric
            .unwrap_or_else(|| BestMetric::default_for(self.task))
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let best = self.best_metric();
        let supported = match self.task {
            Task::Classification | Task::PairClassification => best != BestMetric::Pearson,
            Task::Regression => matches!(best, BestMetric::Loss | BestMetric::Pearson),
            Task::TokenClassification | Task::Mlm | Task::QuestionAnswering => {
                matches!(best, BestMetric::Accuracy | BestMetric::Loss)
            }
        };
        if !supported {
            bail!(
                "--best-metric {best:?} does not apply to --task {}",
                self.task.name()
            );
        }
        if self.epochs == 0 || self.batch_size == 0 || self.grad_accumulation == 0 {
            bail!("--epochs, --batch-size and --grad-accumulation must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            bail!("--lr must be in (0, 1], got {}", self.lr);
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            bail!(
                "--warmup-ratio must be in [0, 1), got {}",
                self.warmup_ratio
            );
        }
        Ok(())
    }
}

/// The test report of a finished run, by task.
#[derive(Clone, Debug, PartialEq)]
pub enum RunReport {
    /// Text or pair classification.
    Classification(Report),
    /// Regression.
    Regression(RegressionReport),
    /// Token classification.
    TokenClassification(TokenReport),
    /// Masked-LM (and next-sentence) pre-training.
    Pretraining(PretrainingReport),
    /// Extractive question answering.
    QuestionAnswering(QaReport),
}

/// Fine-tunes for `args.task`, saves the run and returns (and writes) the test report.
pub fn train(
    args: TrainArgs,
    resume: bool,
    device: Device,
    cache: &AssetCache,
) -> Result<RunReport> {
    let setup = RunSetup::new(args, resume, device, cache)?;
    Ok(match setup.args.task {
        Task::Classification | Task::PairClassification => {
            RunReport::Classification(train_classifier(&setup, cache)?)
        }
        Task::Regression => RunReport::Regression(train_regressor(&setup, cache)?),
        Task::TokenClassification => RunReport::TokenClassification(train_tagger(&setup, cache)?),
        Task::Mlm => RunReport::Pretraining(train_pretraining(&setup, cache)?),
        Task::QuestionAnswering => RunReport::QuestionAnswering(train_answerer(&setup)?),
    })
}

/// Tokenized splits and their labels.
struct PreparedData {
    labels: LabelVocab,
    train: Vec<ClassificationItem>,
    validation: Vec<ClassificationItem>,
    test: Vec<ClassificationItem>,
}

fn prepare_data(setup: &RunSetup, cache: &AssetCache) -> Result<PreparedData> {
    let args = &setup.args;
    let tokenizer = &setup.tokenizer;
    let splits = args
        .data
        .load(cache, args.task)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    let labels = LabelVocab::from_examples(&splits.train);
    if labels.len() < 2 {
        bail!(
            "the training data has {} label(s); classification needs at least 2",
            labels.len()
        );
    }
    let started = Instant::now();
    let tokenize = |examples| tokenize_examples(tokenizer, examples, &labels);
    let data = PreparedData {
        train: tokenize(&splits.train)?,
        validation: tokenize(&splits.validation)?,
        test: tokenize(&splits.test)?,
        labels: labels.clone(),
    };
    let truncated = data
        .train
        .iter()
        .filter(|i| i.encoding.len() == tokenizer.max_len())
        .count();
    println!(
        "data: {} train / {} validation / {} test examples, labels [{}], tokenized in {:.1}s ({} train examples truncated to {} tokens)",
        data.train.len(),
        data.validation.len(),
        data.test.len(),
        labels.names().join(", "),
        started.elapsed().as_secs_f64(),
        truncated,
        tokenizer.max_len(),
    );
    Ok(data)
}

/// Fine-tunes a text (or pair) classifier, saves it and writes the test report.
fn train_classifier(setup: &RunSetup, cache: &AssetCache) -> Result<Report> {
    let args = &setup.args;
    let data = prepare_data(setup, cache)?;
    let device = setup.training_device();
    let head = ClassifierHeadConfig::for_model(&setup.config, data.labels.len()).init(&device);
    let (config, model, status) = pretrained::load_for_task(&setup.model_dir, head, &device)?;
    if let HeadStatus::Initialised { .. } = status {
        println!(
            "model: {} with a new {}-class head",
            setup.model_dir.display(),
            data.labels.len()
        );
    }
    let f1 = || FBetaScoreMetric::multiclass(1.0, 1, ClassReduction::Macro);
    let patience = args.patience;
    let selection = match args.best_metric() {
        BestMetric::MacroF1 => Selection::by(&f1(), Direction::Highest, patience),
        BestMetric::Loss => Selection::by(&LossMetric::new(), Direction::Lowest, patience),
        _ => Selection::by(&AccuracyMetric::new(), Direction::Highest, patience),
    };
    let trained = setup.fit(
        TextClassifier { model },
        (data.train, data.validation),
        (setup.batcher(), setup.batcher()),
        selection,
        |training| {
            training
                .metric_train_numeric(AccuracyMetric::new())
                .metric_valid_numeric(AccuracyMetric::new())
                .metric_train_numeric(f1())
                .metric_valid_numeric(f1())
        },
    )?;
    let model = trained.model.valid();
    let labelled = config.with_labels(data.labels.names());
    setup.save(&model, &labelled)?;
    evaluate_and_report(
        &model,
        &data.test,
        &data.labels,
        &Batches::new(&setup.batcher(), args.batch_size, &setup.device),
        &setup.run,
        "test",
    )
}
