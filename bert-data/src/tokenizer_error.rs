//! [`TokenizerError`]: why a tokenizer could not be loaded or used (shared by
//! the WordPiece/BPE loader and the SentencePiece reader).

/// Why a tokenizer could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A tokenizer file is missing, unreadable or malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The vocabulary lacks a token BERT needs.
    #[error("the vocabulary has no {token} token")]
    MissingSpecialToken {
        /// The token, e.g. `[CLS] (or <s>)`.
        token: String,
    },
    /// `max_len` cannot hold even the special tokens.
    #[error(
        "max_len {max_len} is too small: a pair needs at least 4 tokens ([CLS] A [SEP] B [SEP] with one each)"
    )]
    MaxLenTooSmall {
        /// The rejected length.
        max_len: usize,
    },
    /// The `tokenizers` crate failed on an input.
    #[error("tokenization failed: {0}")]
    Encode(String),
}
