//! What every task's training and validation step returns: the task's
//! output (loss, predictions, targets) and when the step ran, for throughput.
//! Metrics are computed on another thread, later than the step, so they
//! cannot time it themselves.

use std::time::Instant;

use bert_model::ProblemType;
use burn::module::Module;
use burn::tensor::{ExecutionError, Tensor};
use burn::train::metric::{
    AccuracyInput, Adaptor, ConfusionStatsInput, HammingScoreInput, LossInput, PerplexityInput,
};
use burn::train::{ItemLazy, TrainOutput};

use super::metrics::ThroughputInput;
use super::split_metric::CorrelationInput;

/// What a task's forward pass returns for one batch.
pub trait StepOutput: ItemLazy + 'static {
    /// transformers' `problem_type` of the loss, where it names one
    /// (saved in the run's `config.json`).
    const PROBLEM_TYPE: Option<ProblemType> = None;

    /// The loss to minimise, `[1]`.
    fn loss(&self) -> Tensor<1>;

    /// Examples in the batch.
    fn samples(&self) -> usize;
}

/// Implements [`StepOutput`] for a struct whose `loss` field is the loss and
/// whose `$samples` field has one row per example (with `problem:` the
/// `ProblemType` of its loss); with its tensor fields listed (`Output {
/// loss, logits, .. }`), also burn's `ItemLazy`, which moves each of them
/// off the autodiff graph.
#[macro_export]
macro_rules! step_output {
    ($output:ty, samples: $samples:ident $(, problem: $problem:ident)?) => {
        impl $crate::training::step::StepOutput for $output {
            $(const PROBLEM_TYPE: Option<::bert_model::ProblemType> =
                Some(::bert_model::ProblemType::$problem);)?

            fn loss(&self) -> ::burn::tensor::Tensor<1> {
                self.loss.clone()
            }

            fn samples(&self) -> usize {
                self.$samples.dims()[0]
            }
        }
    };
    ($output:ident { $($field:ident),+ }, samples: $samples:ident $(, problem: $problem:ident)?) => {
        $crate::step_output!($output, samples: $samples $(, problem: $problem)?);

        impl ::burn::train::ItemLazy for $output {
            fn sync(self) -> Result<Self, ::burn::tensor::ExecutionError> {
                self.loss.device().flush()?;
                Ok(Self {
                    $($field: self.$field.without_autodiff()),+
                })
            }
        }
    };
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

/// The loss of a training step's output, for the training log.
pub trait StepLoss {
    /// The loss, `[1]`.
    fn step_loss(&self) -> Tensor<1>;
}

impl<O: StepOutput> StepLoss for Timed<O> {
    fn step_loss(&self) -> Tensor<1> {
        self.output.loss()
    }
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

/// Runs a training step: `forward` gives the output, whose loss, times
/// `loss_scale`, is back-propagated through `model`.
pub fn train_step<M: Module, O: StepOutput>(
    model: &M,
    loss_scale: f64,
    forward: impl FnOnce() -> O,
) -> TrainOutput<Timed<O>> {
    let output = timed(forward);
    let loss = output.output.loss();
    let grads = if loss_scale == 1.0 {
        loss.backward()
    } else {
        (loss * loss_scale).backward()
    };
    TrainOutput::new(model, grads, output)
}

impl<O: ItemLazy> ItemLazy for Timed<O> {
    fn sync(self) -> Result<Self, ExecutionError> {
        Ok(Self {
            output: self.output.sync()?,
            ..self
        })
    }
}

impl<O: StepOutput> Adaptor<ThroughputInput> for Timed<O> {
    fn adapt(&self) -> ThroughputInput {
        ThroughputInput {
            samples: self.output.samples(),
            started: self.started,
            finished: self.finished,
        }
    }
}

impl<O: StepOutput> Adaptor<LossInput> for Timed<O> {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.output.loss())
    }
}

/// `Timed<O>` adapts to every metric input of burn's that its output adapts to.
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
    AccuracyInput,
    CorrelationInput,
    ConfusionStatsInput,
    HammingScoreInput,
    PerplexityInput
);
