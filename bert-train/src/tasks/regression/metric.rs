//! [`PearsonMetric`]: the Pearson correlation of a regression's predictions
//! over a whole split, as a training metric.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::RegressionOutput;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

use super::report::pearson;
use crate::training::step::Timed;

/// A batch's predictions and targets, both `[B, 1]`.
pub struct PearsonInput {
    /// Predicted values.
    pub predictions: Tensor<2>,
    /// True values.
    pub targets: Tensor<2>,
}

impl Adaptor<PearsonInput> for RegressionOutput {
    fn adapt(&self) -> PearsonInput {
        PearsonInput {
            predictions: self.output.clone(),
            targets: self.targets.clone(),
        }
    }
}

/// Pearson correlation of predictions and targets over every batch of the
/// split so far; the epoch's value is the correlation over the whole split
/// (a correlation is not the mean of per-batch correlations).
#[derive(Clone)]
pub struct PearsonMetric {
    name: MetricName,
    state: NumericMetricState,
    predictions: Vec<f64>,
    targets: Vec<f64>,
}

impl PearsonMetric {
    /// Name under which the metric is shown and logged.
    pub const NAME: &'static str = "Pearson";

    /// A new Pearson metric.
    pub fn new() -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            state: NumericMetricState::new(),
            predictions: Vec::new(),
            targets: Vec::new(),
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name()).precision(4)
    }

    fn correlation(&self) -> f64 {
        pearson(&self.predictions, &self.targets)
    }
}

impl Default for PearsonMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for PearsonMetric {
    type Input = PearsonInput;

    fn update(
        &mut self,
        input: &PearsonInput,
        _: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.predictions
            .extend(input.predictions.try_to_vec_as::<f64>()?);
        self.targets.extend(input.targets.try_to_vec_as::<f64>()?);
        self.state.update(self.correlation(), 1);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        let mut split = NumericMetricState::new();
        split.update(self.correlation(), 1);
        Ok(split.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
        self.predictions.clear();
        self.targets.clear();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for PearsonMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.correlation())
    }
}

impl<O: Adaptor<PearsonInput>> Adaptor<PearsonInput> for Timed<O> {
    fn adapt(&self) -> PearsonInput {
        self.output.adapt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataloader::Progress;
    use burn::tensor::Device;

    fn column_tensor(values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::<1>::from_floats(values, device).reshape([values.len(), 1])
    }

    #[test]
    fn pearson_covers_the_whole_split_not_the_mean_of_batches() {
        let device = Device::flex();
        let metadata = MetricMetadata {
            progress: Progress {
                items_processed: 0,
                items_total: 6,
                unit: None,
            },
            iteration: None,
            lr: None,
        };
        // Each batch alone correlates perfectly (r = 1); together they do not.
        let batches = [
            ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
            ([4.0, 5.0, 6.0], [0.0, 0.5, 1.0]),
        ];
        let mut metric = PearsonMetric::new();
        let (mut all_predicted, mut all_true) = (Vec::new(), Vec::new());
        for (predicted, truth) in batches {
            let input = PearsonInput {
                predictions: column_tensor(&predicted, &device),
                targets: column_tensor(&truth, &device),
            };
            metric.update(&input, &metadata).unwrap();
            all_predicted.extend(predicted.map(f64::from));
            all_true.extend(truth.map(f64::from));
        }
        let expected = pearson(&all_predicted, &all_true);
        assert!(expected < 0.5, "{expected}");
        let NumericEntry::Final(value) = metric.final_value() else {
            panic!("the epoch value must be final");
        };
        assert!((value - expected).abs() < 1e-9, "{value} vs {expected}");
        assert!(metric.compute().unwrap().serialized.ends_with(",final"));

        metric.clear();
        assert_eq!(metric.final_value().current(), 0.0);
    }
}
