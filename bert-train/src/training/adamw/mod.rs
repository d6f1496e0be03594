//! AdamW as `torch.optim.AdamW` computes it: decoupled weight decay and
//! bias-corrected moments, with burn's `AdamWState` as its state (so
//! checkpoints keep their format). On flex, each parameter's update is one
//! fused pass over the weights, gradient and both moments ([`flex`]), as
//! PyTorch's fused AdamW does, instead of burn's dozen element-wise passes;
//! elsewhere, and for anything the fused pass does not take, burn's AdamW
//! runs (the same arithmetic).

#[cfg(feature = "flex")]
mod flex;

use burn::optim::{AdamWConfig, AdamWState, LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

/// AdamW's constants (betas 0.9/0.999, as PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWSettings {
    /// First-moment decay.
    pub beta_1: f32,
    /// Second-moment decay.
    pub beta_2: f32,
    /// Added to the denominator's square root.
    pub epsilon: f32,
    /// Decoupled weight decay (times the learning rate per step).
    pub weight_decay: f32,
}

impl AdamWSettings {
    /// Betas 0.9 and 0.999 with the given `epsilon` and `weight_decay`.
    pub fn new(epsilon: f32, weight_decay: f32) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
            weight_decay,
        }
    }
}

/// The AdamW optimiser; build it with [`AdamW::new`].
#[derive(Clone)]
pub struct AdamW {
    settings: AdamWSettings,
}

impl AdamW {
    /// An optimiser with these settings.
    pub fn new(settings: AdamWSettings) -> Self {
        Self { settings }
    }

    /// burn's AdamW with the same settings: the path for other backends.
    fn reference(&self) -> burn::optim::AdamW {
        AdamWConfig::new()
            .with_beta_1(self.settings.beta_1)
            .with_beta_2(self.settings.beta_2)
            .with_epsilon(self.settings.epsilon)
            .with_weight_decay(self.settings.weight_decay)
            .build()
    }
}

impl Optimizer for AdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        #[cfg(feature = "flex")]
        if flex::takes(&tensor, &grad, state.as_ref()) {
            let (weights, state) = flex::step(&self.settings, lr, tensor, grad, state);
            return (weights, Some(state));
        }
        self.reference().step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <burn::optim::AdamW as Optimizer>::to_device(state, device)
    }
}
