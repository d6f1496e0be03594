//! [`TrainingArgs`]: the settings every task's training shares.

use std::path::PathBuf;

use anyhow::{Result, bail};
use bert_model::Precision;
use burn::train::metric::store::Direction;
use serde::{Deserialize, Serialize};

use super::data::DataArgs;
use super::devices::DeviceSpec;
use super::lora::LoraArgs;
use super::train_log::ReportTo;
use crate::run::RunDir;

/// The validation metric that picks the best epoch (and early stopping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BestMetric {
    /// Validation accuracy, higher is better.
    Accuracy,
    /// Validation macro-F1, higher is better.
    MacroF1,
    /// Validation micro-F1 (multi-label), higher is better.
    MicroF1,
    /// Validation loss, lower is better.
    Loss,
    /// Validation Pearson correlation (regression), higher is better.
    Pearson,
    /// Validation Spearman correlation (regression; the cosine against the
    /// score for sentence embeddings), higher is better.
    Spearman,
    /// Validation NDCG@10 of retrieving each query's positive (sentence
    /// embeddings), higher is better.
    #[value(name = "ndcg@10")]
    #[serde(rename = "ndcg@10")]
    Ndcg10,
    /// Validation MRR@10 of retrieval, higher is better.
    #[value(name = "mrr@10")]
    #[serde(rename = "mrr@10")]
    Mrr10,
    /// Validation MAP@100 of retrieval, higher is better.
    #[value(name = "map@100")]
    #[serde(rename = "map@100")]
    Map100,
    /// Validation recall@1 of retrieval, higher is better.
    #[value(name = "recall@1")]
    #[serde(rename = "recall@1")]
    Recall1,
    /// Validation recall@10 of retrieval, higher is better.
    #[value(name = "recall@10")]
    #[serde(rename = "recall@10")]
    Recall10,
    /// Validation mean average precision of reranking, higher is better.
    Map,
}

impl BestMetric {
    /// The metric's key in `trainer_state.json`, after `eval_`, as
    /// transformers' examples name their metrics (`accuracy`, `f1` for the
    /// macro-F1, `ndcg@10`).
    pub fn trainer_key(self) -> String {
        match self {
            Self::Accuracy => "accuracy",
            Self::MacroF1 => "f1",
            Self::MicroF1 => "micro_f1",
            Self::Loss => "loss",
            Self::Pearson => "pearson",
            Self::Spearman => "spearman",
            Self::Ndcg10 => "ndcg@10",
            Self::Mrr10 => "mrr@10",
            Self::Map100 => "map@100",
            Self::Recall1 => "recall@1",
            Self::Recall10 => "recall@10",
            Self::Map => "map",
        }
        .to_string()
    }

    /// Where the metric is best: the loss lowest, the others highest.
    pub fn direction(self) -> Direction {
        match self {
            Self::Loss => Direction::Lowest,
            _ => Direction::Highest,
        }
    }
}

fn default_logging_steps() -> usize {
    10
}

/// Every task-independent setting of a fine-tuning run.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct TrainingArgs {
    /// `minilm`, a Hugging Face BERT directory (a previous run works too) or
    /// a Hugging Face id (`org/name`, from the Hugging Face cache or downloaded).
    #[arg(long, default_value = "minilm")]
    pub model: String,
    #[command(flatten)]
    #[serde(flatten)]
    pub data: DataArgs,
    /// Passes over the training data (transformers' `Trainer` default too).
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Micro-batches per optimiser step (effective batch = batch size x this).
    #[arg(long, default_value_t = 1)]
    pub grad_accumulation: usize,
    /// Data-parallel training: a count (`2`: the backend's first 2 GPUs, or
    /// 2 replicas on the CPU device) or device names (`cuda:0,cuda:1`,
    /// `cpu,cpu`). Each trains `--batch-size` examples per step: the global
    /// batch is batch size x devices x accumulation.
    #[arg(long, default_value = "1")]
    #[serde(default)]
    pub devices: DeviceSpec,
    /// Peak learning rate.
    #[arg(long, default_value_t = 5e-5)]
    pub lr: f64,
    /// Share of optimiser steps with linear warm-up.
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    /// AdamW weight decay (not applied to biases and LayerNorm).
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// AdamW epsilon.
    #[arg(long, default_value_t = 1e-8)]
    pub adam_epsilon: f64,
    /// Clip the global gradient norm to this (0 disables clipping).
    #[arg(long, default_value_t = 1.0)]
    pub max_grad_norm: f64,
    /// Longest tokenized example; longer ones are truncated (question
    /// answering cuts passages into windows instead).
    #[arg(long, default_value_t = 64)]
    pub max_len: usize,
    #[command(flatten)]
    #[serde(flatten)]
    pub lora: LoraArgs,
    /// Float type of the encoder's matrix products: `f32`, `bf16` or `f16`
    /// (mixed precision: parameters, LayerNorm, softmax and the loss stay
    /// f32; f16 adds dynamic loss scaling). For GPUs: the CPU backends have
    /// no fast half-precision products.
    #[arg(long, default_value = "f32")]
    #[serde(default)]
    pub precision: Precision,
    /// Train on batches of examples of similar length (shuffled batch by
    /// batch), so that fewer padding tokens are computed; `--group-by-length
    /// false` draws batches at random.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    #[serde(default)]
    pub group_by_length: bool,
    /// Optimiser steps per training log entry (mean loss, learning rate,
    /// gradient norm) in `trainer_state.json` and TensorBoard.
    #[arg(long, default_value_t = 10)]
    #[serde(default = "default_logging_steps")]
    pub logging_steps: usize,
    /// Where the training and validation scalars go besides
    /// `trainer_state.json`: `tensorboard` (event files in `RUN/runs/`) or `none`.
    #[arg(long, value_enum, default_value = "tensorboard")]
    #[serde(default)]
    pub report_to: ReportTo,
    /// Seed of weight initialisation, dropout and shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Validation metric that picks the model kept at the end (default by
    /// task: accuracy; Pearson for regression; micro-F1 for multi-label;
    /// token accuracy for token classification; loss for mlm; Spearman or
    /// NDCG@10 for sentence embeddings). Also `--metric-for-best-model`.
    #[arg(long, value_enum, alias = "metric-for-best-model")]
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
    /// Run directory; default `runs/<dataset>` (or `runs/<dataset>-2`, ...
    /// when that holds an earlier run).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Replace the run that `--output-dir` holds.
    #[arg(long)]
    #[serde(skip)]
    pub overwrite: bool,
}

impl TrainingArgs {
    /// The run directory: `--output-dir`, or `runs/<dataset name>`.
    pub fn run_dir(&self) -> RunDir {
        RunDir::new(self.output_dir.clone().unwrap_or_else(|| {
            let name = self.data.run_name().unwrap_or_else(|| "run".into());
            PathBuf::from("runs").join(name)
        }))
    }

    /// Checks the settings that do not depend on the task.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0
            || self.batch_size == 0
            || self.grad_accumulation == 0
            || self.logging_steps == 0
        {
            bail!(
                "--epochs, --batch-size, --grad-accumulation and --logging-steps must be at least 1"
            );
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainingArgs,
    }

    fn parse(flags: &[&str]) -> TrainingArgs {
        Cli::try_parse_from(["test"].iter().chain(flags))
            .unwrap()
            .args
    }

    #[test]
    fn group_by_length_is_on_unless_turned_off() {
        assert!(parse(&[]).group_by_length);
        assert!(parse(&["--group-by-length"]).group_by_length);
        assert!(parse(&["--group-by-length", "true"]).group_by_length);
        assert!(!parse(&["--group-by-length", "false"]).group_by_length);
    }

    #[test]
    fn runs_saved_before_a_setting_existed_resume_as_they_were_trained() {
        let mut saved = serde_json::to_value(parse(&[])).unwrap();
        let fields = saved.as_object_mut().unwrap();
        fields.remove("group_by_length");
        fields.remove("precision");
        let resumed: TrainingArgs = serde_json::from_value(saved).unwrap();
        assert!(
            !resumed.group_by_length,
            "older runs trained on random batches"
        );
        assert_eq!(resumed.precision, Precision::F32);
        assert_eq!(parse(&[]).epochs, 3);
    }

    #[test]
    fn numbers_are_saved_as_they_were_given() {
        let args = parse(&[
            "--adam-epsilon",
            "1e-8",
            "--weight-decay",
            "0.01",
            "--lr",
            "3e-5",
        ]);
        let saved = serde_json::to_string(&serde_json::to_value(&args).unwrap()).unwrap();
        // The shortest decimal of each value: no float noise (as f32 they
        // were saved as 9.99999993922529e-9 and 0.009999999776482582).
        for field in [
            "\"adam_epsilon\":1e-8",
            "\"weight_decay\":0.01",
            "\"lr\":0.00003",
        ] {
            assert!(saved.contains(field), "{field} not in {saved}");
        }
    }
}
