//! [`Encoder`]: the one interface heads, tasks, precision and the loaders use,
//! whatever the family. Each family whose layers differ has its own file
//! (`bert.rs`, `modernbert.rs`, `deberta.rs`); `model_type` picks one.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::bert::BertModel;
use crate::checkpoint_names::checkpoint_module_name;
use crate::config::{BertConfig, ModelFamily};
use crate::deberta::DebertaV2Model;
use crate::linear::Linear;
use crate::lora::{self, LoraConfig, LoraError};
use crate::modernbert::ModernBertModel;
use crate::precision::Precision;
use crate::shared::{BertInput, BertModelOutput};

/// A pretrained encoder of any supported family.
///
/// BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA and MPNet share BERT's
/// layers (their differences are switches of [`BertModel`]); ModernBERT and
/// DeBERTa-v2 have their own. Checkpoints name the encoder's weights without the variant.
// One encoder per model, never in a collection: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    /// BERT's layers: every family but ModernBERT.
    Bert(BertModel),
    /// ModernBERT's layers.
    ModernBert(ModernBertModel),
    /// DeBERTa-v2/v3's layers.
    DebertaV2(DebertaV2Model),
}

impl Encoder {
    /// A randomly initialised encoder of `config`'s family.
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        match config.model_type {
            ModelFamily::ModernBert => Self::ModernBert(ModernBertModel::new(config, device)),
            ModelFamily::DebertaV2 => Self::DebertaV2(DebertaV2Model::new(config, device)),
            _ => Self::Bert(BertModel::new(config, device)),
        }
    }

    /// The same encoder with its matrix products in `precision` (parameters
    /// stay f32; see [`Precision`]).
    pub fn with_precision(self, precision: Precision) -> Self {
        match self {
            Self::Bert(model) => Self::Bert(model.with_precision(precision)),
            Self::ModernBert(model) => Self::ModernBert(model.with_precision(precision)),
            Self::DebertaV2(model) => Self::DebertaV2(model.with_precision(precision)),
        }
    }

    /// Every linear layer with its module path.
    pub fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        match self {
            Self::Bert(model) => model.linears_mut(),
            Self::ModernBert(model) => model.linears_mut(),
            Self::DebertaV2(model) => model.linears_mut(),
        }
    }

    /// The same encoder frozen, with a fresh LoRA adapter on each linear
    /// layer that `config` targets (by Hugging Face module name, `family`'s).
    pub fn with_lora(self, config: &LoraConfig, family: ModelFamily) -> Result<Self, LoraError> {
        let mut encoder = self.no_grad();
        let layers = encoder
            .linears_mut()
            .into_iter()
            .map(|(path, layer)| (checkpoint_module_name(family, &path), layer))
            .collect();
        lora::attach(layers, config, family)?;
        Ok(encoder)
    }

    /// The same encoder with every adapter folded into its weight.
    pub fn merge_lora(mut self) -> Self {
        for (_, layer) in self.linears_mut() {
            layer.merge();
        }
        self
    }

    /// Encodes a batch: `[B, S]` ids to `[B, S, H]` hidden states (and, for
    /// BERT, the pooled output). Padding never changes the outputs at real
    /// tokens.
    pub fn forward(&self, input: BertInput) -> BertModelOutput {
        match self {
            Self::Bert(model) => model.forward(input),
            Self::ModernBert(model) => model.forward(input),
            Self::DebertaV2(model) => model.forward(input),
        }
    }

    /// The word embedding matrix, `[vocab_size, E]`: the masked-LM decoder is
    /// tied to it.
    pub fn word_embeddings(&self) -> Tensor<2> {
        match self {
            Self::Bert(model) => model.embeddings.word_embeddings.weight.val(),
            Self::ModernBert(model) => model.embeddings.tok_embeddings.weight.val(),
            Self::DebertaV2(model) => model.embeddings.word_embeddings.weight.val(),
        }
    }
}
