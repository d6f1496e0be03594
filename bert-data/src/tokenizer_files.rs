//! [`BertTokenizer::save_pretrained`]: the tokenizer files transformers'
//! `AutoTokenizer` opens: `tokenizer.json`, `tokenizer_config.json`,
//! `special_tokens_map.json`, and `vocab.txt` for a WordPiece vocabulary.

use std::path::Path;

use bert_model::files::write_atomically;
use serde_json::{Map, Value, json};
use tokenizers::{Model, ModelWrapper, NormalizerWrapper};

use crate::tokenizer::{BertTokenizer, SpecialToken, TokenizerError};

/// Special tokens by their transformers role.
const SPECIAL_TOKENS: [(&str, SpecialToken); 5] = [
    ("unk_token", SpecialToken::Unk),
    ("sep_token", SpecialToken::Sep),
    ("pad_token", SpecialToken::Pad),
    ("cls_token", SpecialToken::Cls),
    ("mask_token", SpecialToken::Mask),
];

impl BertTokenizer {
    /// Writes the tokenizer files into `dir`, each atomically; `tokenizer.json`
    /// without truncation, `model_max_length` set to this tokenizer's `max_len`,
    /// `tokenizer_class` (e.g. `BertTokenizer`) as given.
    pub fn save_pretrained(
        &self,
        dir: impl AsRef<Path>,
        tokenizer_class: &str,
    ) -> Result<(), TokenizerError> {
        let dir = dir.as_ref();
        let mut plain = self.inner().clone();
        plain
            .with_truncation(None)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let tokenizer_json = plain
            .to_string(true)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        write(dir, "tokenizer.json", tokenizer_json.as_bytes())?;
        if let Some(vocab) = self.vocab_txt() {
            write(dir, "vocab.txt", vocab.as_bytes())?;
        }
        let special_tokens = self.special_tokens();
        write_json(
            dir,
            "special_tokens_map.json",
            &Value::Object(special_tokens.clone()),
        )?;
        let config = self.tokenizer_config(tokenizer_class, special_tokens);
        write_json(dir, "tokenizer_config.json", &config)
    }

    /// `vocab.txt`: one token per line in id order, for a WordPiece model.
    fn vocab_txt(&self) -> Option<String> {
        let ModelWrapper::WordPiece(word_piece) = self.inner().get_model() else {
            return None;
        };
        let mut tokens: Vec<(String, u32)> = word_piece.get_vocab().into_iter().collect();
        tokens.sort_by_key(|(_, id)| *id);
        Some(
            tokens
                .iter()
                .map(|(token, _)| format!("{token}\n"))
                .collect(),
        )
    }

    /// The special tokens the vocabulary has, by role.
    fn special_tokens(&self) -> Map<String, Value> {
        SPECIAL_TOKENS
            .iter()
            .filter_map(|(role, token)| {
                Some((role.to_string(), json!(self.special_token(*token)?)))
            })
            .collect()
    }

    /// `tokenizer_config.json`: the class, the normaliser's settings, the
    /// maximum length and the special tokens.
    fn tokenizer_config(&self, class: &str, special_tokens: Map<String, Value>) -> Value {
        let mut config = Map::new();
        config.insert("tokenizer_class".into(), json!(class));
        if let Some(NormalizerWrapper::BertNormalizer(normalizer)) = self.inner().get_normalizer() {
            config.insert("do_lower_case".into(), json!(normalizer.lowercase));
            config.insert("strip_accents".into(), json!(normalizer.strip_accents));
            config.insert(
                "tokenize_chinese_chars".into(),
                json!(normalizer.handle_chinese_chars),
            );
        }
        config.insert("model_max_length".into(), json!(self.max_len()));
        config.insert("clean_up_tokenization_spaces".into(), json!(true));
        config.extend(special_tokens);
        Value::Object(config)
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TokenizerError> {
    let path = dir.join(name);
    write_atomically(&path, bytes).map_err(|e| TokenizerError::File {
        path: path.display().to_string(),
        message: format!("cannot write: {e}"),
    })
}

fn write_json(dir: &Path, name: &str, value: &Value) -> Result<(), TokenizerError> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    write(dir, name, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use crate::tokenizer::tests::tiny_tokenizer;

    use super::*;

    fn read_json(dir: &Path, name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    }

    #[test]
    fn writes_the_files_transformers_reads() {
        let dir = tempfile::tempdir().unwrap();
        let tokenizer = tiny_tokenizer(12);
        tokenizer
            .save_pretrained(dir.path(), "BertTokenizer")
            .unwrap();

        let vocab = std::fs::read_to_string(dir.path().join("vocab.txt")).unwrap();
        assert_eq!(
            vocab.lines().take(6).collect::<Vec<_>>(),
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the"]
        );
        assert_eq!(vocab.lines().count(), tokenizer.vocab_size());

        let config = read_json(dir.path(), "tokenizer_config.json");
        assert_eq!(config["tokenizer_class"], "BertTokenizer");
        assert_eq!(config["model_max_length"], 12);
        assert_eq!(config["do_lower_case"], true);
        assert_eq!(config["cls_token"], "[CLS]");
        let special = read_json(dir.path(), "special_tokens_map.json");
        assert_eq!(special["mask_token"], "[MASK]");
        assert_eq!(special["pad_token"], "[PAD]");

        let reloaded = BertTokenizer::from_dir(dir.path()).unwrap();
        let text = "The cats sat on the mat.";
        assert_eq!(
            reloaded.encode(text).unwrap(),
            tokenizer.with_max_len(512).unwrap().encode(text).unwrap()
        );
        let from_vocab = BertTokenizer::from_vocab(dir.path().join("vocab.txt"), None).unwrap();
        assert_eq!(
            from_vocab.encode(text).unwrap(),
            reloaded.encode(text).unwrap()
        );
    }
}
