//! [`BertConfig`]: the architecture hyper-parameters, read from a Hugging Face `config.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Activation used in the feed-forward block (`hidden_act` in `config.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HiddenAct {
    /// Exact GELU, `x * Φ(x)` with the error function (`"gelu"`).
    #[serde(rename = "gelu")]
    Gelu,
    /// The tanh approximation of GELU (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
    /// Rectified linear unit (`"relu"`).
    #[serde(rename = "relu")]
    Relu,
}

/// What a sequence classification head's outputs mean (`problem_type`,
/// which picks the loss in transformers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// One class per example: softmax and cross-entropy.
    SingleLabelClassification,
    /// Zero or more classes per example: a sigmoid per class, binary cross-entropy.
    MultiLabelClassification,
    /// One number per output: mean squared error.
    Regression,
}

/// BERT hyper-parameters, field for field as Hugging Face names them.
///
/// Unknown fields of `config.json` are ignored; missing ones take
/// `bert-base-uncased`'s values, as `transformers.BertConfig` does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    /// The model family (`"bert"`), which picks the model class in transformers.
    pub model_type: String,
    /// The transformers classes that open the checkpoint, e.g.
    /// `["BertForSequenceClassification"]`; set when a task model is saved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Size of the word-piece vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Number of attention heads; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Feed-forward activation.
    pub hidden_act: HiddenAct,
    /// Dropout after embeddings, attention output and feed-forward output.
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Number of segment (token type) ids.
    pub type_vocab_size: usize,
    /// Standard deviation of the truncated-normal weight initialisation.
    pub initializer_range: f64,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Id of the padding token.
    pub pad_token_id: usize,
    /// Dropout before a classification head; `None` means `hidden_dropout_prob`.
    pub classifier_dropout: Option<f64>,
    /// Label names by class index, for classification checkpoints.
    #[serde(with = "label_map", skip_serializing_if = "BTreeMap::is_empty")]
    pub id2label: BTreeMap<usize, String>,
    /// Class index by label name, the inverse of `id2label`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub label2id: BTreeMap<String, usize>,
    /// What a sequence classification head predicts, when the config says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<ProblemType>,
}

impl Default for BertConfig {
    fn default() -> Self {
        Self {
            model_type: Self::MODEL_TYPE.to_string(),
            architectures: Vec::new(),
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            classifier_dropout: None,
            id2label: BTreeMap::new(),
            label2id: BTreeMap::new(),
            problem_type: None,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid JSON or a field has the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Line of the error, 1-based.
        line: usize,
        /// Column of the error, 1-based.
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// A value that no BERT can have.
    #[error("{path}: invalid config: {message}")]
    Invalid {
        /// The file, or `<config>` for one built in code.
        path: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl ConfigError {
    /// A JSON error in the file `origin`, with its line and column.
    pub(crate) fn parse(origin: &str, error: &serde_json::Error) -> Self {
        Self::Parse {
            path: origin.to_string(),
            line: error.line(),
            column: error.column(),
            message: error.to_string(),
        }
    }
}

impl BertConfig {
    /// The `model_type` this crate reads and writes.
    pub const MODEL_TYPE: &'static str = "bert";

    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&text, &shown)
    }

    /// Parses and validates `config.json` text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| ConfigError::parse(origin, &e))?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        })?;
        Ok(config)
    }

    /// Checks the values that would otherwise fail deep inside a forward pass.
    pub fn validate(&self) -> Result<(), String> {
        if self.model_type != Self::MODEL_TYPE {
            return Err(format!(
                "model_type {:?} is not supported (supported: {:?})",
                self.model_type,
                Self::MODEL_TYPE
            ));
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(format!("{name} must be at least 1, got 0"));
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size ({}) must be a multiple of num_attention_heads ({})",
                self.hidden_size, self.num_attention_heads
            ));
        }
        let probabilities = [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            (
                "attention_probs_dropout_prob",
                Some(self.attention_probs_dropout_prob),
            ),
            ("classifier_dropout", self.classifier_dropout),
        ];
        for (name, value) in probabilities {
            if let Some(p) = value.filter(|p| !(0.0..1.0).contains(p)) {
                return Err(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return Err(format!(
                "layer_norm_eps must be positive, got {}",
                self.layer_norm_eps
            ));
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(format!(
                "pad_token_id ({}) must be below vocab_size ({})",
                self.pad_token_id, self.vocab_size
            ));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Dropout applied before a classification head.
    pub fn classifier_dropout_prob(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }

    /// Label names in class order, if the config carries them (`id2label`).
    pub fn labels(&self) -> Vec<String> {
        self.id2label.values().cloned().collect()
    }

    /// Sets `id2label` and `label2id` from label names in class order.
    pub fn with_labels(mut self, labels: &[String]) -> Self {
        self.id2label = labels.iter().cloned().enumerate().collect();
        self.label2id = labels
            .iter()
            .cloned()
            .enumerate()
            .map(|(id, name)| (name, id))
            .collect();
        self
    }

    /// Sets `problem_type`.
    pub fn with_problem_type(mut self, problem_type: ProblemType) -> Self {
        self.problem_type = Some(problem_type);
        self
    }

    /// Sets `architectures` to the one transformers class that opens the checkpoint.
    pub fn with_architecture(mut self, architecture: &str) -> Self {
        self.architectures = vec![architecture.to_string()];
        self
    }

    /// Writes the config as `config.json` that Hugging Face can read back
    /// (atomically: a crash leaves the old file or the new one).
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        crate::files::write_atomically(path.as_ref(), json.as_bytes())
    }
}

/// `id2label` has string keys in JSON ("0", "1", ...).
mod label_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<usize, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let keyed: BTreeMap<String, &String> = map
            .iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect();
        keyed.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<usize, String>, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer)?
            .into_iter()
            .map(|(id, name)| {
                id.parse()
                    .map(|id| (id, name))
                    .map_err(|_| D::Error::custom(format!("id2label key {id:?} is not an integer")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hugging_face_config_and_ignores_unknown_fields() {
        let json = r#"{
            "architectures": ["BertModel"], "model_type": "bert",
            "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
            "intermediate_size": 1536, "hidden_act": "gelu", "vocab_size": 30522,
            "id2label": {"0": "neg", "1": "pos"}, "label2id": {"neg": 0, "pos": 1}
        }"#;
        let config = BertConfig::from_json(json, "config.json").unwrap();
        assert_eq!(config.hidden_size, 384);
        assert_eq!(config.head_size(), 32);
        assert_eq!(config.hidden_act, HiddenAct::Gelu);
        assert_eq!(config.labels(), ["neg", "pos"]);
        assert_eq!(config.layer_norm_eps, 1e-12);
        assert_eq!(config.architectures, ["BertModel"]);
    }

    #[test]
    fn accepts_every_gelu_spelling() {
        for (name, act) in [
            ("gelu", HiddenAct::Gelu),
            ("gelu_new", HiddenAct::GeluTanh),
            ("gelu_pytorch_tanh", HiddenAct::GeluTanh),
            ("relu", HiddenAct::Relu),
        ] {
            let json = format!(r#"{{"hidden_act": "{name}"}}"#);
            assert_eq!(BertConfig::from_json(&json, "c").unwrap().hidden_act, act);
        }
    }

    #[test]
    fn rejects_heads_that_do_not_divide_hidden_size() {
        let err = BertConfig::from_json(
            r#"{"hidden_size": 100, "num_attention_heads": 12}"#,
            "c.json",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("c.json"), "{err}");
        assert!(
            err.contains("multiple of num_attention_heads (12)"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_values_with_their_name() {
        for (json, expected) in [
            (
                r#"{"num_hidden_layers": 0}"#,
                "num_hidden_layers must be at least 1",
            ),
            (
                r#"{"hidden_dropout_prob": 1.5}"#,
                "hidden_dropout_prob must be in [0, 1)",
            ),
            (
                r#"{"layer_norm_eps": 0.0}"#,
                "layer_norm_eps must be positive",
            ),
            (r#"{"pad_token_id": 40000}"#, "pad_token_id (40000)"),
            (r#"{"hidden_act": "swishy"}"#, "unknown variant `swishy`"),
            (
                r#"{"model_type": "roberta"}"#,
                "model_type \"roberta\" is not supported",
            ),
        ] {
            let err = BertConfig::from_json(json, "c.json")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn parse_errors_give_line_and_column() {
        let err = BertConfig::from_json("{\n  \"hidden_size\": \"wide\"\n}", "c.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.json:2:"), "{err}");
    }

    #[test]
    fn labels_round_trip_through_json() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let config = BertConfig::default().with_labels(&labels);
        let json = serde_json::to_string(&config).unwrap();
        let back = BertConfig::from_json(&json, "c").unwrap();
        assert_eq!(back, config);
    }
}
