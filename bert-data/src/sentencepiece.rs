//! Reading a SentencePiece model (`spm.model`, as DeBERTa-v3 repositories
//! ship it) and building the `tokenizers` pipeline transformers builds from
//! it (`DebertaV2Tokenizer`): the normaliser's precompiled character map,
//! Metaspace, Unigram over the pieces and their scores, `[CLS] A [SEP] B [SEP]`.
//!
//! The file is a protocol-buffer `ModelProto`, of which three fields matter:
//! the pieces, the trainer's model type and unknown id, and the normaliser.
//! A short wire-format reader covers them (no code generation, no new
//! dependency) and says at which byte a malformed file breaks.

use std::path::Path;

use serde_json::Value;
use tokenizers::Tokenizer;
use tokenizers::decoders::metaspace::Metaspace as MetaspaceDecoder;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Lowercase, NFC, Precompiled, Replace, Sequence, Strip};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::tokenizer_error::TokenizerError;

/// The type of a piece (`SentencePiece.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece.
    Normal,
    /// The unknown piece.
    Unknown,
    /// A control symbol such as `[CLS]`: never produced from text.
    Control,
    /// A user-defined symbol, matched whole.
    UserDefined,
    /// A piece kept out of segmentation.
    Unused,
    /// A byte-fallback piece `<0x..>`.
    Byte,
}

impl PieceType {
    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::Normal,
            2 => Self::Unknown,
            3 => Self::Control,
            4 => Self::UserDefined,
            5 => Self::Unused,
            6 => Self::Byte,
            _ => return None,
        })
    }
}

/// One vocabulary entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// The piece, `▁` standing for a space.
    pub piece: String,
    /// Its log-probability (Unigram).
    pub score: f32,
    /// What kind of piece it is.
    pub kind: PieceType,
}

/// What this crate reads of a SentencePiece `ModelProto`.
#[derive(Clone, Debug, PartialEq)]
pub struct SentencePieceModel {
    /// The vocabulary, in id order.
    pub pieces: Vec<Piece>,
    /// `TrainerSpec.model_type`: 1 Unigram, 2 BPE, 3 word, 4 char.
    pub model_type: u64,
    /// `TrainerSpec.unk_id`.
    pub unk_id: usize,
    /// `TrainerSpec.byte_fallback`.
    pub byte_fallback: bool,
    /// `NormalizerSpec.precompiled_charsmap` (empty for the identity rule).
    pub precompiled_charsmap: Vec<u8>,
    /// `NormalizerSpec.add_dummy_prefix`: a space before the text.
    pub add_dummy_prefix: bool,
}

const UNIGRAM: u64 = 1;

impl SentencePieceModel {
    /// Reads `spm.model`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| file_error(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| file_error(path, e))
    }

    /// Parses a serialised `ModelProto`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut model = Self {
            pieces: Vec::new(),
            model_type: UNIGRAM,
            unk_id: 0,
            byte_fallback: false,
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
        };
        let mut reader = WireReader::new(bytes, 0);
        while let Some((field, value)) = reader.next_field()? {
            match (field, value) {
                (1, WireValue::Bytes(bytes, at)) => model.pieces.push(read_piece(bytes, at)?),
                (2, WireValue::Bytes(bytes, at)) => model.read_trainer_spec(bytes, at)?,
                (3, WireValue::Bytes(bytes, at)) => model.read_normalizer_spec(bytes, at)?,
                _ => {}
            }
        }
        if model.pieces.is_empty() {
            return Err("not a SentencePiece model: no pieces".into());
        }
        Ok(model)
    }

    fn read_trainer_spec(&mut self, bytes: &[u8], offset: usize) -> Result<(), String> {
        let mut reader = WireReader::new(bytes, offset);
        while let Some((field, value)) = reader.next_field()? {
            match (field, value) {
                (3, WireValue::Varint(kind)) => self.model_type = kind,
                (35, WireValue::Varint(flag)) => self.byte_fallback = flag != 0,
                (40, WireValue::Varint(id)) => self.unk_id = id as usize,
                _ => {}
            }
        }
        Ok(())
    }

    fn read_normalizer_spec(&mut self, bytes: &[u8], offset: usize) -> Result<(), String> {
        let mut reader = WireReader::new(bytes, offset);
        while let Some((field, value)) = reader.next_field()? {
            match (field, value) {
                (2, WireValue::Bytes(map, _)) => self.precompiled_charsmap = map.to_vec(),
                (3, WireValue::Varint(flag)) => self.add_dummy_prefix = flag != 0,
                _ => {}
            }
        }
        Ok(())
    }
}

fn read_piece(bytes: &[u8], offset: usize) -> Result<Piece, String> {
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    let mut reader = WireReader::new(bytes, offset);
    while let Some((field, value)) = reader.next_field()? {
        match (field, value) {
            (1, WireValue::Bytes(text, at)) => {
                piece.piece = String::from_utf8(text.to_vec())
                    .map_err(|_| format!("byte {at}: a piece is not UTF-8"))?;
            }
            (2, WireValue::Fixed32(bits)) => piece.score = f32::from_bits(bits),
            (3, WireValue::Varint(code)) => {
                piece.kind = PieceType::from_code(code)
                    .ok_or_else(|| format!("byte {offset}: unknown piece type {code}"))?;
            }
            _ => {}
        }
    }
    Ok(piece)
}

/// A field's value as the wire carries it; length-delimited values keep
/// their offset in the file for error messages.
enum WireValue<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8], usize),
    Fixed32(u32),
}

/// Reads protocol-buffer fields one after the other.
struct WireReader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// Offset of `bytes` in the file.
    base: usize,
}

impl<'a> WireReader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Self {
            bytes,
            position: 0,
            base,
        }
    }

    fn truncated(&self) -> String {
        format!(
            "byte {}: the file ends inside a field (truncated?)",
            self.base + self.position
        )
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.position)
                .ok_or_else(|| self.truncated())?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!(
            "byte {}: a number longer than 10 bytes",
            self.base + self.position
        ))
    }

    fn take(&mut self, len: usize) -> Result<(&'a [u8], usize), String> {
        let start = self.position;
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| self.truncated())?;
        self.position = end;
        Ok((&self.bytes[start..end], self.base + start))
    }

    /// The next field number and value, `None` at the end.
    fn next_field(&mut self) -> Result<Option<(u64, WireValue<'a>)>, String> {
        if self.position == self.bytes.len() {
            return Ok(None);
        }
        let at = self.base + self.position;
        let key = self.varint()?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                WireValue::Fixed64
            }
            2 => {
                let len = self.varint()? as usize;
                let (bytes, start) = self.take(len)?;
                WireValue::Bytes(bytes, start)
            }
            5 => {
                let (bytes, _) = self.take(4)?;
                WireValue::Fixed32(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
            }
            wire_type => {
                return Err(format!(
                    "byte {at}: wire type {wire_type} is not a protocol-buffer field \
                     (not a SentencePiece model?)"
                ));
            }
        };
        Ok(Some((key >> 3, value)))
    }
}

/// The `tokenizer_config.json` settings `DebertaV2Tokenizer` reads, with its defaults.
#[derive(Clone, Debug)]
pub(crate) struct SentencePieceSettings {
    do_lower_case: bool,
    split_by_punct: bool,
    /// `None`: the model's `add_dummy_prefix`.
    add_prefix_space: Option<bool>,
    /// bos, eos, unk, sep, pad, cls, mask, in transformers' order.
    special_tokens: [String; 7],
}

/// The special-token roles in the order transformers registers them.
const ROLES: [(&str, &str); 7] = [
    ("bos_token", "[CLS]"),
    ("eos_token", "[SEP]"),
    ("unk_token", "[UNK]"),
    ("sep_token", "[SEP]"),
    ("pad_token", "[PAD]"),
    ("cls_token", "[CLS]"),
    ("mask_token", "[MASK]"),
];

impl SentencePieceSettings {
    /// Reads the settings from `tokenizer_config.json` (`Value::Null` when there is none).
    pub(crate) fn from_config(config: &Value) -> Self {
        let flag = |name: &str| config.get(name).and_then(Value::as_bool);
        let token = |role: &str, default: &str| {
            match config.get(role) {
                Some(Value::String(text)) => Some(text.clone()),
                Some(Value::Object(added)) => added
                    .get("content")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            }
            .unwrap_or_else(|| default.to_string())
        };
        Self {
            do_lower_case: flag("do_lower_case").unwrap_or(false),
            split_by_punct: flag("split_by_punct").unwrap_or(false),
            add_prefix_space: flag("add_prefix_space"),
            special_tokens: ROLES.map(|(role, default)| token(role, default)),
        }
    }

    fn unk_token(&self) -> &str {
        &self.special_tokens[2]
    }
}

/// Builds the tokenizer `DebertaV2Tokenizer` builds from `model`.
pub(crate) fn build_tokenizer(
    model: &SentencePieceModel,
    settings: &SentencePieceSettings,
) -> Result<Tokenizer, String> {
    if model.model_type != UNIGRAM {
        return Err(format!(
            "model type {} is not Unigram (1): only Unigram SentencePiece models are read",
            model.model_type
        ));
    }
    let vocab: Vec<(String, f64)> = model
        .pieces
        .iter()
        .map(|piece| (piece.piece.clone(), f64::from(piece.score)))
        .collect();
    // transformers' rule: the unknown token's entry when it has score 0, else the trainer's id.
    let unk_id = vocab
        .iter()
        .position(|(piece, score)| piece == settings.unk_token() && *score == 0.0)
        .unwrap_or(model.unk_id);
    let unigram = Unigram::from(vocab, Some(unk_id), false).map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(unigram);
    tokenizer.with_normalizer(Some(normalizer(model, settings)?));
    let prepend = if settings.add_prefix_space.unwrap_or(model.add_dummy_prefix) {
        PrependScheme::Always
    } else {
        PrependScheme::First
    };
    let mut pre_tokenizers: Vec<PreTokenizerWrapper> = Vec::new();
    if settings.split_by_punct {
        pre_tokenizers.push(Punctuation::new(SplitDelimiterBehavior::Isolated).into());
    }
    pre_tokenizers.push(Metaspace::new('▁', prepend, true).into());
    tokenizer.with_pre_tokenizer(Some(PreTokenizerSequence::new(pre_tokenizers)));
    tokenizer.with_decoder(Some(MetaspaceDecoder::new('▁', prepend, true)));
    // Control pieces, then the roles' tokens (appended when the pieces lack them).
    let controls = model
        .pieces
        .iter()
        .filter(|piece| piece.kind == PieceType::Control)
        .map(|piece| piece.piece.clone());
    let specials: Vec<AddedToken> = controls
        .chain(settings.special_tokens.iter().cloned())
        .map(|token| AddedToken::from(token, true).normalized(false))
        .collect();
    tokenizer.add_special_tokens(&specials);
    let [_, _, _, sep, _, cls, _] = &settings.special_tokens;
    let id = |token: &str| {
        tokenizer
            .token_to_id(token)
            .ok_or_else(|| format!("no id for {token}"))
    };
    let template = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .and_then(|builder| builder.try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1")))
        .map_err(|e| e.to_string())?
        .special_tokens(vec![(cls.clone(), id(cls)?), (sep.clone(), id(sep)?)])
        .build()
        .map_err(|e| e.to_string())?;
    tokenizer.with_post_processor(Some(template));
    Ok(tokenizer)
}

/// transformers' normaliser: lower-casing if asked, then the precompiled map,
/// right strip and runs of spaces squeezed (or, without a map, whitespace
/// squeezed, NFC and right strip).
fn normalizer(
    model: &SentencePieceModel,
    settings: &SentencePieceSettings,
) -> Result<NormalizerWrapper, String> {
    let mut steps: Vec<NormalizerWrapper> = Vec::new();
    if settings.do_lower_case {
        steps.push(Lowercase.into());
    }
    let squeeze = |pattern: &str| {
        Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(pattern.into()),
            " ",
        )
        .map_err(|e| e.to_string())
    };
    if model.precompiled_charsmap.is_empty() {
        steps.push(squeeze(r"\s{2,}|[\n\r\t]")?.into());
        steps.push(NFC.into());
        steps.push(Strip::new(false, true).into());
    } else {
        let map = Precompiled::from(&model.precompiled_charsmap)
            .map_err(|e| format!("precompiled_charsmap: {e}"))?;
        steps.push(map.into());
        steps.push(Strip::new(false, true).into());
        steps.push(squeeze(" {2,}")?.into());
    }
    Ok(Sequence::new(steps).into())
}

fn file_error(path: &Path, error: impl ToString) -> TokenizerError {
    TokenizerError::File {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written ModelProto: two pieces, a trainer spec, a normaliser spec.
    fn model_bytes() -> Vec<u8> {
        let piece = |text: &str, score: f32, kind: u8| {
            let mut bytes = vec![0x0a, text.len() as u8];
            bytes.extend(text.as_bytes());
            bytes.push(0x15);
            bytes.extend(score.to_le_bytes());
            bytes.extend([0x18, kind]);
            bytes
        };
        let mut bytes = Vec::new();
        for (text, score, kind) in [("[UNK]", 0.0, 2), ("▁a", -1.5, 1)] {
            let body = piece(text, score, kind);
            bytes.extend([0x0a, body.len() as u8]);
            bytes.extend(body);
        }
        // trainer_spec: model_type 1, unk_id 0 (field 40: key 0xc0 0x02).
        bytes.extend([0x12, 0x05, 0x18, 0x01, 0xc0, 0x02, 0x00]);
        // normalizer_spec: add_dummy_prefix false.
        bytes.extend([0x1a, 0x02, 0x18, 0x00]);
        bytes
    }

    #[test]
    fn reads_pieces_trainer_and_normalizer_fields() {
        let model = SentencePieceModel::from_bytes(&model_bytes()).unwrap();
        assert_eq!(model.pieces.len(), 2);
        assert_eq!(model.pieces[1].piece, "▁a");
        assert_eq!(model.pieces[1].score, -1.5);
        assert_eq!(model.pieces[0].kind, PieceType::Unknown);
        assert_eq!((model.model_type, model.unk_id), (1, 0));
        assert!(!model.add_dummy_prefix);
        assert!(model.precompiled_charsmap.is_empty());
    }

    #[test]
    fn a_truncated_file_names_the_byte() {
        let bytes = model_bytes();
        let err = SentencePieceModel::from_bytes(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = SentencePieceModel::from_bytes(b"{\"model\": 1}").unwrap_err();
        assert!(err.contains("byte 0"), "{err}");
    }
}
