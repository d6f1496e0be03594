//! Throughput in samples per second, a training metric burn-train lacks.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

/// A batch's size and when its step ran.
pub struct ThroughputInput {
    /// Examples in the batch.
    pub samples: usize,
    /// When the step started.
    pub started: Instant,
    /// When the step returned.
    pub finished: Instant,
}

/// Examples per second since the first step of the split, from the steps'
/// own timestamps (metrics run on another thread, later than the steps).
#[derive(Clone)]
pub struct ThroughputMetric {
    name: MetricName,
    state: NumericMetricState,
    started: Option<Instant>,
    samples: usize,
    last_rate: f64,
}

impl ThroughputMetric {
    /// Name under which the metric is shown and logged.
    pub const NAME: &'static str = "Throughput";

    /// A new throughput metric.
    pub fn new() -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            state: NumericMetricState::new(),
            started: None,
            samples: 0,
            last_rate: 0.0,
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name())
            .unit("samples/s")
            .precision(1)
    }
}

impl Default for ThroughputMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for ThroughputMetric {
    type Input = ThroughputInput;

    fn update(
        &mut self,
        input: &ThroughputInput,
        _: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let started = *self.started.get_or_insert(input.started);
        self.samples += input.samples;
        let seconds = input.finished.duration_since(started).as_secs_f64();
        self.last_rate = if seconds > 0.0 {
            self.samples as f64 / seconds
        } else {
            0.0
        };
        self.state.update(self.last_rate, 1);
        Ok(self.state.compute_update(self.format()))
    }

    /// The rate over the whole split (not the mean of the running rates).
    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        let mut split = NumericMetricState::new();
        split.update(self.last_rate, 1);
        Ok(split.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
        self.started = None;
        self.samples = 0;
        self.last_rate = 0.0;
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("samples/s".into()),
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for ThroughputMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
