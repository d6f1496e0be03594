//! `train_results.json`: how long a training session took, under the keys
//! of transformers' `Trainer.train()` metrics (which its example scripts
//! save in a file of this name), and the time it took to get going.

use std::path::Path;

use serde::Serialize;

use bert_model::files::write_atomically;

/// The timings of one training session (a resumed run's last).
#[derive(Debug, Serialize)]
pub struct TrainResults {
    /// Epochs completed at the end.
    pub epoch: f64,
    /// Optimiser steps over the run at the end.
    pub global_step: usize,
    /// Seconds of the training loop: every epoch's steps and validation.
    pub train_runtime: f64,
    /// Optimiser steps this session took per second of `train_runtime`.
    pub train_steps_per_second: f64,
    /// Seconds from the run's start (before the model and data were
    /// loaded) to the end of its first optimiser step, if it took one.
    pub seconds_to_first_step: Option<f64>,
}

impl TrainResults {
    /// The file's name in a run directory.
    pub const FILE: &str = "train_results.json";

    /// Writes the file into the run directory `root` (atomically).
    pub fn write(&self, root: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&root.join(Self::FILE), text.as_bytes())
    }
}
