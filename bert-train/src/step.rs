//! What every task's training and validation step returns: the task's
//! output (loss, predictions, targets) and when the step ran, for throughput.
//! Metrics are computed on another thread, later than the step, so they
//! cannot time it themselves.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{ExecutionError, Tensor};
use burn::train::metric::{
    AccuracyInput, Adaptor, ConfusionStatsInput, LossInput, PerplexityInput,
};
use burn::train::{ItemLazy, TrainOutput};

use crate::metrics::{PearsonInput, ThroughputInput};

/// A task output that knows how many examples it covers.
pub trait Samples {
    /// Examples in the batch.
    fn samples(&self) -> usize;
}

/// A step's output and its timestamps.
pub struct Timed<O> {
    /// The task's output.
    pub output: O,
    /// When the step started.
    pub started: Instant,
    /// When the step returned.
    pub finished: Instant,
}

/// Runs `step` and records when it ran.
pub fn timed<O>(step: impl FnOnce() -> O) -> Timed<O> {
    let started = Instant::now();
    let output = step();
    Timed {
        output,
        started,
        finished: Instant::now(),
    }
}

/// Runs a training step: `forward` gives the output and its loss, which is
/// back-propagated through `model`.
pub fn train_step<M: Module, O>(
    model: &M,
    forward: impl FnOnce() -> (O, Tensor<1>),
) -> TrainOutput<Timed<O>> {
    let started = Instant::now();
    let (output, loss) = forward();
    let grads = loss.backward();
    TrainOutput::new(
        model,
        grads,
        Timed {
            output,
            started,
            finished: Instant::now(),
        },
    )
}

/// Implements burn-train's `TrainStep` and `InferenceStep` for a model
/// wrapper whose method `$forward(batch)` returns an output with a `loss`.
macro_rules! learner_steps {
    ($model:ty, $batch:ty, $output:ty, $forward:ident) => {
        impl burn::train::TrainStep for $model {
            type Input = $batch;
            type Output = $crate::step::Timed<$output>;

            fn step(&self, batch: $batch) -> burn::train::TrainOutput<Self::Output> {
                $crate::step::train_step(self, || {
                    let output = self.$forward(batch);
                    let loss = output.loss.clone();
                    (output, loss)
                })
            }
        }

        impl burn::train::InferenceStep for $model {
            type Input = $batch;
            type Output = $crate::step::Timed<$output>;

            fn step(&self, batch: $batch) -> Self::Output {
                $crate::step::timed(|| self.$forward(batch))
            }
        }
    };
}
pub(crate) use learner_steps;

impl<O: ItemLazy> ItemLazy for Timed<O> {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(Self {
            output: self.output.sync()?,
            ..self
        })
    }
}

impl<O: Samples> Adaptor<ThroughputInput> for Timed<O> {
    fn adapt(&self) -> ThroughputInput {
        ThroughputInput {
            samples: self.output.samples(),
            started: self.started,
            finished: self.finished,
        }
    }
}

/// `Timed<O>` adapts to every metric input its output adapts to.
macro_rules! adapt_through_timed {
    ($($input:ty),+) => {$(
        impl<O: Adaptor<$input>> Adaptor<$input> for Timed<O> {
            fn adapt(&self) -> $input {
                self.output.adapt()
            }
        }
    )+};
}

adapt_through_timed!(
    LossInput,
    AccuracyInput,
    ConfusionStatsInput,
    PerplexityInput,
    PearsonInput
);
