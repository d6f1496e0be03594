//! Sentence embeddings from token hidden states, as sentence-transformers'
//! `Pooling` and `Normalize` modules compute them.

use burn::tensor::{Int, Tensor};

use crate::shared::BertModelOutput;

/// How a sentence embedding is read off the encoder's token states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Average of the real tokens' hidden states (sentence-transformers' default).
    #[default]
    Mean,
    /// Hidden state of the `[CLS]` token.
    Cls,
    /// Largest value of each feature over the real tokens.
    Max,
}

impl std::str::FromStr for Pooling {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "mean" => Ok(Self::Mean),
            "cls" => Ok(Self::Cls),
            "max" => Ok(Self::Max),
            other => Err(format!(
                "unknown pooling {other:?}: expected mean, cls or max"
            )),
        }
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Pooling {
    /// The mode's name in sentence-transformers (`mean`, `cls`, `max`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::Max => "max",
        }
    }

    /// `[B, S, H]` hidden states and `[B, S]` mask (1 for real tokens, which
    /// come first) to `[B, H]` sentence vectors, not normalised.
    pub fn pool(self, hidden: Tensor<3>, attention_mask: Tensor<2, Int>) -> Tensor<2> {
        match self {
            Self::Mean => mean_pool(hidden, attention_mask),
            Self::Cls => {
                let [batch, _, width] = hidden.dims();
                hidden.slice([0..batch, 0..1]).reshape([batch, width])
            }
            Self::Max => max_pool(hidden, attention_mask),
        }
    }

    /// `[B, H]` L2-normalised embeddings of the encoder's output, with
    /// `attention_mask` the `[B, S]` mask of its input.
    pub fn embed(self, encoded: &BertModelOutput, attention_mask: Tensor<2, Int>) -> Tensor<2> {
        l2_normalize(self.pool(encoded.last_hidden_state.clone(), attention_mask))
    }
}

/// A sentence-transformers model's way from token states to its embedding:
/// its pooling, then L2 normalisation if it has a `Normalize` module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentencePooling {
    /// The pooling mode.
    pub pooling: Pooling,
    /// Whether embeddings are scaled to unit L2 norm.
    pub normalize: bool,
}

impl SentencePooling {
    /// The `[B, H]` sentence embeddings of the encoder's output (its input's
    /// mask travels with it).
    pub fn embed(&self, encoded: BertModelOutput) -> Tensor<2> {
        let pooled = self
            .pooling
            .pool(encoded.last_hidden_state, encoded.attention_mask);
        match self.normalize {
            true => l2_normalize(pooled),
            false => pooled,
        }
    }
}

/// Mean of `[B, S, H]` hidden states over the positions where the `[B, S]`
/// mask is 1 (the count clamped to at least 1e-9, as sentence-transformers does).
pub fn mean_pool(hidden: Tensor<3>, attention_mask: Tensor<2, Int>) -> Tensor<2> {
    let [batch, seq_len, width] = hidden.dims();
    let mask = attention_mask.float().reshape([batch, seq_len, 1]);
    let summed = (hidden * mask.clone()).sum_dim(1).reshape([batch, width]);
    let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
    summed / counts
}

/// Largest value of each feature of `[B, S, H]` hidden states over the
/// positions where the `[B, S]` mask is 1 (padding set to -inf first, as
/// sentence-transformers does).
pub fn max_pool(hidden: Tensor<3>, attention_mask: Tensor<2, Int>) -> Tensor<2> {
    let [batch, seq_len, width] = hidden.dims();
    let padding = attention_mask
        .equal_elem(0)
        .reshape([batch, seq_len, 1])
        .expand([batch, seq_len, width]);
    hidden
        .mask_fill(padding, f32::NEG_INFINITY)
        .max_dim(1)
        .reshape([batch, width])
}

/// Scales each row of `[B, H]` to unit L2 norm, norms clamped to at least
/// 1e-12 (`torch.nn.functional.normalize`; rows of zeros stay zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norms = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12);
    x / norms
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    fn hidden(device: &Device) -> (Tensor<3>, Tensor<2, Int>) {
        // Two rows of three tokens, two features; row 2's last token is padding.
        let values = vec![
            1.0, -2.0, 3.0, 0.5, -1.0, 4.0, 2.0, 2.0, -3.0, 1.0, 9.0, 9.0,
        ];
        let hidden = Tensor::from_data(TensorData::new(values, [2, 3, 2]), device);
        let mask = Tensor::from_data(TensorData::new(vec![1i64, 1, 1, 1, 1, 0], [2, 3]), device);
        (hidden, mask)
    }

    fn rows(tensor: Tensor<2>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn each_mode_pools_the_real_tokens_only() {
        let device = Device::flex();
        let (states, mask) = hidden(&device);
        let pool = |mode: Pooling| rows(mode.pool(states.clone(), mask.clone()));
        assert_eq!(pool(Pooling::Mean), [1.0, 2.5 / 3.0, -0.5, 1.5]);
        assert_eq!(pool(Pooling::Cls), [1.0, -2.0, 2.0, 2.0]);
        // Row 2's padding (9, 9) would win the max if it were not masked.
        assert_eq!(pool(Pooling::Max), [3.0, 4.0, 2.0, 2.0]);
    }

    #[test]
    fn normalisation_follows_the_setting() {
        let device = Device::flex();
        let (states, mask) = hidden(&device);
        let encoded = BertModelOutput {
            last_hidden_state: states,
            pooled_output: None,
            attention_mask: mask,
        };
        let embed = |normalize| {
            rows(
                SentencePooling {
                    pooling: Pooling::Cls,
                    normalize,
                }
                .embed(encoded.clone()),
            )
        };
        assert_eq!(embed(false), [1.0, -2.0, 2.0, 2.0]);
        let unit = embed(true);
        let expected = [
            1.0 / 5f32.sqrt(),
            -2.0 / 5f32.sqrt(),
            0.5f32.sqrt(),
            0.5f32.sqrt(),
        ];
        for (got, want) in unit.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{unit:?}");
        }
    }
}
