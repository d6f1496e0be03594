//! `trainer_state.json`, as transformers' `Trainer` writes it: the epochs
//! and steps done, a training entry per logging step (`loss`,
//! `learning_rate`, `grad_norm`), a validation entry per epoch
//! (`eval_loss`, `eval_accuracy`, `eval_f1`, ... as fractions, as Trainer's
//! metrics are), the best metric with its checkpoint, and the plan
//! (`max_steps`, `logging_steps`, `train_batch_size`, `num_train_epochs`).
//! It is the run's memory across resumes: written atomically after each
//! epoch's checkpoint is complete, read back by `--resume`, so the best
//! epoch is the best over all epochs. States that bert-burn wrote before
//! (metric names after burn's, percentages) are read and brought up to date.

use std::path::Path;

use anyhow::{Context, Result};
use bert_model::files::write_atomically;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How a metric is logged: its burn name, its `Trainer` key and the divisor
/// that brings its values to `Trainer`'s scale (100 for a percentage).
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedMetric {
    /// The name burn-train registers it under (`Accuracy`).
    pub name: String,
    /// Its key without the `eval_` prefix (`accuracy`, `f1`, `ndcg@10`).
    pub key: String,
    /// What its values are divided by.
    pub divisor: f64,
}

impl LoggedMetric {
    /// `name`'s value as `Trainer` writes it.
    pub fn value(&self, raw: f64) -> f64 {
        raw / self.divisor
    }

    /// The key bert-burn wrote before it followed `Trainer`: the name in
    /// snake case (`Macro F1` → `macro_f1`).
    fn old_key(&self) -> String {
        snake_case(&self.name)
    }
}

/// The plan of a run, as `Trainer` records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainingPlan {
    /// Epochs the run is started for.
    pub num_train_epochs: usize,
    /// Optimiser steps over all epochs.
    pub max_steps: usize,
    /// Optimiser steps per training log entry.
    pub logging_steps: usize,
    /// Examples per device and micro-batch.
    pub train_batch_size: usize,
}

/// The training state of a run after its last complete epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed (a float in `Trainer`'s files).
    pub epoch: f64,
    /// Optimiser steps taken (accumulation boundaries).
    pub global_step: usize,
    /// Optimiser steps over all epochs.
    #[serde(default)]
    pub max_steps: usize,
    /// Epochs the run was started for.
    pub num_train_epochs: usize,
    /// Optimiser steps per training log entry (0 in a state written before
    /// bert-burn followed `Trainer`).
    #[serde(default)]
    pub logging_steps: usize,
    /// Examples per device and micro-batch.
    #[serde(default)]
    pub train_batch_size: usize,
    /// The best value of the selecting metric so far.
    pub best_metric: Option<f64>,
    /// The checkpoint of the best epoch.
    #[serde(default)]
    pub best_model_checkpoint: Option<String>,
    /// The optimiser step the best epoch ended at.
    #[serde(default)]
    pub best_global_step: Option<usize>,
    /// bert-burn's: the validation metric that picks the kept epoch, as
    /// `Trainer` names it (`eval_accuracy`, `eval_loss`, ...; `Trainer`
    /// keeps it in its arguments).
    #[serde(default)]
    pub metric_for_best_model: Option<String>,
    /// bert-burn's: whether higher values of that metric are better.
    #[serde(default = "higher")]
    pub greater_is_better: bool,
    /// bert-burn's: the epoch that reached the best metric, the one kept.
    #[serde(default)]
    pub best_epoch: Option<usize>,
    /// Training entries (`loss`, `learning_rate`, `grad_norm`) per logging
    /// step and validation entries (`eval_loss`, ...) per epoch, each with
    /// `epoch` and `step`.
    pub log_history: Vec<Map<String, Value>>,
}

fn higher() -> bool {
    true
}

/// One epoch's validation results.
pub struct EpochLog {
    /// The epoch (1-based).
    pub epoch: usize,
    /// Validation metrics: `(key, value)` in `Trainer`'s keys and scale.
    pub valid: Vec<(String, f64)>,
    /// The selection metric's validation value, if it was computed.
    pub selected: Option<f64>,
}

/// One training log entry: the mean loss over the logging steps, and the
/// learning rate and gradient norm of the last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepLog {
    /// Epochs done, with the fraction of the current one.
    pub epoch: f64,
    /// Optimiser steps done.
    pub step: usize,
    /// Mean training loss since the previous entry.
    pub loss: f64,
    /// Learning rate of the last step.
    pub learning_rate: f64,
    /// Global gradient norm of the last step (before clipping), if computed.
    pub grad_norm: Option<f64>,
}

impl TrainerState {
    /// The file in the run directory.
    pub const FILE: &'static str = "trainer_state.json";

    /// A run about to start its first epoch, selecting by `metric`.
    pub fn new(plan: TrainingPlan, metric: &LoggedMetric, greater_is_better: bool) -> Self {
        Self {
            num_train_epochs: plan.num_train_epochs,
            max_steps: plan.max_steps,
            logging_steps: plan.logging_steps,
            train_batch_size: plan.train_batch_size,
            metric_for_best_model: Some(format!("eval_{}", metric.key)),
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
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&root.join(Self::FILE), json.as_bytes())
    }

    /// Epochs completed, as a count.
    pub fn epochs_done(&self) -> usize {
        self.epoch.floor() as usize
    }

    /// A state bert-burn wrote before it followed `Trainer` (burn's metric
    /// names in snake case, percentages) brought to `Trainer`'s keys and
    /// scales for `metrics`, with `plan` filled in; others are unchanged.
    pub fn upgraded(mut self, metrics: &[LoggedMetric], plan: TrainingPlan) -> Self {
        if self.logging_steps != 0 {
            return self;
        }
        for entry in &mut self.log_history {
            let eval = entry.contains_key("eval_loss");
            for metric in metrics {
                let (old, new) = match eval {
                    true => (
                        format!("eval_{}", metric.old_key()),
                        format!("eval_{}", metric.key),
                    ),
                    false => (metric.old_key(), metric.key.clone()),
                };
                if let Some(value) = entry.remove(&old).and_then(|v| v.as_f64()) {
                    entry.insert(new, json!(metric.value(value)));
                }
            }
        }
        let selected = metrics.iter().find(|metric| {
            self.metric_for_best_model.as_deref() == Some(&format!("eval_{}", metric.old_key()))
        });
        if let Some(metric) = selected {
            self.metric_for_best_model = Some(format!("eval_{}", metric.key));
            self.best_metric = self.best_metric.map(|value| metric.value(value));
        }
        Self {
            max_steps: plan.max_steps,
            logging_steps: plan.logging_steps,
            train_batch_size: plan.train_batch_size,
            ..self
        }
    }

    /// Adds a training log entry.
    pub fn log_step(&mut self, log: StepLog) {
        let mut entry = Map::from_iter([
            ("epoch".to_string(), json!(log.epoch)),
            ("step".to_string(), json!(log.step)),
            ("loss".to_string(), json!(log.loss)),
            ("learning_rate".to_string(), json!(log.learning_rate)),
        ]);
        if let Some(norm) = log.grad_norm {
            entry.insert("grad_norm".into(), json!(norm));
        }
        self.log_history.push(entry);
    }

    /// Adds a completed epoch after `global_step` optimiser steps, whose
    /// checkpoint is `checkpoint`; returns whether it is the new best
    /// (strictly better: a tie keeps the earlier epoch, as transformers does).
    pub fn record(&mut self, log: EpochLog, global_step: usize, checkpoint: &str) -> bool {
        self.epoch = log.epoch as f64;
        self.global_step = global_step;
        let is_best = self.is_improvement(log.selected);
        if is_best {
            self.best_metric = log.selected;
            self.best_epoch = Some(log.epoch);
            self.best_global_step = Some(global_step);
            self.best_model_checkpoint = Some(checkpoint.to_string());
        }
        let mut entry = Map::from_iter([
            ("epoch".to_string(), json!(log.epoch as f64)),
            ("step".to_string(), json!(global_step)),
        ]);
        for (key, value) in &log.valid {
            entry.insert(format!("eval_{key}"), json!(value));
        }
        self.log_history.push(entry);
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

/// A metric name in snake case (`Macro F1` → `macro_f1`).
pub fn snake_case(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c.is_alphanumeric() {
            true => c.to_ascii_lowercase(),
            false => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accuracy() -> LoggedMetric {
        LoggedMetric {
            name: "Accuracy".into(),
            key: "accuracy".into(),
            divisor: 100.0,
        }
    }

    fn loss() -> LoggedMetric {
        LoggedMetric {
            name: "Loss".into(),
            key: "loss".into(),
            divisor: 1.0,
        }
    }

    fn plan() -> TrainingPlan {
        TrainingPlan {
            num_train_epochs: 4,
            max_steps: 40,
            logging_steps: 5,
            train_batch_size: 32,
        }
    }

    fn epoch(epoch: usize, accuracy: f64) -> EpochLog {
        EpochLog {
            epoch,
            valid: vec![("loss".into(), 0.4), ("accuracy".into(), accuracy)],
            selected: Some(accuracy),
        }
    }

    #[test]
    fn the_best_epoch_is_the_first_of_the_highest() {
        let mut state = TrainerState::new(plan(), &accuracy(), true);
        assert!(state.record(epoch(1, 0.80), 10, "run/checkpoint/best-1"));
        assert!(state.record(epoch(2, 0.85), 20, "run/checkpoint/best-2"));
        assert!(
            !state.record(epoch(3, 0.85), 30, "run/checkpoint/best-3"),
            "a tie keeps epoch 2"
        );
        assert!(!state.record(epoch(4, 0.70), 40, "run/checkpoint/best-4"));
        assert_eq!((state.best_epoch, state.best_metric), (Some(2), Some(0.85)));
        assert_eq!(
            state.best_model_checkpoint.as_deref(),
            Some("run/checkpoint/best-2")
        );
        assert_eq!((state.epoch, state.global_step), (4.0, 40));
        assert_eq!(
            state.metric_for_best_model.as_deref(),
            Some("eval_accuracy")
        );
        assert_eq!(state.log_history[1]["eval_accuracy"], json!(0.85));
        assert_eq!(state.log_history[1]["step"], json!(20));
    }

    #[test]
    fn lower_is_better_for_a_loss_and_a_missing_value_never_wins() {
        let mut state = TrainerState::new(plan(), &loss(), false);
        assert!(!state.is_improvement(None));
        assert!(state.record(epoch(1, 0.9), 5, "c"));
        assert!(state.is_improvement(Some(0.5)));
        assert!(!state.is_improvement(Some(0.95)));
    }

    #[test]
    fn it_reads_back_what_it_wrote_and_steps_are_logged() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(TrainerState::read(dir.path()).unwrap(), None);
        let mut state = TrainerState::new(plan(), &accuracy(), true);
        state.log_step(StepLog {
            epoch: 0.5,
            step: 5,
            loss: 0.7,
            learning_rate: 1e-5,
            grad_norm: Some(2.5),
        });
        state.record(epoch(1, 0.6), 7, "c");
        state.write(dir.path()).unwrap();
        assert_eq!(TrainerState::read(dir.path()).unwrap(), Some(state.clone()));
        let step = &state.log_history[0];
        assert_eq!(
            (step["loss"].clone(), step["grad_norm"].clone()),
            (json!(0.7), json!(2.5))
        );
        assert_eq!(snake_case("Macro F1"), "macro_f1");
    }

    #[test]
    fn an_older_state_is_brought_to_trainers_keys_and_scales() {
        let old = r#"{"epoch": 2, "global_step": 20, "num_train_epochs": 3,
            "metric_for_best_model": "eval_accuracy", "greater_is_better": true,
            "best_metric": 85.5, "best_epoch": 2,
            "log_history": [{"epoch": 1.0, "step": 10, "loss": 0.6, "accuracy": 70.0},
                            {"epoch": 1.0, "step": 10, "eval_loss": 0.5, "eval_accuracy": 80.0}]}"#;
        let state: TrainerState = serde_json::from_str(old).unwrap();
        let state = state.upgraded(&[loss(), accuracy()], plan());
        assert_eq!(state.best_metric, Some(0.855));
        assert_eq!(state.log_history[1]["eval_accuracy"], json!(0.8));
        assert_eq!(state.log_history[0]["accuracy"], json!(0.7));
        assert_eq!(
            (state.epochs_done(), state.logging_steps, state.max_steps),
            (2, 5, 40)
        );
        // A state already in the new shape is left as it is.
        assert_eq!(state.clone().upgraded(&[accuracy()], plan()), state);
    }
}
