//! Mixed precision the way PyTorch's autocast does it for BERT: the
//! encoder's matrix products (projections, attention scores and context)
//! run in bf16 or f16; parameters, embeddings, LayerNorm, softmax, GELU,
//! residual sums, heads and the loss stay in f32. burn has no autocast, so
//! the casts are written into the forward, and autodiff carries the
//! gradients back through them to the f32 parameters.

use burn::nn::Linear;
use burn::tensor::module::{attention, linear};
use burn::tensor::{FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// Float type of the encoder's matrix products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Products in bfloat16 (f32's range, 8-bit mantissa: no loss scaling needed).
    Bf16,
    /// Products in IEEE half (5-bit exponent: training needs loss scaling).
    F16,
}

impl Precision {
    /// Every precision, in the order of their names in [`Precision::NAMES`].
    pub const ALL: [Self; 3] = [Self::F32, Self::Bf16, Self::F16];
    /// The command-line names: `f32`, `bf16`, `f16`.
    pub const NAMES: [&str; 3] = ["f32", "bf16", "f16"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The products' float type; `None` for f32 (no casts at all).
    pub fn product_dtype(self) -> Option<FloatDType> {
        match self {
            Self::F32 => None,
            Self::Bf16 => Some(FloatDType::BF16),
            Self::F16 => Some(FloatDType::F16),
        }
    }

    /// `tensor` in the products' float type.
    fn narrow<const D: usize>(self, tensor: Tensor<D>) -> Tensor<D> {
        match self.product_dtype() {
            Some(dtype) => tensor.cast(dtype),
            None => tensor,
        }
    }

    /// A product's result back in f32.
    fn widen<const D: usize>(self, tensor: Tensor<D>) -> Tensor<D> {
        match self {
            Self::F32 => tensor,
            _ => tensor.cast(FloatDType::F32),
        }
    }

    /// `input · weight + bias`, computed in this precision, returned in f32.
    ///
    /// The leading dimensions are folded into rows first, so that the
    /// product is one `[rows, in] x [in, out]` matrix product: a batched
    /// product against the broadcast weight would make the backward pass
    /// compute one weight gradient per batch row and sum them (a
    /// `[B, in, out]` tensor for every projection, every step).
    pub fn linear<const D: usize>(
        self,
        input: Tensor<D>,
        weight: Tensor<2>,
        bias: Option<Tensor<1>>,
    ) -> Tensor<D> {
        let mut dims = input.dims();
        let d_input = dims[D - 1];
        let rows = dims[..D - 1].iter().product::<usize>();
        let product = linear(
            self.narrow(input.reshape([rows, d_input])),
            self.narrow(weight.clone()),
            bias.map(|bias| self.narrow(bias)),
        );
        dims[D - 1] = weight.dims()[1];
        self.widen(product).reshape(dims)
    }

    /// `layer(input)`, computed in this precision, returned in f32.
    pub fn apply<const D: usize>(self, layer: &Linear, input: Tensor<D>) -> Tensor<D> {
        self.linear(
            input,
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
        )
    }

    /// `lhs · rhs` (batched), computed in this precision, returned in f32.
    pub fn matmul<const D: usize>(self, lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<D> {
        self.widen(self.narrow(lhs).matmul(self.narrow(rhs)))
    }

    /// The backend's fused `softmax(q·kᵀ/√D + bias)·v`, in this precision,
    /// returned in f32.
    pub fn attention(
        self,
        query: Tensor<4>,
        key: Tensor<4>,
        value: Tensor<4>,
        bias: Tensor<4>,
    ) -> Tensor<4> {
        let context = attention(
            self.narrow(query),
            self.narrow(key),
            self.narrow(value),
            None,
            Some(self.narrow(bias)),
            Default::default(),
        );
        self.widen(context)
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|precision| precision.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown precision {name:?}: expected one of {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};

    use super::*;

    /// flex: ndarray has no bf16 or f16.
    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn names_round_trip() {
        for precision in Precision::ALL {
            assert_eq!(precision.name().parse(), Ok(precision));
        }
        assert!("fp16".parse::<Precision>().unwrap_err().contains("bf16"));
    }

    #[test]
    fn products_come_back_in_f32_close_to_f32_products() {
        let device = device();
        let normal = Distribution::Normal(0.0, 1.0);
        let input = Tensor::<3>::random([2, 5, 16], normal, &device);
        let weight = Tensor::<2>::random([16, 8], normal, &device);
        let bias = Tensor::<1>::random([8], normal, &device);
        let exact = Precision::F32.linear(input.clone(), weight.clone(), Some(bias.clone()));
        for (precision, tolerance) in [(Precision::Bf16, 0.2), (Precision::F16, 0.02)] {
            let mixed = precision.linear(input.clone(), weight.clone(), Some(bias.clone()));
            assert_eq!(mixed.dtype(), exact.dtype(), "{precision:?}");
            let diff = (mixed - exact.clone()).abs().max().into_scalar::<f32>();
            assert!(
                diff > 0.0 && diff < tolerance,
                "{precision:?}: max diff {diff}"
            );
        }
    }

    #[test]
    fn gradients_reach_f32_parameters_through_the_casts() {
        let training = device().autodiff();
        let weight = Tensor::<2>::ones([4, 3], &training).require_grad();
        let input = Tensor::<2>::ones([2, 4], &training) * 0.5;
        let output = Precision::Bf16.linear(input, weight.clone(), None);
        let grads = output.sum().backward();
        let grad = weight.grad(&grads).expect("weight gradient");
        assert_eq!(grad.dtype(), weight.dtype());
        // d(sum(x·W))/dW[i][j] = sum over rows of x[., i] = 2 · 0.5.
        grad.into_data()
            .assert_eq(&Tensor::<2>::ones([4, 3], &device()).into_data(), false);
    }
}
