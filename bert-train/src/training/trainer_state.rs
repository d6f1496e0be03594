//! `trainer_state.json`, as transformers' `Trainer` writes it: the epochs
//! done, each epoch's training loss and validation metrics (`log_history`)
//! and the best epoch so far with its metric. It is the run's memory across
//! resumes: written atomically after each epoch's checkpoint is complete,
//! read back by `--resume`, so the best epoch is the best over all epochs.

use std::path::Path;

use anyhow::{Context, Result};
use bert_model::files::write_atomically;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The training state of a run after its last complete epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed (validated and checkpointed).
    pub epoch: usize,
    /// Optimiser steps taken (accumulation boundaries).
    pub global_step: usize,
    /// Epochs the run was started for.
    pub num_train_epochs: usize,
    /// The validation metric that picks the kept epoch, as transformers
    /// names it (`eval_accuracy`, `eval_loss`, ...).
    pub metric_for_best_model: String,
    /// Whether higher values of that metric are better.
    pub greater_is_better: bool,
    /// The best value of that metric so far.
    pub best_metric: Option<f64>,
    /// The epoch that reached it: the one kept.
    pub best_epoch: Option<usize>,
    /// One training entry (`loss`, `learning_rate`, ...) and one validation
    /// entry (`eval_loss`, `eval_accuracy`, ...) per epoch, with `epoch` and `step`.
    pub log_history: Vec<Map<String, Value>>,
}

/// One epoch's results, as its log entries have them.
pub struct EpochLog {
    /// The epoch (1-based).
    pub epoch: usize,
    /// Training metrics: `(key, mean over the epoch)`.
    pub train: Vec<(String, f64)>,
    /// Validation metrics: `(key, value)`.
    pub valid: Vec<(String, f64)>,
    /// The selection metric's validation value, if it was computed.
    pub selected: Option<f64>,
}

impl TrainerState {
    /// The file in the run directory.
    pub const FILE: &'static str = "trainer_state.json";

    /// A run about to start its first epoch.
    pub fn new(num_train_epochs: usize, metric: &str, greater_is_better: bool) -> Self {
        Self {
            num_train_epochs,
            metric_for_best_model: log_key("eval", metric),
            greater_is_better,
            ..Self::default()
        }
    }

    /// Reads the state of the run in `root`, if it has one.
    pub fn read(root: &Path) -> Result<Option<Self>> {
        let path = root.join(Self::FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let state = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a trainer state", path.display()))?;
        Ok(Some(state))
    }

    /// Writes it atomically into the run directory `root`.
    pub fn write(&self, root: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a state serialises");
        write_atomically(&root.join(Self::FILE), json.as_bytes())
    }

    /// Adds a completed epoch after `global_step` optimiser steps; returns
    /// whether it is the new best (strictly better: a tie keeps the earlier
    /// epoch, as transformers does).
    pub fn record(&mut self, log: EpochLog, global_step: usize) -> bool {
        self.epoch = log.epoch;
        self.global_step = global_step;
        let is_best = self.is_improvement(log.selected);
        if is_best {
            self.best_metric = log.selected;
            self.best_epoch = Some(log.epoch);
        }
        let entry = |prefix: &str, values: &[(String, f64)]| {
            let mut entry = Map::from_iter([
                ("epoch".to_string(), json!(log.epoch as f64)),
                ("step".to_string(), json!(global_step)),
            ]);
            for (name, value) in values {
                entry.insert(log_key(prefix, name), json!(value));
            }
            entry
        };
        self.log_history.push(entry("", &log.train));
        self.log_history.push(entry("eval", &log.valid));
        is_best
    }

    /// Whether a validation value `selected` would be the new best.
    pub fn is_improvement(&self, selected: Option<f64>) -> bool {
        match (selected, self.best_metric) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(value), Some(best)) if self.greater_is_better => value > best,
            (Some(value), Some(best)) => value < best,
        }
    }
}

/// transformers' log key of a metric: `eval_` + the name in snake case for
/// validation (`Macro F1` → `eval_macro_f1`), the bare name for training.
pub fn log_key(prefix: &str, metric: &str) -> String {
    let name: String = metric
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}_{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, accuracy: f64) -> EpochLog {
        EpochLog {
            epoch,
            train: vec![("Loss".into(), 0.5)],
            valid: vec![("Loss".into(), 0.4), ("Accuracy".into(), accuracy)],
            selected: Some(accuracy),
        }
    }

    #[test]
    fn the_best_epoch_is_the_first_of_the_highest() {
        let mut state = TrainerState::new(4, "Accuracy", true);
        assert!(state.record(epoch(1, 0.80), 10));
        assert!(state.record(epoch(2, 0.85), 20));
        assert!(!state.record(epoch(3, 0.85), 30), "a tie keeps epoch 2");
        assert!(!state.record(epoch(4, 0.70), 40));
        assert_eq!((state.best_epoch, state.best_metric), (Some(2), Some(0.85)));
        assert_eq!((state.epoch, state.global_step), (4, 40));
        assert_eq!(state.metric_for_best_model, "eval_accuracy");
        assert_eq!(state.log_history.len(), 8);
        assert_eq!(state.log_history[3]["eval_accuracy"], json!(0.85));
        assert_eq!(state.log_history[2]["loss"], json!(0.5));
        assert_eq!(state.log_history[3]["step"], json!(20));
    }

    #[test]
    fn lower_is_better_for_a_loss_and_a_missing_value_never_wins() {
        let mut state = TrainerState::new(2, "Loss", false);
        assert!(!state.is_improvement(None));
        assert!(state.record(epoch(1, 0.9), 5));
        assert!(state.is_improvement(Some(0.5)));
        assert!(!state.is_improvement(Some(0.95)));
    }

    #[test]
    fn it_reads_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(TrainerState::read(dir.path()).unwrap(), None);
        let mut state = TrainerState::new(3, "Macro F1", true);
        state.record(epoch(1, 0.6), 7);
        state.write(dir.path()).unwrap();
        assert_eq!(TrainerState::read(dir.path()).unwrap(), Some(state));
        assert_eq!(log_key("eval", "Macro F1"), "eval_macro_f1");
    }
}
