//! [`SplitMetric`]: a training metric whose epoch value is computed over the
//! whole split (a correlation or a retrieval score is not the mean of its
//! batches' values), and [`Correlation`], Pearson's or Spearman's.

use std::sync::Arc;

use burn::tensor::{Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use crate::scores::{pearson, spearman};

/// What a [`SplitMetric`] keeps of its batches and scores.
pub trait SplitScore: Clone + Send + Sync + 'static {
    /// What each batch gives.
    type Input: Send + Sync;
    /// What the split's batches so far add up to.
    type Rows: Default + Clone + Send + Sync;

    /// Adds a batch to `rows`.
    fn accumulate(&self, rows: &mut Self::Rows, input: &Self::Input)
    -> Result<(), TensorReadError>;

    /// The score of `rows`: after the last batch, the split's.
    fn score(&self, rows: &Self::Rows) -> f64;

    /// The value shown while the split runs (default: the score so far; a
    /// costly score gives something cheaper).
    fn running(&self, rows: &Self::Rows) -> f64 {
        self.score(rows)
    }
}

/// A metric scored over every batch of the split so far; its epoch value
/// is the score of the whole split.
#[derive(Clone)]
pub struct SplitMetric<S: SplitScore> {
    name: MetricName,
    state: NumericMetricState,
    score: S,
    rows: S::Rows,
}

impl<S: SplitScore> SplitMetric<S> {
    /// The metric `name`, scored by `score`.
    pub fn new(name: &str, score: S) -> Self {
        Self {
            name: Arc::new(name.to_string()),
            state: NumericMetricState::new(),
            score,
            rows: S::Rows::default(),
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name()).precision(4)
    }
}

impl<S: SplitScore> Metric for SplitMetric<S> {
    type Input = S::Input;

    fn update(
        &mut self,
        input: &S::Input,
        _: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.score.accumulate(&mut self.rows, input)?;
        self.state.update(self.score.running(&self.rows), 1);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        let mut split = NumericMetricState::new();
        split.update(self.score.score(&self.rows), 1);
        Ok(split.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
        self.rows = S::Rows::default();
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

impl<S: SplitScore> Numeric for SplitMetric<S> {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.score.score(&self.rows))
    }
}

/// A batch's predicted and true values, `[B, 1]` or `[B]` each.
pub struct CorrelationInput {
    /// Predicted values (a regression's output, or cosines).
    pub predictions: Tensor<1>,
    /// True values.
    pub targets: Tensor<1>,
}

/// The correlation of predictions and targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correlation {
    /// Pearson's.
    Pearson,
    /// Spearman's (of the ranks).
    Spearman,
}

impl SplitScore for Correlation {
    type Input = CorrelationInput;
    type Rows = (Vec<f64>, Vec<f64>);

    fn accumulate(
        &self,
        (predictions, targets): &mut Self::Rows,
        input: &CorrelationInput,
    ) -> Result<(), TensorReadError> {
        predictions.extend(input.predictions.try_to_vec_as::<f64>()?);
        targets.extend(input.targets.try_to_vec_as::<f64>()?);
        Ok(())
    }

    fn score(&self, (predictions, targets): &Self::Rows) -> f64 {
        match self {
            Self::Pearson => pearson(predictions, targets),
            Self::Spearman => spearman(predictions, targets),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataloader::Progress;
    use burn::tensor::Device;

    #[test]
    fn a_correlation_covers_the_whole_split_not_the_mean_of_batches() {
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
        for correlation in [Correlation::Pearson, Correlation::Spearman] {
            let mut metric = SplitMetric::new("r", correlation);
            let (mut all_predicted, mut all_true) = (Vec::new(), Vec::new());
            for (predicted, truth) in batches {
                let input = CorrelationInput {
                    predictions: Tensor::from_floats(predicted, &device),
                    targets: Tensor::from_floats(truth, &device),
                };
                metric.update(&input, &metadata).unwrap();
                all_predicted.extend(predicted.map(f64::from));
                all_true.extend(truth.map(f64::from));
            }
            let expected = correlation.score(&(all_predicted, all_true));
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
}
