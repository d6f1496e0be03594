//! `train`: fine-tune a pretrained BERT for text classification, then
//! evaluate it on the test split.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_data::classification::{ClassificationBatcher, ClassificationItem, tokenize_examples};
use bert_data::dataset::LabelVocab;
use bert_model::BertConfig;
use bert_model::heads::SequenceClassificationHeadConfig;
use bert_model::pretrained::{self, HeadStatus};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{
    AccuracyMetric, ClassReduction, FBetaScoreMetric, LearningRateMetric, LossMetric, Metric,
};
use burn::train::renderer::default_renderer;
use burn::train::{
    Learner, MetricEarlyStoppingStrategy, StoppingCondition, SupervisedTraining, TrainingStrategy,
};
use serde::{Deserialize, Serialize};

use crate::classifier::TextClassifier;
use crate::data::DataArgs;
use crate::evaluate::evaluate_and_report;
use crate::metrics::ThroughputMetric;
use crate::optim::{WarmupLinearDecay, adamw};
use crate::renderer::PlainRenderer;
use crate::report::Report;
use crate::run::RunDir;
use crate::strategy::{BestBy, FineTuningStrategy};

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
}

/// Every setting of a fine-tuning run; saved as `training_args.json`.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct TrainArgs {
    /// `minilm` or a Hugging Face BERT directory (a previous run works too).
    #[arg(long, default_value = "minilm")]
    pub model: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub data: DataArgs,
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
    /// Longest tokenized example; longer ones are truncated.
    #[arg(long, default_value_t = 64)]
    pub max_len: usize,
    /// Seed of weight initialisation, dropout and shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Validation metric that picks the model kept at the end.
    #[arg(long, value_enum, default_value = "accuracy")]
    pub best_metric: BestMetric,
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
            let name = PathBuf::from(&self.data.dataset)
                .file_stem()
                .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
            PathBuf::from("runs").join(name)
        }))
    }

    fn validate(&self) -> Result<()> {
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

/// Tokenized splits and what they were made with.
struct PreparedData {
    labels: LabelVocab,
    tokenizer: BertTokenizer,
    train: Vec<ClassificationItem>,
    validation: Vec<ClassificationItem>,
    test: Vec<ClassificationItem>,
}

fn prepare_data(
    args: &TrainArgs,
    model_dir: &std::path::Path,
    config: &BertConfig,
    cache: &AssetCache,
) -> Result<PreparedData> {
    let tokenizer = BertTokenizer::from_dir(model_dir)?
        .with_max_len(args.max_len.min(config.max_position_embeddings))?;
    let splits = args
        .data
        .load(cache)?
        .truncate(args.max_train_samples, args.max_eval_samples);
    let labels = LabelVocab::from_examples(&splits.train);
    if labels.len() < 2 {
        bail!(
            "the training data has {} label(s); classification needs at least 2",
            labels.len()
        );
    }
    let started = Instant::now();
    let tokenize = |examples| tokenize_examples(&tokenizer, examples, &labels);
    let data = PreparedData {
        train: tokenize(&splits.train)?,
        validation: tokenize(&splits.validation)?,
        test: tokenize(&splits.test)?,
        labels: labels.clone(),
        tokenizer: tokenizer.clone(),
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

/// Fine-tunes, saves the run and returns (and writes) the test report.
pub fn train(
    mut args: TrainArgs,
    resume: bool,
    device: Device,
    cache: &AssetCache,
) -> Result<Report> {
    let run = args.run_dir();
    if resume {
        let saved: TrainArgs = run
            .read_json("training_args.json")
            .context("--resume needs a run started before")?;
        args = TrainArgs {
            output_dir: args.output_dir.clone(),
            ..saved
        };
    }
    args.validate()?;
    let resume_epoch = if resume {
        Some(run.last_checkpoint().with_context(|| {
            format!("{} has no checkpoint to resume from", run.root().display())
        })?)
    } else {
        None
    };
    device.seed(args.seed);
    let model_dir = cache.resolve_model(&args.model)?;
    let config = pretrained::load_config(&model_dir)?;
    let data = prepare_data(&args, &model_dir, &config, cache)?;
    run.write_json("training_args.json", &args)?;

    let training_device = device.clone().autodiff();
    let head = SequenceClassificationHeadConfig::for_model(&config, data.labels.len())
        .init(&training_device);
    let (config, model, status) = pretrained::load_for_task(&model_dir, head, &training_device)?;
    if let HeadStatus::Initialised { .. } = status {
        println!(
            "model: {} with a new {}-class head",
            model_dir.display(),
            data.labels.len()
        );
    }

    let batcher = ClassificationBatcher::for_tokenizer(&data.tokenizer);
    let steps_per_epoch = data
        .train
        .len()
        .div_ceil(args.batch_size)
        .div_ceil(args.grad_accumulation);
    let total_steps = steps_per_epoch * args.epochs;
    let num_train = data.train.len();
    let train_loader = DataLoaderBuilder::new(batcher.clone())
        .batch_size(args.batch_size)
        .shuffle(args.seed)
        .num_workers(1)
        .build(InMemDataset::new(data.train.clone()));
    let valid_loader = DataLoaderBuilder::new(batcher.clone())
        .batch_size(args.batch_size)
        .num_workers(1)
        .build(InMemDataset::new(data.validation.clone()));

    let f1 = || FBetaScoreMetric::multiclass(1.0, 1, ClassReduction::Macro);
    let (best_name, direction) = match args.best_metric {
        BestMetric::Accuracy => (AccuracyMetric::new().name(), Direction::Highest),
        BestMetric::MacroF1 => (f1().name(), Direction::Highest),
        BestMetric::Loss => (LossMetric::new().name(), Direction::Lowest),
    };
    let strategy = FineTuningStrategy {
        device: training_device.clone(),
        accumulation: args.grad_accumulation,
        max_grad_norm: (args.max_grad_norm > 0.0).then_some(args.max_grad_norm),
        best_by: BestBy {
            metric: best_name.to_string(),
            higher_is_better: matches!(direction, Direction::Highest),
        },
    };
    let mut training = SupervisedTraining::new(run.root(), train_loader, valid_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(AccuracyMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .metric_train_numeric(f1())
        .metric_valid_numeric(f1())
        .metric_train_numeric(LearningRateMetric::new())
        .metric_train_numeric(ThroughputMetric::new())
        .metric_valid_numeric(ThroughputMetric::new())
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(1))
        .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy)))
        .num_epochs(args.epochs);
    training = if std::io::stdout().is_terminal() {
        let interrupter = training.interrupter();
        training.renderer(default_renderer(interrupter, resume_epoch))
    } else {
        training.renderer(Box::new(PlainRenderer::new()))
    };
    if let Some(patience) = args.patience {
        training = training.early_stopping(match args.best_metric {
            BestMetric::Accuracy => stop_after(&AccuracyMetric::new(), direction, patience),
            BestMetric::MacroF1 => stop_after(&f1(), direction, patience),
            BestMetric::Loss => stop_after(&LossMetric::new(), direction, patience),
        });
    }
    if let Some(epoch) = resume_epoch {
        println!("resuming {} after epoch {epoch}", run.root().display());
        training = training.checkpoint(epoch);
    }

    let estimate = estimate_epoch_seconds(&model, &data, &batcher, &args, &training_device);
    println!(
        "training {} on {}: {} epochs x {} steps (batch {} x {}), {} examples/epoch, ~{:.0} s per epoch estimated",
        args.model,
        args.data.describe(),
        args.epochs,
        steps_per_epoch,
        args.batch_size,
        args.grad_accumulation,
        num_train,
        estimate,
    );

    let learner = Learner::new(
        TextClassifier { model },
        adamw(args.weight_decay, args.adam_epsilon),
        WarmupLinearDecay::new(args.lr, total_steps, args.warmup_ratio),
    );
    let started = Instant::now();
    let result = training.launch(learner);
    if let Some(error) = result.error {
        bail!("training failed: {error}");
    }
    println!("trained in {:.0} s", started.elapsed().as_secs_f64());

    let model = result.model.model.valid();
    run.save_classifier(&model, &config, &data.labels, &data.tokenizer)?;
    println!("saved {}", run.root().display());
    evaluate_and_report(
        &model,
        &data.test,
        &data.labels,
        &batcher,
        args.batch_size,
        &device,
        &run,
        "test",
    )
}

/// Stops when validation `metric` has not improved for `patience` epochs.
fn stop_after<Me: Metric>(
    metric: &Me,
    direction: Direction,
    patience: usize,
) -> MetricEarlyStoppingStrategy {
    MetricEarlyStoppingStrategy::new(
        metric,
        Aggregate::Mean,
        direction,
        Split::Valid,
        StoppingCondition::NoImprovementSince { n_epochs: patience },
    )
}

/// Times one training step on a typical batch to estimate an epoch's duration.
fn estimate_epoch_seconds(
    model: &bert_model::BertForSequenceClassification,
    data: &PreparedData,
    batcher: &ClassificationBatcher,
    args: &TrainArgs,
    device: &Device,
) -> f64 {
    use burn::data::dataloader::batcher::Batcher;
    use burn::train::TrainStep;
    let sample: Vec<ClassificationItem> =
        data.train.iter().take(args.batch_size).cloned().collect();
    let classifier = TextClassifier {
        model: model.clone(),
    };
    // The first step pays one-off costs (allocation, kernel compilation): time the second.
    let mut seconds = 0.0;
    for _ in 0..2 {
        let started = Instant::now();
        let output = TrainStep::step(&classifier, batcher.batch(sample.clone(), device));
        let _ = output.item.classification.loss.into_data();
        seconds = started.elapsed().as_secs_f64();
    }
    let batches = data.train.len().div_ceil(args.batch_size) as f64;
    let valid_batches = data.validation.len().div_ceil(args.batch_size) as f64;
    seconds * batches + seconds / 3.0 * valid_batches
}
