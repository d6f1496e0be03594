//! [`Linear`]: the encoders' projection, `x·W + b`, with room for a LoRA
//! adapter beside the frozen weight (peft's `lora.Linear`).
//!
//! It has burn's `Linear` name and fields, so checkpoints name its weights
//! as before (`query.weight`, `[out, in]` in Hugging Face files, `[in, out]`
//! here) and the PyTorch adapters transpose them the same way.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::lora_adapter::LoraAdapter;
use crate::precision::Precision;

/// A projection `[.., in] -> [.., out]` with an optional low-rank update.
#[derive(Module, Debug)]
pub struct Linear {
    /// `W`, `[in, out]`.
    pub weight: Param<Tensor<2>>,
    /// `b`, `[out]`, if the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
    /// The LoRA update added to the output (peft's `lora_A` / `lora_B`),
    /// when the layer is a target of one.
    pub lora: Option<LoraAdapter>,
}

impl Linear {
    /// A layer `d_input -> d_output` drawn from `initializer`, without adapter.
    pub fn new(
        d_input: usize,
        d_output: usize,
        bias: bool,
        initializer: Initializer,
        device: &Device,
    ) -> Self {
        let layer = LinearConfig::new(d_input, d_output)
            .with_bias(bias)
            .with_initializer(initializer)
            .init(device);
        Self {
            weight: layer.weight,
            bias: layer.bias,
            lora: None,
        }
    }

    /// `input · W + b` (+ the adapter's update), products in `precision`,
    /// returned in f32.
    pub fn forward<const D: usize>(&self, input: Tensor<D>, precision: Precision) -> Tensor<D> {
        let update = self.lora_update(input.clone(), precision);
        let output = precision.linear(input, self.weight.val(), self.bias.as_ref().map(Param::val));
        match update {
            Some(update) => output + update,
            None => output,
        }
    }

    /// The adapter's update of the output for `input`, if the layer has an adapter.
    pub fn lora_update<const D: usize>(
        &self,
        input: Tensor<D>,
        precision: Precision,
    ) -> Option<Tensor<D>> {
        self.lora
            .as_ref()
            .map(|adapter| adapter.forward(input, precision))
    }

    /// Widths `[in, out]`.
    pub fn dims(&self) -> [usize; 2] {
        self.weight.dims()
    }

    /// Folds the adapter into the weight (`W + scaling · A·B`, a new leaf
    /// of the autodiff graph) and removes it; nothing without one.
    pub fn merge(&mut self) {
        if let Some(adapter) = self.lora.take() {
            let delta = adapter.delta();
            self.weight = self.weight.clone().map(|weight| (weight + delta).detach());
        }
    }
}
