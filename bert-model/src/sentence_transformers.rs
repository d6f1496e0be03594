//! The files that make a Hugging Face model directory a sentence-transformers
//! model: `modules.json` (Transformer, Pooling, optional Normalize),
//! `sentence_bert_config.json` (`max_seq_length`), `1_Pooling/config.json`,
//! `2_Normalize/` and `config_sentence_transformers.json`. They are written
//! in the classic layout (`sentence_transformers.models.*`), which every
//! sentence-transformers version since 2 opens; both the classic pooling
//! keys (`pooling_mode_mean_tokens`, ...) and the newer `pooling_mode` are read.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::ConfigError;
use crate::files::write_atomically;
use crate::pooling::{Pooling, SentencePooling};

/// What the sentence-transformers files of a model directory say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentenceTransformerConfig {
    /// Pooling and normalisation.
    pub pooling: SentencePooling,
    /// The length inputs are truncated to (`sentence_bert_config.json`), if set.
    pub max_seq_length: Option<usize>,
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct ModuleEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The classic pooling flags, in sentence-transformers' order of concatenation.
const POOLING_FLAGS: [(&str, Option<Pooling>); 6] = [
    ("pooling_mode_cls_token", Some(Pooling::Cls)),
    ("pooling_mode_max_tokens", Some(Pooling::Max)),
    ("pooling_mode_mean_tokens", Some(Pooling::Mean)),
    ("pooling_mode_mean_sqrt_len_tokens", None),
    ("pooling_mode_weightedmean_tokens", None),
    ("pooling_mode_lasttoken", None),
];

fn read_json(path: &Path) -> Result<Option<Value>, ConfigError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ConfigError::parse(&shown, &e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io {
            path: shown,
            source,
        }),
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// The `max_seq_length` of a sentence-transformers model directory (the
/// length its embeddings were trained with), read from its
/// `sentence_bert_config.json`. `None` when the directory has no such file or
/// the file sets no length; an unreadable file or bad JSON is an error naming
/// the file.
pub fn sentence_max_seq_length(dir: impl AsRef<Path>) -> Result<Option<usize>, ConfigError> {
    #[derive(Deserialize)]
    struct SentenceBertConfig {
        max_seq_length: Option<usize>,
    }
    let path = dir.as_ref().join("sentence_bert_config.json");
    let Some(value) = read_json(&path)? else {
        return Ok(None);
    };
    let config: SentenceBertConfig = serde_json::from_value(value)
        .map_err(|e| invalid(&path, format!("max_seq_length: {e}")))?;
    Ok(config.max_seq_length)
}

impl SentenceTransformerConfig {
    /// Reads the sentence-transformers files of `dir`; `None` when it has no
    /// `modules.json` (a plain transformers directory). Modules other than
    /// the encoder, one pooling mode and `Normalize` (a `Dense` projection,
    /// several concatenated poolings) are errors naming the file, since the
    /// embeddings would not be the model's.
    pub fn read(dir: impl AsRef<Path>) -> Result<Option<Self>, ConfigError> {
        let dir = dir.as_ref();
        let modules_path = dir.join("modules.json");
        let Some(modules) = read_json(&modules_path)? else {
            return Ok(None);
        };
        let modules: Vec<ModuleEntry> = serde_json::from_value(modules)
            .map_err(|e| invalid(&modules_path, format!("expected a list of modules: {e}")))?;
        let mut pooling = None;
        let mut normalize = false;
        for module in &modules {
            let kind = module.kind.rsplit('.').next().unwrap_or_default();
            match kind {
                "Transformer" => {}
                "Pooling" => pooling = Some(read_pooling(&dir.join(&module.path))?),
                "Normalize" => normalize = true,
                other => {
                    return Err(invalid(
                        &modules_path,
                        format!(
                            "module {:?} ({other}) is not supported: bert-burn computes Transformer, Pooling and Normalize",
                            module.path
                        ),
                    ));
                }
            }
        }
        let pooling = pooling.ok_or_else(|| invalid(&modules_path, "no Pooling module"))?;
        Ok(Some(Self {
            pooling: SentencePooling { pooling, normalize },
            max_seq_length: sentence_max_seq_length(dir)?,
        }))
    }

    /// How the model in `dir` embeds: its files' pooling and normalisation
    /// (a plain transformers directory: mean pooling without normalisation,
    /// as sentence-transformers wraps one), `pooling` and `normalize`
    /// overriding them where given.
    pub fn pooling_of(
        dir: impl AsRef<Path>,
        pooling: Option<Pooling>,
        normalize: Option<bool>,
    ) -> Result<SentencePooling, ConfigError> {
        let model = Self::read(dir)?
            .map(|config| config.pooling)
            .unwrap_or_default();
        Ok(SentencePooling {
            pooling: pooling.unwrap_or(model.pooling),
            normalize: normalize.unwrap_or(model.normalize),
        })
    }

    /// Writes the sentence-transformers files into the model directory
    /// `dir` for embeddings of `dimension` values, each atomically.
    pub fn write(&self, dir: impl AsRef<Path>, dimension: usize) -> std::io::Result<()> {
        let dir = dir.as_ref();
        let write = |name: &str, value: Value| {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let text = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
            write_atomically(&path, text.as_bytes())
        };
        let module = |index: usize, path: &str, kind: &str| {
            json!({"idx": index, "name": index.to_string(), "path": path,
                   "type": format!("sentence_transformers.models.{kind}")})
        };
        let mut modules = vec![
            module(0, "", "Transformer"),
            module(1, "1_Pooling", "Pooling"),
        ];
        if self.pooling.normalize {
            modules.push(module(2, "2_Normalize", "Normalize"));
            write("2_Normalize/config.json", json!({}))?;
        }
        write("modules.json", Value::Array(modules))?;
        let mut pooling = serde_json::Map::new();
        pooling.insert("word_embedding_dimension".into(), dimension.into());
        for (flag, mode) in POOLING_FLAGS {
            pooling.insert(flag.into(), (mode == Some(self.pooling.pooling)).into());
        }
        pooling.insert("include_prompt".into(), true.into());
        write("1_Pooling/config.json", Value::Object(pooling))?;
        write(
            "sentence_bert_config.json",
            json!({"max_seq_length": self.max_seq_length, "do_lower_case": false}),
        )?;
        write(
            "config_sentence_transformers.json",
            json!({
                "__version__": {"bert_burn": env!("CARGO_PKG_VERSION")},
                "prompts": {},
                "default_prompt_name": null,
                "similarity_fn_name": "cosine",
            }),
        )
    }
}

/// The one pooling mode of the Pooling module in `folder`: the newer
/// `pooling_mode` name, or the classic flags (none set: mean).
fn read_pooling(folder: &Path) -> Result<Pooling, ConfigError> {
    let path = folder.join("config.json");
    let config = read_json(&path)?.ok_or_else(|| invalid(&path, "the file is missing"))?;
    let unsupported = |mode: &str| {
        invalid(
            &path,
            format!("pooling {mode} is not supported: bert-burn pools with mean, cls or max"),
        )
    };
    if let Some(mode) = config.get("pooling_mode") {
        let mode = match mode {
            Value::String(mode) => mode.clone(),
            Value::Array(modes) if modes.len() == 1 => modes[0].as_str().unwrap_or("").to_string(),
            other => return Err(unsupported(&other.to_string())),
        };
        return mode.parse().map_err(|_| unsupported(&mode));
    }
    let set: Vec<(&str, Option<Pooling>)> = POOLING_FLAGS
        .into_iter()
        .filter(|(flag, _)| config.get(*flag).and_then(Value::as_bool) == Some(true))
        .collect();
    match set.as_slice() {
        [] => Ok(Pooling::Mean),
        [(_, Some(mode))] => Ok(*mode),
        [(flag, None)] => Err(unsupported(flag)),
        several => {
            let flags: Vec<&str> = several.iter().map(|(flag, _)| *flag).collect();
            Err(unsupported(&flags.join(" + ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pooling: Pooling, normalize: bool) -> SentenceTransformerConfig {
        SentenceTransformerConfig {
            pooling: SentencePooling { pooling, normalize },
            max_seq_length: Some(128),
        }
    }

    #[test]
    fn written_files_read_back_for_every_mode() {
        for pooling in [Pooling::Mean, Pooling::Cls, Pooling::Max] {
            for normalize in [false, true] {
                let dir = tempfile::tempdir().unwrap();
                config(pooling, normalize).write(dir.path(), 384).unwrap();
                let read = SentenceTransformerConfig::read(dir.path()).unwrap();
                assert_eq!(read, Some(config(pooling, normalize)));
                assert_eq!(dir.path().join("2_Normalize").is_dir(), normalize);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        config(Pooling::Max, false).write(dir.path(), 16).unwrap();
        let pooling = std::fs::read_to_string(dir.path().join("1_Pooling/config.json")).unwrap();
        assert!(
            pooling.contains("\"pooling_mode_max_tokens\": true"),
            "{pooling}"
        );
        assert!(
            pooling.contains("\"word_embedding_dimension\": 16"),
            "{pooling}"
        );
    }

    #[test]
    fn reads_the_newer_layout_and_refuses_what_it_cannot_compute() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SentenceTransformerConfig::read(dir.path()).unwrap(), None);
        let modules = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"}]"#;
        std::fs::write(dir.path().join("modules.json"), modules).unwrap();
        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        let pooling = dir.path().join("1_Pooling/config.json");
        std::fs::write(
            &pooling,
            r#"{"embedding_dimension": 16, "pooling_mode": "cls"}"#,
        )
        .unwrap();
        let read = SentenceTransformerConfig::read(dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(read.pooling.pooling, Pooling::Cls);
        assert!(!read.pooling.normalize);
        assert_eq!(read.max_seq_length, None);

        std::fs::write(&pooling, r#"{"pooling_mode": "weightedmean"}"#).unwrap();
        let err = SentenceTransformerConfig::read(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1_Pooling/config.json") && err.contains("weightedmean"),
            "{err}"
        );
        std::fs::write(
            &pooling,
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
        )
        .unwrap();
        let err = SentenceTransformerConfig::read(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pooling_mode_cls_token + pooling_mode_mean_tokens"),
            "{err}"
        );

        let dense = r#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#;
        std::fs::write(dir.path().join("modules.json"), dense).unwrap();
        let err = SentenceTransformerConfig::read(dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("modules.json") && err.contains("(Dense) is not supported"),
            "{err}"
        );
    }

    #[test]
    fn max_seq_length_reads_the_file_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sentence_max_seq_length(dir.path()).unwrap(), None);
        let path = dir.path().join("sentence_bert_config.json");
        std::fs::write(&path, r#"{"max_seq_length": 256, "do_lower_case": false}"#).unwrap();
        assert_eq!(sentence_max_seq_length(dir.path()).unwrap(), Some(256));
        std::fs::write(&path, r#"{"do_lower_case": false}"#).unwrap();
        assert_eq!(sentence_max_seq_length(dir.path()).unwrap(), None);
        std::fs::write(&path, r#"{"max_seq_length": 256,"#).unwrap();
        let err = sentence_max_seq_length(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:1:", path.display())), "{err}");
    }
}
