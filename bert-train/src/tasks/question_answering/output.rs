//! The step output of question answering: the mean of the start and end
//! cross-entropies (Hugging Face's loss) and the start predictions.

use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyInput, Adaptor};

/// Loss and start predictions of a batch.
pub struct SpanOutput {
    /// Mean of the start and end cross-entropies.
    pub loss: Tensor<1>,
    /// Start logits, `[B, T]`.
    pub start_logits: Tensor<2>,
    /// Gold start positions, `[B]`.
    pub start_positions: Tensor<1, Int>,
}

crate::step_output!(SpanOutput { loss, start_logits, start_positions }, samples: start_positions);

/// Share of windows whose start token is predicted exactly.
impl Adaptor<AccuracyInput> for SpanOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.start_logits.clone(), self.start_positions.clone())
    }
}
