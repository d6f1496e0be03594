//! # bert-model
//!
//! BERT-family encoders for [burn](https://burn.dev) that reproduce Hugging
//! Face `transformers` (`modeling_bert.py`, `modeling_modernbert.py`, ...) on
//! the same checkpoint, on every burn backend: the backend is chosen by the
//! [`Device`](burn::tensor::Device) the model is created on.
//!
//! - [`BertConfig`] reads Hugging Face `config.json`; its [`ModelFamily`]
//!   (`model_type`: BERT, RoBERTa, XLM-RoBERTa, DistilBERT, ELECTRA, MPNet,
//!   ModernBERT, DeBERTa-v2/v3) picks the encoder and what differs:
//!   embeddings, weight names, heads.
//! - [`Encoder`] is any family's encoder: [`BertModel`] (BERT's layers, the
//!   first six families), [`ModernBertModel`] or [`DebertaV2Model`]; it
//!   returns the last hidden state and, for BERT, the pooled output.
//! - [`BertForTask`] pairs the encoder with a swappable [`TaskHead`], such as
//!   [`SequenceClassificationHead`](heads::SequenceClassificationHead).
//! - [`pretrained`] loads a Hugging Face directory (`model.safetensors` or
//!   `pytorch_model.bin`).
//! - [`Pooling`] and [`SentencePooling`] turn hidden states into sentence
//!   embeddings; [`sentence_transformers`] reads and writes the files of a
//!   sentence-transformers model.
//! - [`lora`] puts LoRA adapters on the encoder ([`BertForTask::with_lora`]);
//!   [`peft`] reads and writes them as Hugging Face `peft` adapter directories.
//!
//! ```no_run
//! use bert_model::{BertInput, pretrained};
//! use burn::tensor::Device;
//!
//! let device = Device::default();
//! let (_config, bert) = pretrained::load_encoder("path/to/all-MiniLM-L6-v2", &device).unwrap();
//! // [CLS] hello world [SEP]
//! let input = BertInput::from_rows(vec![101, 7592, 2088, 102], vec![0; 4], vec![1; 4], [1, 4], &device);
//! let output = bert.forward(input);
//! assert_eq!(output.last_hidden_state.dims(), [1, 4, 384]);
//! ```

mod bert;
mod checkpoint_names;
mod config;
mod deberta;
pub mod dropout;
mod encoder;
pub mod files;
pub mod heads;
mod linear;
pub mod lora;
mod lora_adapter;
mod modernbert;
pub mod peft;
mod pooling;
mod precision;
pub mod pretrained;
pub mod sentence_transformers;
mod shared;
mod task;
pub mod transfers;

pub use bert::{
    BertAttention, BertEmbeddings, BertEncoder, BertIntermediate, BertLayer, BertModel, BertOutput,
    BertPooler, BertSelfAttention, BertSelfOutput, relative_position_bucket,
};
pub use config::{
    BertConfig, ClassifierPooling, ConfigError, DebertaSettings, HiddenAct, ModelFamily,
    ModernBertSettings, ProblemType, RopeParameters,
};
pub use deberta::{
    DebertaV2Attention, DebertaV2Embeddings, DebertaV2Encoder, DebertaV2Layer, DebertaV2Model,
    DisentangledSelfAttention, RelativePositions, log_bucket,
};
pub use encoder::Encoder;
pub use heads::TaskHead;
pub use linear::Linear;
pub use lora::{LoraAdapter, LoraConfig, LoraError};
pub use modernbert::{
    ModernBertAttention, ModernBertEmbeddings, ModernBertEncoderLayer, ModernBertMlp,
    ModernBertModel, RotaryTables,
};
pub use pooling::{Pooling, SentencePooling, l2_normalize, max_pool, mean_pool};
pub use precision::Precision;
pub use shared::{BertInput, BertModelOutput, first_token};
pub use task::{
    BertForPreTraining, BertForQuestionAnswering, BertForSequenceClassification, BertForTask,
    BertForTokenClassification,
};
