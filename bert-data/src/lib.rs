//! # bert-data
//!
//! Everything between raw text and model input: installing real assets
//! ([`assets`]), WordPiece tokenization ([`BertTokenizer`]) and padding into
//! batches ([`PaddedBatch`]).

pub mod assets;
mod batch;
mod tokenizer;

pub use batch::PaddedBatch;
pub use tokenizer::{BertTokenizer, Encoding, TokenizerError};
