//! The task list: every built-in [`Task`], its `--task` name, default
//! dataset and flags, and the commands (`train`, `eval`, `predict`) that
//! run the chosen one through the generic [driver](crate::driver). Adding a
//! task is a folder here plus one line in each match of this file's list.

pub mod classification;
pub mod few_shot;
pub mod mlm;
pub mod multi_label;
pub mod question_answering;
pub mod regression;
pub mod reranking;
pub mod sentence_embedding;
pub mod token_classification;

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use burn::tensor::Device;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tracing::info;

use crate::driver::{Evaluation, evaluate_task, predict_task, train_task};
use crate::predict::{InputLine, read_inputs, write_results};
use crate::run::RunDir;
use crate::task::Task;
use crate::training::class_weights::ClassWeightArgs;
use crate::training::{RunSetup, TrainerState, TrainingArgs, claim_run_dir};
use classification::Classification;
use few_shot::{FewShot, FewShotOptions};
use mlm::{Mlm, MlmOptions};
use multi_label::{MultiLabel, MultiLabelOptions};
use question_answering::{QaOptions, QuestionAnswering};
use regression::Regression;
use reranking::{RerankOptions, Reranking};
use sentence_embedding::{EmbeddingOptions, SentenceEmbedding};
use token_classification::TokenClassification;

/// What a run learns (`--task`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    /// One label per text: linear head on the pooled `[CLS]`, cross-entropy.
    #[default]
    Classification,
    /// One label per `[CLS] A [SEP] B [SEP]` pair (needs `--text-pair-column`).
    PairClassification,
    /// Zero or more labels per text: a sigmoid per label, binary cross-entropy.
    MultiLabel,
    /// One number per text or pair: one-output head, mean squared error.
    Regression,
    /// One BIO tag per word, predicted on its first word piece.
    TokenClassification,
    /// Extractive question answering on SQuAD v1.1 files: start and end
    /// vectors over passage tokens, long passages in overlapping windows.
    QuestionAnswering,
    /// Masked-LM pretraining (or domain adaptation) on raw text, plus
    /// next-sentence prediction with `--nsp`.
    Mlm,
    /// Sentence embeddings (a bi-encoder, as sentence-transformers trains
    /// one): each text embedded alone, a loss over the batch's embeddings
    /// (`--loss`); the run is a sentence-transformers model.
    SentenceEmbedding,
    /// Reranking (a cross-encoder, as sentence-transformers' `CrossEncoder`):
    /// one logit per (query, passage) pair, binary cross-entropy, each
    /// query's candidates reranked for evaluation.
    Reranking,
    /// Classification from a few examples per label (SetFit's recipe): the
    /// encoder tuned on pairs of examples (same label or not), then a
    /// logistic-regression head on its embeddings.
    FewShot,
}

impl TaskKind {
    /// The built-in dataset used when no data is given, if the task has one.
    pub fn default_dataset(self) -> Option<&'static str> {
        match self {
            Self::Classification | Self::FewShot => Some("rotten_tomatoes"),
            Self::Regression | Self::SentenceEmbedding => Some("sts_b"),
            Self::TokenClassification => Some("twitter_ner"),
            Self::Mlm => Some("imdb"),
            Self::PairClassification
            | Self::MultiLabel
            | Self::QuestionAnswering
            | Self::Reranking => None,
        }
    }
}

/// The flags that belong to one task or another.
#[derive(Clone, Debug, Default, Serialize, Deserialize, clap::Args)]
pub struct TaskOptions {
    #[command(flatten)]
    #[serde(flatten)]
    pub class_weights: ClassWeightArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub multi_label: MultiLabelOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub question_answering: QaOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub mlm: MlmOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub sentence_embedding: EmbeddingOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub reranking: RerankOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub few_shot: FewShotOptions,
}

/// Every setting of a fine-tuning run; saved as `training_args.json`.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct TrainArgs {
    /// What to learn; each task has its head, loss, metrics and default dataset.
    #[arg(long, value_enum, default_value = "classification")]
    #[serde(default)]
    pub task: TaskKind,
    #[command(flatten)]
    #[serde(flatten)]
    pub options: TaskOptions,
    #[command(flatten)]
    #[serde(flatten)]
    pub training: TrainingArgs,
}

/// Something to do with the task a run names, whatever its type.
trait TaskCommand {
    /// What the command gives back.
    type Output;

    /// Runs the command with `task`.
    fn run<T: Task>(self, task: T) -> Result<Self::Output>;
}

impl TrainArgs {
    /// Runs `command` with the task these arguments name: the task list.
    fn with_task<C: TaskCommand>(&self, command: C) -> Result<C::Output> {
        let options = self.options.clone();
        match self.task {
            TaskKind::Classification => {
                command.run(Classification::new(false, options.class_weights))
            }
            TaskKind::PairClassification => {
                command.run(Classification::new(true, options.class_weights))
            }
            TaskKind::MultiLabel => command.run(MultiLabel::new(options.multi_label)),
            TaskKind::Regression => command.run(Regression::default()),
            TaskKind::TokenClassification => {
                command.run(TokenClassification::new(options.class_weights))
            }
            TaskKind::QuestionAnswering => command.run(QuestionAnswering {
                options: options.question_answering,
            }),
            TaskKind::Mlm => command.run(Mlm {
                options: options.mlm,
                seed: self.training.seed,
            }),
            TaskKind::Reranking => {
                command.run(Reranking::new(options.reranking, self.training.seed))
            }
            TaskKind::SentenceEmbedding => command.run(SentenceEmbedding::new(
                options.sentence_embedding,
                &self.training,
            )?),
            TaskKind::FewShot => command.run(FewShot::new(
                options.few_shot,
                &options.sentence_embedding,
                &self.training,
            )?),
        }
    }
}

/// A task's report, as `report.json` has it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The task reported on.
    pub task: TaskKind,
    /// The report's fields.
    pub report: Value,
}

impl RunReport {
    /// The report as the task's own type (e.g. `ClassificationReport`).
    pub fn get<R: DeserializeOwned>(&self) -> Result<R> {
        serde_json::from_value(self.report.clone())
            .with_context(|| format!("not a report of the {:?} task", self.task))
    }
}

struct Train<'a> {
    setup: &'a RunSetup,
    cache: &'a AssetCache,
}

impl TaskCommand for Train<'_> {
    type Output = Value;

    fn run<T: Task>(self, task: T) -> Result<Value> {
        Ok(serde_json::to_value(train_task(
            self.setup, task, self.cache,
        )?)?)
    }
}

/// How [`train`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run.
    New,
    /// Continues the run in `--output-dir` from its last checkpoint, with
    /// the arguments it was started with; `flags` are the flags given
    /// besides `--output-dir` and `--resume` (clap's ids, `epochs`): one
    /// whose value differs from the run's is refused, since it would not be
    /// used.
    Resume {
        /// The other flags given.
        flags: Vec<String>,
    },
}

/// Fine-tunes for `args.task`, saves the run and returns (and writes) the
/// test report. A resumed run that is finished is left as it is, its
/// report returned.
pub fn train(
    mut args: TrainArgs,
    start: Start,
    device: Device,
    cache: &AssetCache,
) -> Result<RunReport> {
    let data = &mut args.training.data;
    if data.dataset.is_none() && data.train_file.is_none() {
        data.dataset = args.task.default_dataset().map(str::to_string);
    }
    let labelled = [
        TaskKind::Classification,
        TaskKind::PairClassification,
        TaskKind::FewShot,
    ];
    if data.samples_per_class.is_some() && !labelled.contains(&args.task) {
        bail!(
            "--samples-per-class draws examples per label: it applies to --task classification, pair-classification and few-shot"
        );
    }
    let resume = start != Start::New;
    if let Start::Resume { flags } = start {
        let run = args.training.run_dir();
        let saved: TrainArgs = run
            .read_json("training_args.json")
            .context("--resume needs a run started before")?;
        refuse_resume_flags(&flags, &args, &saved, &run)?;
        if run.is_finished() {
            return finished_run(&run, saved.task);
        }
        let output_dir = args.training.output_dir.take();
        args = saved;
        args.training.output_dir = output_dir;
    }
    claim_run_dir(&mut args.training, resume)?;
    let setup = RunSetup::new(args.training.clone(), &args, resume, device, cache)?;
    let report = args.with_task(Train {
        setup: &setup,
        cache,
    })?;
    Ok(RunReport {
        task: args.task,
        report,
    })
}

/// `--resume` continues a run with its saved arguments: a flag given with
/// another value than the run's is an error (and `--epochs` is explained:
/// the run's schedule is fixed), since it would not be used.
fn refuse_resume_flags(
    flags: &[String],
    args: &TrainArgs,
    saved: &TrainArgs,
    run: &RunDir,
) -> Result<()> {
    let (given, kept) = (serde_json::to_value(args)?, serde_json::to_value(saved)?);
    let changed: Vec<&String> = flags
        .iter()
        .filter(|flag| given.get(flag.as_str()) != kept.get(flag.as_str()))
        .collect();
    let root = run.root().display();
    let (epochs, requested) = (saved.training.epochs, args.training.epochs);
    if changed.iter().any(|flag| *flag == "epochs") {
        bail!(
            "{root} was started for {epochs} epochs and --resume continues it as it was started: \
             its learning rate decays to 0 at the end of epoch {epochs}, so {requested} epochs \
             would be another run; to train further, start one from it: train --model {root} --epochs N"
        );
    }
    if !changed.is_empty() {
        let names: Vec<String> = changed
            .iter()
            .map(|flag| format!("--{}", flag.replace('_', "-")))
            .collect();
        bail!(
            "--resume continues {root} with the arguments it was started with (training_args.json); \
             {} would not be used: give the run's values or leave them out, or start a new run",
            names.join(", ")
        );
    }
    Ok(())
}

/// A finished run asked to resume: says which epoch it kept and returns
/// its report, writing nothing.
fn finished_run(run: &RunDir, task: TaskKind) -> Result<RunReport> {
    let root = run.root().display();
    let kept = match TrainerState::read(run.root())? {
        Some(
            state @ TrainerState {
                best_epoch: Some(best),
                best_metric: Some(value),
                ..
            },
        ) => format!(
            "{} epochs trained, epoch {best} kept ({} {value:.4})",
            state.epochs_done(),
            state
                .metric_for_best_model
                .as_deref()
                .unwrap_or("best metric")
        ),
        _ => "its model is saved".to_string(),
    };
    info!("{root} is finished: {kept}; nothing to resume (eval --run {root} reports on it again)");
    Ok(RunReport {
        task,
        report: run.read_json("report.json")?,
    })
}

struct Evaluate<'a> {
    run: &'a RunDir,
    evaluation: Evaluation<'a>,
    device: &'a Device,
    cache: &'a AssetCache,
}

impl TaskCommand for Evaluate<'_> {
    type Output = Value;

    fn run<T: Task>(self, task: T) -> Result<Value> {
        let report = evaluate_task(self.run, task, &self.evaluation, self.device, self.cache)?;
        Ok(serde_json::to_value(report)?)
    }
}

/// Evaluates the run's model on the test split of its own data (cut as
/// training cut it, so the reports agree), or of `dataset` (a built-in name
/// or a file, read with the run's column settings), in batches of
/// `batch_size` (default: the run's, so that the report equals `train`'s).
pub fn evaluate_run(
    run: &RunDir,
    dataset: Option<&str>,
    batch_size: Option<usize>,
    device: &Device,
    cache: &AssetCache,
) -> Result<RunReport> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    let data = match dataset {
        Some(dataset) => args.training.data.with_dataset(dataset),
        None => args.training.data.clone(),
    };
    let evaluation = Evaluation {
        data: &data,
        max_eval: dataset
            .is_none()
            .then_some(args.training.max_eval_samples)
            .flatten(),
        split: data.describe(),
        max_len: args.training.max_len,
        batch_size: batch_size.unwrap_or(args.training.batch_size),
        best_metric: args.training.best_metric,
    };
    let report = args.with_task(Evaluate {
        run,
        evaluation,
        device,
        cache,
    })?;
    Ok(RunReport {
        task: args.task,
        report,
    })
}

struct Predict<'a> {
    run: &'a RunDir,
    inputs: &'a [InputLine],
    max_len: usize,
    batch_size: usize,
    device: &'a Device,
}

impl TaskCommand for Predict<'_> {
    type Output = Vec<Map<String, Value>>;

    fn run<T: Task>(self, task: T) -> Result<Self::Output> {
        predict_task(
            self.run,
            task,
            self.inputs,
            self.max_len,
            self.batch_size,
            self.device,
        )
    }
}

/// Applies the run in `run` to every line of `input` (a text, or a JSON
/// object) as its task does and writes one JSON line per input to
/// `output`: the input's fields plus the task's (`label` and `probs`;
/// `labels` and `probs`; `score`; `words` and `tags`; `answer`). Returns
/// the number of lines written.
pub fn predict_run(
    run: &RunDir,
    input: impl BufRead,
    output: impl Write,
    batch_size: usize,
    device: &Device,
) -> Result<usize> {
    predict_inputs(run, read_inputs(input)?, output, batch_size, device)
}

/// [`predict_run`] on inputs read already (e.g. the rows of a table,
/// [`read_input_file`](crate::predict::read_input_file)).
pub fn predict_inputs(
    run: &RunDir,
    inputs: Vec<InputLine>,
    output: impl Write,
    batch_size: usize,
    device: &Device,
) -> Result<usize> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    let results = args.with_task(Predict {
        run,
        inputs: &inputs,
        max_len: args.training.max_len,
        batch_size,
        device,
    })?;
    write_results(inputs, results, output)
}
