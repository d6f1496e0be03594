//! [`Encoder`]: the one interface heads, tasks, precision and the loaders use,
//! whatever the family. Each family whose layers differ has its own file
//! (`bert.rs`, `modernbert.rs`); `model_type` picks one.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::bert::BertModel;
use crate::config::{BertConfig, ModelFamily};
use crate::modernbert::ModernBertModel;
use crate::precision::Precision;
use crate::shared::{BertInput, BertModelOutput};

/// A pretrained encoder of any supported family.
///
/// BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA and MPNet share BERT's
/// layers (their differences are switches of [`BertModel`]); ModernBERT has
/// its own. Checkpoints name the encoder's weights without the variant.
// One encoder per model, never in a collection: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    /// BERT's layers: every family but ModernBERT.
    Bert(BertModel),
    /// ModernBERT's layers.
    ModernBert(ModernBertModel),
}

impl Encoder {
    /// A randomly initialised encoder of `config`'s family.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        match config.model_type {
            ModelFamily::ModernBert => Self::ModernBert(ModernBertModel::new(config, device)),
            _ => Self::Bert(BertModel::new(config, device)),
        }
    }

    /// The same encoder with its matrix products in `precision` (parameters
    /// stay f32; see [`Precision`]).
    pub fn with_precision(self, precision: Precision) -> Self {
        match self {
            Self::Bert(model) => Self::Bert(model.with_precision(precision)),
            Self::ModernBert(model) => Self::ModernBert(model.with_precision(precision)),
        }
    }

    /// Encodes a batch: `[B, S]` ids to `[B, S, H]` hidden states (and, for
    /// BERT, the pooled output). Padding never changes the outputs at real
    /// tokens.
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        match self {
            Self::Bert(model) => model.forward(input),
            Self::ModernBert(model) => model.forward(input),
        }
    }

    /// The word embedding matrix, `[vocab_size, E]`: the masked-LM decoder is
    /// tied to it.
    pub fn word_embeddings(&self) -> Tensor<2> {
        match self {
            Self::Bert(model) => model.embeddings.word_embeddings.weight.val(),
            Self::ModernBert(model) => model.embeddings.tok_embeddings.weight.val(),
        }
    }
}
