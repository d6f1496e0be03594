//! # bert-train
//!
//! Fine-tuning, evaluation and inference for bert-burn, and the
//! command-line program built on them.
//!
//! - [`task::Task`]: one task end to end (data, head, loss, metrics,
//!   report, predictions); [`tasks`] lists the built-in ones
//!   (classification, pair classification, multi-label, regression, token
//!   classification, question answering, masked-LM pretraining) and runs
//!   `train`, `eval` and `predict` for the one a run names.
//! - [`driver`]: trains, evaluates and applies any task, the same way.
//! - [`training`]: what every task's training shares: arguments, data
//!   sources, burn-train's `Learner` with AdamW (no decay on biases and
//!   LayerNorm), warm-up then linear decay, global gradient clipping,
//!   accumulation, best-epoch restore, early stopping and resume.
//! - [`run`]: the run directory, its files and plots.
//! - [`embed`]: sentence embeddings; [`bench`]: speed and memory;
//!   [`backend`]: the device of the backend compiled in; [`polling`]:
//!   rayon's threads kept awake through each step on the CPU.
//!
//! Layers import only those below them: `tasks` → `driver` → `task` →
//! `training`, `run`, `inference`, `predict`, `scores`.

pub mod backend;
pub mod bench;
pub mod driver;
pub mod embed;
pub mod inference;
pub mod polling;
pub mod predict;
pub mod run;
pub mod scores;
pub mod task;
pub mod tasks;
pub mod training;
