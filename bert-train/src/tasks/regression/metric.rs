//! The regression's validation metric: the Pearson correlation of its
//! predictions over the whole split.

use burn::train::RegressionOutput;
use burn::train::metric::Adaptor;

use crate::training::split_metric::{Correlation, CorrelationInput, SplitMetric};

/// The name the metric is shown and logged under.
pub const PEARSON: &str = "Pearson";

/// Pearson correlation of predictions and targets over the whole split.
pub fn pearson_metric() -> SplitMetric<Correlation> {
    SplitMetric::new(PEARSON, Correlation::Pearson)
}

impl Adaptor<CorrelationInput> for RegressionOutput {
    fn adapt(&self) -> CorrelationInput {
        let rows = self.output.dims()[0];
        CorrelationInput {
            predictions: self.output.clone().reshape([rows]),
            targets: self.targets.clone().reshape([rows]),
        }
    }
}
