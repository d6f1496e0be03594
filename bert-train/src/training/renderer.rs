//! A plain-text renderer for when stdout is not a terminal (logs, CI):
//! one line per split with every metric's epoch value, and sparse progress.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use tracing::info;

/// Prints `epoch E/N train: Loss 0.4123 | Accuracy 81.20 | ...` lines.
pub struct PlainRenderer {
    names: HashMap<MetricId, String>,
    epoch_values: BTreeMap<String, f64>,
    split: String,
    epoch: usize,
    total_epochs: usize,
    total_items: usize,
    next_report: usize,
    started: Instant,
}

impl PlainRenderer {
    /// A renderer printing to standard output.
    pub fn new() -> Self {
        Self {
            names: HashMap::new(),
            epoch_values: BTreeMap::new(),
            split: String::new(),
            epoch: 0,
            total_epochs: 0,
            total_items: 0,
            next_report: 0,
            started: Instant::now(),
        }
    }

    fn record(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, Some(NumericEntry::Final(value))) = state
            && let Some(name) = self.names.get(&entry.metric_id)
        {
            self.epoch_values.insert(name.clone(), value);
        }
    }

    fn print_split(&mut self) {
        let values: Vec<String> = self
            .epoch_values
            .iter()
            .map(|(name, value)| format!("{name} {}", format_value(*value)))
            .collect();
        if !values.is_empty() {
            info!(
                "epoch {}/{} {}: {}",
                self.epoch,
                self.total_epochs,
                self.split,
                values.join(" | ")
            );
        }
        self.epoch_values.clear();
    }
}

impl Default for PlainRenderer {
    fn default() -> Self {
        Self::new()
    }
}

fn format_value(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-2 {
        format!("{value:.2e}")
    } else {
        format!("{value:.4}")
    }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, state: MetricState) {
        self.record(state);
    }
}

impl TrainingProgressLogger for PlainRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _: Option<usize>,
        _: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        info!("training for {total_epochs} epochs, starting at epoch {starting_epoch}");
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.total_items = total_items;
        self.next_report = total_items / 10;
        self.started = Instant::now();
    }

    fn update_split(&mut self, items_processed: usize) {
        if self.total_items > 0
            && items_processed >= self.next_report
            && items_processed < self.total_items
        {
            let seconds = self.started.elapsed().as_secs_f64();
            let left = seconds / items_processed.max(1) as f64
                * (self.total_items - items_processed) as f64;
            info!(
                "  {} {items_processed}/{} ({:.0}s elapsed, ~{:.0}s left)",
                self.split, self.total_items, seconds, left
            );
            self.next_report += (self.total_items / 10).max(1);
        }
    }

    fn end_split(&mut self) {
        self.print_split();
    }

    fn end(&mut self) {}

    /// burn-train logs an event per iteration; the progress lines cover them.
    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for PlainRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, name: &str, total_items: usize) {
        self.start_split(name, total_items);
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        self.update_split(items_processed);
    }

    fn end_test(&mut self) {
        self.print_split();
    }

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
