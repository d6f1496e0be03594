//! The tasks a run can train for, each with its head, data and metrics.

use serde::{Deserialize, Serialize};

/// What a run learns (`--task`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// One label per text: linear head on the pooled `[CLS]`, cross-entropy.
    #[default]
    Classification,
    /// One label per `[CLS] A [SEP] B [SEP]` pair (needs `--text-pair-column`).
    PairClassification,
    /// One number per text or pair: one-output head, mean squared error.
    Regression,
    /// One BIO tag per word, predicted on its first word piece.
    TokenClassification,
    /// Extractive question answering on SQuAD v1.1 files: start and end
    /// vectors over passage tokens, long passages in overlapping windows.
    QuestionAnswering,
    /// Masked-LM pre-training (or domain adaptation) on raw text, plus
    /// next-sentence prediction with `--nsp`.
    Mlm,
}

impl Task {
    /// The built-in dataset used when `--dataset` is not given, if the task has one.
    pub fn default_dataset(self) -> Option<&'static str> {
        match self {
            Self::Classification => Some("rotten_tomatoes"),
            Self::PairClassification => None,
            Self::Regression => Some("sts_b"),
            Self::TokenClassification => Some("twitter_ner"),
            Self::QuestionAnswering => None,
            Self::Mlm => Some("imdb"),
        }
    }

    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classification => "classification",
            Self::PairClassification => "pair-classification",
            Self::Regression => "regression",
            Self::TokenClassification => "token-classification",
            Self::QuestionAnswering => "question-answering",
            Self::Mlm => "mlm",
        }
    }
}
