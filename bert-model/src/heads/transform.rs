//! [`PredictionTransform`]: dense, activation, LayerNorm. BERT's masked-LM
//! head puts it before the tied decoder (`cls.predictions.transform`);
//! ModernBERT puts it, as `head`, before every task's classifier.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{BertConfig, HiddenAct};
use crate::precision::Precision;
use crate::shared::normal_init;

/// Dense `H -> H`, activation, LayerNorm.
#[derive(Module, Debug)]
pub struct PredictionTransform {
    /// `H -> H` projection.
    pub dense: Linear,
    /// The activation after the projection.
    #[module(skip)]
    pub activation: HiddenAct,
    /// Normalisation after the activation.
    pub layer_norm: LayerNorm,
}

/// The shape of a [`PredictionTransform`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransformShape {
    /// Width `H`.
    pub width: usize,
    /// The activation.
    pub activation: HiddenAct,
    /// Whether the projection has a bias.
    pub dense_bias: bool,
    /// Whether the LayerNorm has a bias.
    pub norm_bias: bool,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl TransformShape {
    /// ModernBERT's `head` of `config` (`ModernBertPredictionHead`), or `None`
    /// for the other families.
    pub fn modernbert(config: &BertConfig) -> Option<Self> {
        config.modernbert.as_ref().map(|settings| Self {
            width: config.hidden_size,
            activation: settings.classifier_activation,
            dense_bias: settings.classifier_bias,
            norm_bias: settings.norm_bias,
            layer_norm_eps: config.layer_norm_eps,
        })
    }

    /// A randomly initialised transform, weights drawn with std `initializer_range`.
    pub fn init(self, initializer_range: f64, device: &Device) -> PredictionTransform {
        PredictionTransform {
            dense: LinearConfig::new(self.width, self.width)
                .with_bias(self.dense_bias)
                .with_initializer(normal_init(initializer_range))
                .init(device),
            activation: self.activation,
            layer_norm: LayerNormConfig::new(self.width)
                .with_epsilon(self.layer_norm_eps)
                .with_bias(self.norm_bias)
                .init(device),
        }
    }
}

impl PredictionTransform {
    /// `LayerNorm(activation(dense(x)))`, `[..., H]` to `[..., H]` (the
    /// product in f32, its rows folded: see [`Precision::linear`]).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let projected = Precision::F32.apply(&self.dense, x);
        self.layer_norm.forward(self.activation.apply(projected))
    }
}

/// The names of a ModernBERT task head's weights: its `head` under the
/// `transform` field, its `classifier` under `classifier_path`.
pub(crate) fn modernbert_names(classifier_path: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("^head\\.dense\\.", "head.transform.dense."),
        ("^head\\.norm\\.", "head.transform.layer_norm."),
        ("^classifier\\.", classifier_path),
    ]
}
