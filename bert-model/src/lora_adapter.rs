//! [`LoraAdapter`]: the low-rank update LoRA adds to one linear layer.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::dropout::apply_dropout;
use crate::precision::Precision;

/// The low-rank update of one linear layer (peft's `lora_A`, `lora_B`,
/// `lora_dropout` and `scaling` of one layer).
#[derive(Module, Debug)]
pub struct LoraAdapter {
    /// `A`, `in -> r`, no bias.
    pub lora_a: burn::nn::Linear,
    /// `B`, `r -> out`, no bias.
    pub lora_b: burn::nn::Linear,
    /// Dropout on the input of `A`.
    pub dropout: Dropout,
    /// `alpha / r`.
    #[module(skip)]
    pub scaling: f64,
}

impl LoraAdapter {
    /// A fresh adapter of rank `rank` for a layer of `[d_input, d_output]`
    /// on `device` (`B` zero, so the layer is unchanged), `dropout` on its
    /// input, its update scaled by `scaling` (`alpha / rank`).
    pub fn new(
        [d_input, d_output]: [usize; 2],
        device: &Device,
        rank: usize,
        dropout: f64,
        scaling: f64,
    ) -> Self {
        // PyTorch's nn.Linear draw, as peft's `kaiming_uniform_(a=sqrt(5))`.
        let lora_a = LinearConfig::new(d_input, rank)
            .with_bias(false)
            .init(device);
        let lora_b = LinearConfig::new(rank, d_output)
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device);
        Self {
            lora_a,
            lora_b,
            dropout: DropoutConfig::new(dropout).init(),
            scaling,
        }
    }

    /// `scaling · B(A(dropout(input)))`, products in `precision`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>, precision: Precision) -> Tensor<D> {
        let input = apply_dropout(&self.dropout, input);
        let reduced = precision.linear(input, self.lora_a.weight.val(), None);
        precision.linear(reduced, self.lora_b.weight.val(), None) * self.scaling
    }

    /// The update as one matrix, `scaling · A·B`, `[in, out]`.
    pub fn delta(&self) -> Tensor<2> {
        self.lora_a.weight.val().matmul(self.lora_b.weight.val()) * self.scaling
    }
}
