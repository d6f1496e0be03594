//! The training log, as transformers' `Trainer` keeps it: every
//! `--logging-steps` optimiser steps, the mean training loss since the last
//! entry, the learning rate and the gradient norm. The losses add up on the
//! device and are read back with the norm in one read per entry, not one per
//! step. Entries go to `trainer_state.json` and, with `--report-to
//! tensorboard`, to TensorBoard event files with the validation metrics.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Tensor;
use tracing::{info, warn};

use super::trainer_state::StepLog;
use crate::run::tensorboard::{EventWriter, now};

/// Where training reports its scalars (`--report-to`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReportTo {
    /// TensorBoard event files in `RUN/runs/<time>_<host>/` (`Trainer`'s default
    /// when tensorboard is installed).
    #[default]
    Tensorboard,
    /// `trainer_state.json` only.
    None,
}

/// The log of a run's training steps.
pub struct TrainLog {
    logging_steps: usize,
    steps_per_epoch: usize,
    /// Losses of the micro-batches since the last entry, summed on the device.
    loss_sum: Option<Tensor<1>>,
    losses: usize,
    /// The last step's gradient norm, on the device.
    grad_norm: Option<Tensor<1>>,
    tensorboard: Option<EventWriter>,
    /// When the first optimiser step of this session was taken (queued,
    /// on a device that runs asynchronously).
    first_step_done: Option<Instant>,
    /// Whether the epoch's duration was estimated (from the second step).
    estimated: bool,
}

/// The folder of a run's TensorBoard files in the run `root`:
/// `runs/<UTC date and time>_<host>` (one per training session, as
/// `Trainer` makes them).
pub fn tensorboard_dir(root: &Path) -> PathBuf {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let folder = match host.trim() {
        "" => utc_stamp(now() as i64),
        host => format!("{}_{host}", utc_stamp(now() as i64)),
    };
    root.join("runs").join(folder)
}

/// `2026-12-07_19-40-51` for `seconds` since the Unix epoch (UTC; the
/// civil calendar from days, after Howard Hinnant's algorithm).
fn utc_stamp(seconds: i64) -> String {
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}_{:02}-{:02}-{:02}",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

impl TrainLog {
    /// A log every `logging_steps` of `steps_per_epoch` optimiser steps,
    /// writing TensorBoard files into `tensorboard` if given (a file that
    /// cannot be created is a warning: training goes on).
    pub fn new(logging_steps: usize, steps_per_epoch: usize, tensorboard: Option<&Path>) -> Self {
        let tensorboard = tensorboard.and_then(|dir| match EventWriter::create(dir, now()) {
            Ok(writer) => Some(writer),
            Err(error) => {
                warn!(
                    "no TensorBoard log: cannot create {}: {error}",
                    dir.display()
                );
                None
            }
        });
        Self {
            logging_steps: logging_steps.max(1),
            steps_per_epoch: steps_per_epoch.max(1),
            loss_sum: None,
            losses: 0,
            grad_norm: None,
            tensorboard,
            first_step_done: None,
            estimated: false,
        }
    }

    /// Notes when the first optimiser step ended, and at the second logs an
    /// epoch's training time estimated from it (the first pays one-off
    /// costs: page faults, allocation, kernel compilation).
    fn estimate_epoch(&mut self) {
        let now = Instant::now();
        match self.first_step_done {
            None => self.first_step_done = Some(now),
            Some(first) if !self.estimated => {
                self.estimated = true;
                let step = now.duration_since(first).as_secs_f64();
                info!(
                    "~{:.0} s per epoch of training steps estimated ({step:.2} s per step)",
                    step * self.steps_per_epoch as f64
                );
            }
            Some(_) => {}
        }
    }

    /// When the first optimiser step of this session was taken, if one was.
    pub fn first_step_done(&self) -> Option<Instant> {
        self.first_step_done
    }

    /// Adds a micro-batch's loss (kept on its device).
    pub fn add_loss(&mut self, loss: Tensor<1>) {
        let loss = loss.without_autodiff();
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(sum) => {
                let device = sum.device();
                sum + loss.to_device(&device)
            }
            None => loss,
        });
        self.losses += 1;
    }

    /// The gradient norm of the optimiser step just taken, if computed.
    pub fn set_grad_norm(&mut self, norm: Option<Tensor<1>>) {
        self.grad_norm = norm.map(Tensor::without_autodiff);
    }

    /// After optimiser step `step` (counted over the run, 1-based) with
    /// learning rate `learning_rate`: the entry, when `step` is a logging
    /// step, read from the device in one read.
    pub fn after_step(&mut self, step: usize, learning_rate: f64) -> Option<StepLog> {
        self.estimate_epoch();
        if !step.is_multiple_of(self.logging_steps) {
            return None;
        }
        let sum = self.loss_sum.take()?;
        let losses = std::mem::take(&mut self.losses).max(1);
        let device = sum.device();
        let norm = self.grad_norm.take().map(|norm| norm.to_device(&device));
        let read = match &norm {
            Some(norm) => Tensor::cat(vec![sum, norm.clone()], 0),
            None => sum,
        };
        let values = super::reads::read(read);
        let log = StepLog {
            epoch: step as f64 / self.steps_per_epoch as f64,
            step,
            loss: f64::from(*values.first()?) / losses as f64,
            learning_rate,
            grad_norm: norm.and(values.get(1).map(|&v| f64::from(v))),
        };
        self.write_scalars(
            step,
            &[
                ("train/loss", Some(log.loss)),
                ("train/learning_rate", Some(log.learning_rate)),
                ("train/grad_norm", log.grad_norm),
                ("train/epoch", Some(log.epoch)),
            ],
        );
        Some(log)
    }

    /// Writes an epoch's validation metrics (`Trainer`'s keys) at `step`.
    pub fn eval(&mut self, step: usize, metrics: &[(String, f64)]) {
        let tags: Vec<(String, Option<f64>)> = metrics
            .iter()
            .map(|(key, value)| (format!("eval/{key}"), Some(*value)))
            .collect();
        let tags: Vec<(&str, Option<f64>)> = tags.iter().map(|(t, v)| (t.as_str(), *v)).collect();
        self.write_scalars(step, &tags);
    }

    fn write_scalars(&mut self, step: usize, scalars: &[(&str, Option<f64>)]) {
        let Some(writer) = &mut self.tensorboard else {
            return;
        };
        let wall_time = now();
        for (tag, value) in scalars {
            let Some(value) = value else { continue };
            if let Err(error) = writer.scalar(tag, *value, step as u64, wall_time) {
                warn!(
                    "TensorBoard log stopped: {}: {error}",
                    writer.path().display()
                );
                self.tensorboard = None;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_dates_and_times() {
        assert_eq!(utc_stamp(0), "1970-01-01_00-00-00");
        // 2026-12-07 19:40:51 UTC, and a leap day.
        assert_eq!(utc_stamp(1_796_672_451), "2026-12-07_19-40-51");
        assert_eq!(utc_stamp(951_782_400), "2000-02-29_00-00-00");
    }
}
