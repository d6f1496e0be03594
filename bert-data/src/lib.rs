//! # bert-data
//!
//! Everything between raw text and model input: installing real assets
//! ([`assets`]) and Hugging Face models ([`hub`]), labelled datasets and
//! splits ([`dataset`]), WordPiece tokenization ([`BertTokenizer`]), padding
//! into batches ([`PaddedBatch`]) and each task's items and batches
//! ([`classification`], [`multi_label`], [`regression`],
//! [`token_classification`], [`question_answering`], [`pretraining`] with
//! BERT's masking, [`sentence_embedding`], [`reranking`], [`few_shot`]).

pub mod assets;
mod batch;
pub mod classification;
pub mod dataset;
pub mod few_shot;
pub mod hub;
mod item;
pub mod length_groups;
pub mod multi_label;
pub mod pretraining;
pub mod question_answering;
pub mod regression;
pub mod reranking;
pub mod sentence_embedding;
pub mod sentencepiece;
pub mod token_classification;
mod tokenizer;
mod tokenizer_error;
mod tokenizer_files;

pub use batch::{PaddedBatch, TextBatcher};
pub use item::{BatchedItem, TargetBatch, TextItem};
pub use tokenizer::{BertTokenizer, Encoding, SpecialToken, TokenizerError};
