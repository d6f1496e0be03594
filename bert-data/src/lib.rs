//! # bert-data
//!
//! Everything between raw text and model input: installing real assets
//! ([`assets`]), labelled datasets and splits ([`dataset`]), WordPiece
//! tokenization ([`BertTokenizer`]), padding into batches ([`PaddedBatch`])
//! and classification batches ([`classification`]).

pub mod assets;
mod batch;
pub mod classification;
pub mod dataset;
mod tokenizer;

pub use batch::PaddedBatch;
pub use tokenizer::{BertTokenizer, Encoding, TokenizerError};
