//! BERT WordPiece tokenization with the `tokenizers` crate.
//!
//! Loads `tokenizer.json`, or builds the tokenizer from `vocab.txt` and
//! `tokenizer_config.json`. Encodes `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`
//! with segment ids, truncating longest-first to a maximum length.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{ModelWrapper, Tokenizer, TruncationParams, TruncationStrategy};

use crate::sentencepiece::{SentencePieceModel, SentencePieceSettings, build_tokenizer};
pub use crate::tokenizer_error::TokenizerError;

/// One tokenized example: ids and segment ids, without padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Word-piece ids, starting with `[CLS]`.
    pub input_ids: Vec<u32>,
    /// 0 for `[CLS]`, sentence A and its `[SEP]`; 1 for sentence B and its `[SEP]`.
    pub token_type_ids: Vec<u32>,
}

impl Encoding {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.input_ids.len()
    }

    /// Whether there are no tokens (never true for an encoded text).
    pub fn is_empty(&self) -> bool {
        self.input_ids.is_empty()
    }
}

/// `tokenizer_config.json` fields that shape BERT's normaliser.
#[derive(Deserialize)]
#[serde(default)]
struct TokenizerConfig {
    do_lower_case: bool,
    strip_accents: Option<bool>,
    tokenize_chinese_chars: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            do_lower_case: true,
            strip_accents: None,
            tokenize_chinese_chars: true,
        }
    }
}

/// A special token by its role; BERT's WordPiece vocabularies spell it
/// `[CLS]`, RoBERTa's and XLM-R's `<s>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialToken {
    /// Starts every sequence (`[CLS]`, `<s>`).
    Cls,
    /// Ends each segment (`[SEP]`, `</s>`).
    Sep,
    /// Padding (`[PAD]`, `<pad>`).
    Pad,
    /// Unknown word (`[UNK]`, `<unk>`).
    Unk,
    /// Masked-LM's mask (`[MASK]`, `<mask>`).
    Mask,
}

impl SpecialToken {
    /// The spellings, BERT's first.
    pub fn spellings(self) -> [&'static str; 2] {
        match self {
            Self::Cls => ["[CLS]", "<s>"],
            Self::Sep => ["[SEP]", "</s>"],
            Self::Pad => ["[PAD]", "<pad>"],
            Self::Unk => ["[UNK]", "<unk>"],
            Self::Mask => ["[MASK]", "<mask>"],
        }
    }
}

/// Where a pair's special tokens go: `[CLS] A [SEP] B [SEP]` for BERT,
/// `<s> A </s></s> B </s>` for RoBERTa, as the tokenizer's post-processor says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairTemplate {
    /// Before the first segment.
    pub prefix: Vec<u32>,
    /// Between the segments.
    pub middle: Vec<u32>,
    /// After the second segment.
    pub suffix: Vec<u32>,
    /// Segment id of the second segment and what follows it.
    pub second_type_id: u32,
}

impl PairTemplate {
    /// Number of special tokens a pair adds.
    pub fn len(&self) -> usize {
        self.prefix.len() + self.middle.len() + self.suffix.len()
    }

    /// Whether a pair adds no special tokens.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A BERT-family tokenizer (WordPiece, byte-level BPE or SentencePiece from
/// `tokenizer.json`) with longest-first truncation to `max_len`.
#[derive(Clone)]
pub struct BertTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
    pad_multiple: usize,
}

impl BertTokenizer {
    /// The default maximum length: BERT's 512 positions.
    pub const DEFAULT_MAX_LEN: usize = 512;

    /// The default multiple batch lengths are rounded up to: few distinct
    /// shapes for backends that compile kernels per shape.
    pub const DEFAULT_PAD_MULTIPLE: usize = 8;

    /// Loads a model directory's tokenizer: `tokenizer.json` when present,
    /// otherwise a SentencePiece `spm.model` (DeBERTa-v3), otherwise
    /// `vocab.txt`; `tokenizer_config.json`, if present, completes the last two.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let dir = dir.as_ref();
        let json = dir.join("tokenizer.json");
        let spm = dir.join("spm.model");
        if json.is_file() {
            Self::from_tokenizer_json(json)
        } else if spm.is_file() {
            Self::from_sentencepiece(spm, Some(dir.join("tokenizer_config.json")))
        } else {
            Self::from_vocab(
                dir.join("vocab.txt"),
                Some(dir.join("tokenizer_config.json")),
            )
        }
    }

    /// Loads a `tokenizer.json`, clearing any padding or truncation it presets.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let mut inner = Tokenizer::from_file(path).map_err(|e| file_error(path, e))?;
        inner.with_padding(None);
        Self::new(inner)
    }

    /// Builds BERT's tokenizer from `vocab.txt`; `tokenizer_config.json`, if
    /// given and present, sets lower-casing, accent stripping and CJK splitting.
    pub fn from_vocab(
        vocab: impl AsRef<Path>,
        tokenizer_config: Option<PathBuf>,
    ) -> Result<Self, TokenizerError> {
        let vocab = vocab.as_ref();
        let settings = match tokenizer_config.filter(|path| path.is_file()) {
            Some(path) => {
                serde_json::from_value(read_json(&path)?).map_err(|e| file_error(&path, e))?
            }
            None => TokenizerConfig::default(),
        };
        let vocab_path = vocab
            .to_str()
            .ok_or_else(|| file_error(vocab, "path is not UTF-8"))?;
        let model = WordPiece::from_file(vocab_path)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix("##".into())
            .build()
            .map_err(|e| file_error(vocab, e))?;
        let mut inner = Tokenizer::new(model);
        let cls = special_id(&inner, SpecialToken::Cls)?;
        let sep = special_id(&inner, SpecialToken::Sep)?;
        inner
            .with_normalizer(Some(BertNormalizer::new(
                true,
                settings.tokenize_chinese_chars,
                settings.strip_accents,
                settings.do_lower_case,
            )))
            .with_pre_tokenizer(Some(BertPreTokenizer))
            .with_post_processor(Some(BertProcessing::new(
                ("[SEP]".into(), sep),
                ("[CLS]".into(), cls),
            )))
            .with_decoder(Some(WordPieceDecoder::default()));
        Self::new(inner)
    }

    /// Builds DeBERTa-v2/v3's tokenizer from a SentencePiece model (`spm.model`)
    /// as transformers' `DebertaV2Tokenizer` does; `tokenizer_config.json`, if
    /// given and present, sets `do_lower_case`, `split_by_punct`,
    /// `add_prefix_space` and the special tokens.
    pub fn from_sentencepiece(
        model: impl AsRef<Path>,
        tokenizer_config: Option<PathBuf>,
    ) -> Result<Self, TokenizerError> {
        let model_path = model.as_ref();
        let config = match tokenizer_config.filter(|path| path.is_file()) {
            Some(path) => read_json(&path)?,
            None => serde_json::Value::Null,
        };
        let model = SentencePieceModel::from_file(model_path)?;
        let settings = SentencePieceSettings::from_config(&config);
        let inner = build_tokenizer(&model, &settings).map_err(|e| file_error(model_path, e))?;
        Self::new(inner)
    }

    fn new(inner: Tokenizer) -> Result<Self, TokenizerError> {
        for token in [SpecialToken::Cls, SpecialToken::Sep, SpecialToken::Unk] {
            special_id(&inner, token)?;
        }
        let pad_id = special_id(&inner, SpecialToken::Pad)?;
        Self {
            inner,
            max_len: Self::DEFAULT_MAX_LEN,
            pad_id,
            pad_multiple: Self::DEFAULT_PAD_MULTIPLE,
        }
        .with_max_len(Self::DEFAULT_MAX_LEN)
    }

    /// Truncates every encoding to at most `max_len` tokens, specials included.
    pub fn with_max_len(mut self, max_len: usize) -> Result<Self, TokenizerError> {
        if max_len < 4 {
            return Err(TokenizerError::MaxLenTooSmall { max_len });
        }
        self.inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                ..TruncationParams::default()
            }))
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        self.max_len = max_len;
        Ok(self)
    }

    /// The maximum number of tokens of an encoding.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Pads batches to their longest encoding rounded up to a multiple of
    /// `multiple` (`pad_to_multiple_of`); 1 pads to the longest, as
    /// transformers' `DataCollatorWithPadding` does by default.
    pub fn with_pad_multiple(mut self, multiple: usize) -> Self {
        self.pad_multiple = multiple.max(1);
        self
    }

    /// The multiple batch lengths are rounded up to.
    pub fn pad_multiple(&self) -> usize {
        self.pad_multiple
    }

    /// Id of `[PAD]`.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of a token, if the vocabulary has it.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Id of a special token such as `[MASK]`; an error if the vocabulary lacks it.
    pub fn special_id(&self, token: SpecialToken) -> Result<u32, TokenizerError> {
        special_id(&self.inner, token)
    }

    /// The special tokens around a pair, read off an encoded pair.
    pub fn pair_template(&self) -> Result<PairTemplate, TokenizerError> {
        let mut plain = self.inner.clone();
        plain
            .with_truncation(None)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let pair = plain
            .encode(("a", "b"), true)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let sequences = pair.get_sequence_ids();
        let ids = pair.get_ids();
        let first = |sequence| sequences.iter().position(|&s| s == Some(sequence));
        let last = |sequence| sequences.iter().rposition(|&s| s == Some(sequence));
        let (Some(a_start), Some(a_end), Some(b_start), Some(b_end)) =
            (first(0), last(0), first(1), last(1))
        else {
            return Err(TokenizerError::Encode(
                "the tokenizer does not encode sentence pairs".into(),
            ));
        };
        Ok(PairTemplate {
            prefix: ids[..a_start].to_vec(),
            middle: ids[a_end + 1..b_start].to_vec(),
            suffix: ids[b_end + 1..].to_vec(),
            second_type_id: pair.get_type_ids()[b_start],
        })
    }

    /// How the vocabulary spells `token`, if it has it.
    pub fn special_token(&self, token: SpecialToken) -> Option<&'static str> {
        spellings(&self.inner, token)
            .into_iter()
            .find(|spelling| self.inner.token_to_id(spelling).is_some())
    }

    /// Word-piece ids of `text` without specials, at most `max_len` of them.
    pub fn word_piece_ids(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.inner
            .encode(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| TokenizerError::Encode(e.to_string()))
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// `[CLS] text [SEP]`, truncated to `max_len`.
    pub fn encode(&self, text: &str) -> Result<Encoding, TokenizerError> {
        self.encode_input(text.into())
    }

    /// `[CLS] a [SEP] b [SEP]`, the longer side truncated first.
    pub fn encode_pair(&self, a: &str, b: &str) -> Result<Encoding, TokenizerError> {
        self.encode_input((a, b).into())
    }

    /// A single text, or a pair when `pair` is given.
    pub fn encode_text(&self, text: &str, pair: Option<&str>) -> Result<Encoding, TokenizerError> {
        match pair {
            Some(pair) => self.encode_pair(text, pair),
            None => self.encode(text),
        }
    }

    /// `[CLS] words [SEP]` from text already split into words, truncated, with
    /// the index of the word each token comes from (`None` for specials).
    pub fn encode_words(
        &self,
        words: &[String],
    ) -> Result<(Encoding, Vec<Option<u32>>), TokenizerError> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let encoding = self.encode_raw(words.as_slice().into())?;
        Ok((
            Self::to_encoding(&encoding),
            encoding.get_word_ids().to_vec(),
        ))
    }

    fn encode_input(&self, input: tokenizers::EncodeInput<'_>) -> Result<Encoding, TokenizerError> {
        Ok(Self::to_encoding(&self.encode_raw(input)?))
    }

    fn encode_raw(
        &self,
        input: tokenizers::EncodeInput<'_>,
    ) -> Result<tokenizers::Encoding, TokenizerError> {
        self.inner
            .encode(input, true)
            .map_err(|e| TokenizerError::Encode(e.to_string()))
    }

    fn to_encoding(encoding: &tokenizers::Encoding) -> Encoding {
        Encoding {
            input_ids: encoding.get_ids().to_vec(),
            token_type_ids: encoding.get_type_ids().to_vec(),
        }
    }
}

/// `token`'s spellings, the one the tokenizer uses first: a vocabulary may
/// hold both (MPNet's has `[CLS]` and `<s>`, and uses `<s>`, `<pad>` and
/// `<mask>`, but `[UNK]`). The unknown token is the WordPiece model's own;
/// the others follow the token the post-processor starts a text with.
fn spellings(tokenizer: &Tokenizer, token: SpecialToken) -> [&'static str; 2] {
    let [bert, roberta] = token.spellings();
    let roberta_style = match (token, tokenizer.get_model()) {
        (SpecialToken::Unk, ModelWrapper::WordPiece(model)) => model.unk_token == roberta,
        _ => starts_with_s(tokenizer),
    };
    if roberta_style {
        [roberta, bert]
    } else {
        [bert, roberta]
    }
}

/// Whether the post-processor starts a text with `<s>` (RoBERTa's style).
fn starts_with_s(tokenizer: &Tokenizer) -> bool {
    let first = tokenizer
        .encode("", true)
        .ok()
        .and_then(|encoding| encoding.get_ids().first().copied());
    first.is_some() && first == tokenizer.token_to_id("<s>")
}

fn special_id(tokenizer: &Tokenizer, token: SpecialToken) -> Result<u32, TokenizerError> {
    let [first, second] = spellings(tokenizer, token);
    tokenizer
        .token_to_id(first)
        .or_else(|| tokenizer.token_to_id(second))
        .ok_or_else(|| TokenizerError::MissingSpecialToken {
            token: format!("{first} (or {second})"),
        })
}

fn read_json(path: &Path) -> Result<serde_json::Value, TokenizerError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        file_error(
            path,
            format!("line {} column {}: {e}", e.line(), e.column()),
        )
    })
}

fn file_error(path: &Path, error: impl ToString) -> TokenizerError {
    TokenizerError::File {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const VOCAB: &str =
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\non\nmat\n##s\n.\nhello\nworld\ncafe\n";

    /// A WordPiece tokenizer over a 15-word vocabulary, read from a temporary file.
    pub(crate) fn tiny_tokenizer(max_len: usize) -> BertTokenizer {
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("vocab.txt");
        std::fs::write(&vocab, VOCAB).unwrap();
        BertTokenizer::from_vocab(vocab, None)
            .unwrap()
            .with_max_len(max_len)
            .unwrap()
    }

    #[test]
    fn encodes_single_text_with_specials_lowercase_and_accents_stripped() {
        let tokenizer = tiny_tokenizer(16);
        let encoding = tokenizer.encode("The CATS sat on Café.").unwrap();
        // [CLS] the cat ##s sat on cafe . [SEP]
        assert_eq!(encoding.input_ids, [2, 5, 6, 10, 7, 8, 14, 11, 3]);
        assert_eq!(encoding.token_type_ids, [0; 9]);
    }

    #[test]
    fn encodes_pairs_with_segment_ids() {
        let tokenizer = tiny_tokenizer(16);
        let encoding = tokenizer.encode_pair("hello", "the world").unwrap();
        assert_eq!(encoding.input_ids, [2, 12, 3, 5, 13, 3]);
        assert_eq!(encoding.token_type_ids, [0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn truncates_longest_first_to_max_len() {
        let tokenizer = tiny_tokenizer(7);
        let encoding = tokenizer
            .encode_pair("the cat sat on the mat", "hello")
            .unwrap();
        // 3 specials + 3 from A (the longer side) + 1 from B.
        assert_eq!(encoding.input_ids, [2, 5, 6, 7, 3, 12, 3]);
        assert_eq!(encoding.token_type_ids, [0, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn the_pair_template_is_read_off_the_post_processor() {
        let template = tiny_tokenizer(16).pair_template().unwrap();
        // [CLS] A [SEP] B [SEP]
        assert_eq!(template.prefix, [2]);
        assert_eq!(template.middle, [3]);
        assert_eq!(template.suffix, [3]);
        assert_eq!(template.second_type_id, 1);
        assert_eq!(template.len(), 3);
    }

    #[test]
    fn unknown_words_become_unk() {
        let encoding = tiny_tokenizer(16).encode("zebra").unwrap();
        assert_eq!(encoding.input_ids, [2, 1, 3]);
    }

    #[test]
    fn rejects_max_len_below_four() {
        let err = tiny_tokenizer(16).with_max_len(3).err().unwrap();
        assert!(err.to_string().contains("max_len 3 is too small"), "{err}");
    }

    #[test]
    fn missing_vocab_names_the_file() {
        let err = BertTokenizer::from_vocab("/nonexistent/vocab.txt", None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("/nonexistent/vocab.txt"), "{err}");
    }
}
