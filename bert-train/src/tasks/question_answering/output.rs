//! The step output of question answering: the mean of the start and end
//! cross-entropies (Hugging Face's loss) and the start predictions.

use burn::tensor::{ExecutionError, Int, Tensor};
use burn::train::ItemLazy;
use burn::train::metric::{AccuracyInput, Adaptor};

use crate::training::step::StepOutput;

/// Loss and start predictions of a batch.
pub struct SpanOutput {
    /// Mean of the start and end cross-entropies.
    pub loss: Tensor<1>,
    /// Start logits, `[B, T]`.
    pub start_logits: Tensor<2>,
    /// Gold start positions, `[B]`.
    pub start_positions: Tensor<1, Int>,
}

impl StepOutput for SpanOutput {
    fn loss(&self) -> Tensor<1> {
        self.loss.clone()
    }

    fn samples(&self) -> usize {
        self.start_positions.dims()[0]
    }
}

impl ItemLazy for SpanOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            start_logits: self.start_logits.without_autodiff(),
            start_positions: self.start_positions.without_autodiff(),
        })
    }
}

/// Share of windows whose start token is predicted exactly.
impl Adaptor<AccuracyInput> for SpanOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.start_logits.clone(), self.start_positions.clone())
    }
}
