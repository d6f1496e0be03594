//! # bert-train
//!
//! Fine-tuning, evaluation and inference for bert-burn, and the
//! command-line program built on them.
//!
//! - [`train::train`]: fine-tune for a [task](task::Task) (text or pair
//!   classification, regression, token classification, question answering,
//!   masked-LM and next-sentence pre-training) with burn-train's
//!   `Learner` ([`fit`]: AdamW without decay on biases and LayerNorm, warm-up
//!   then linear decay, global gradient clipping, accumulation, best-epoch
//!   restore, early stopping, resume) and write a [run directory](run).
//! - [`evaluate::evaluate_run`], [`predict::predict_lines`],
//!   [`inference::predict_probabilities`]: use a finished run.
//! - [`embed`]: sentence embeddings; [`bench`]: speed and memory.
//! - [`backend`]: the device of the backend compiled in.

pub mod backend;
pub mod bench;
pub mod classifier;
pub mod data;
pub mod embed;
pub mod entities;
pub mod evaluate;
pub mod fit;
pub mod grad_clip;
pub mod inference;
pub mod layer_profile;
pub mod metrics;
pub mod optim;
pub mod plots;
pub mod predict;
pub mod pretrain_task;
pub mod pretrainer;
pub mod qa_task;
pub mod regression_task;
pub mod regressor;
pub mod renderer;
pub mod report;
pub mod run;
pub mod span_extractor;
pub mod step;
pub mod strategy;
pub mod tagger;
pub mod task;
pub mod token_task;
pub mod train;
