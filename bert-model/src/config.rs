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
    /// Hyperbolic tangent (`"tanh"`: DeBERTa's `pooler_hidden_act` may be it).
    #[serde(rename = "tanh")]
    Tanh,
}

/// The encoder family a checkpoint belongs to (`model_type` in `config.json`):
/// the same encoder, with the differences each family's `modeling_*.py` has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelFamily {
    /// BERT: token types, a pooler.
    #[default]
    #[serde(rename = "bert")]
    Bert,
    /// RoBERTa: positions counted after the padding index, one token type, no pooler.
    #[serde(rename = "roberta")]
    Roberta,
    /// XLM-RoBERTa: RoBERTa's encoder with a SentencePiece vocabulary.
    #[serde(rename = "xlm-roberta")]
    XlmRoberta,
    /// DistilBERT: no token types, its own weight names.
    #[serde(rename = "distilbert")]
    DistilBert,
    /// ELECTRA: embeddings of `embedding_size`, projected to `hidden_size`.
    #[serde(rename = "electra")]
    Electra,
    /// MPNet: RoBERTa's embeddings without token types, BERT's layers under
    /// its own names, and a relative position bias shared by every layer.
    #[serde(rename = "mpnet")]
    MpNet,
    /// ModernBERT: its own encoder (rotary positions, GeGLU, pre-norm layers,
    /// sliding-window attention), see [`ModernBertSettings`].
    #[serde(rename = "modernbert")]
    ModernBert,
    /// DeBERTa-v2 and v3: its own encoder (disentangled attention over
    /// relative positions), see [`DebertaSettings`].
    #[serde(rename = "deberta-v2")]
    DebertaV2,
}

impl ModelFamily {
    /// The prefix of the encoder's weights in task checkpoints (`bert`, `roberta`, ...).
    pub fn weight_prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::Roberta | Self::XlmRoberta => "roberta",
            Self::DistilBert => "distilbert",
            Self::Electra => "electra",
            Self::MpNet => "mpnet",
            Self::ModernBert => "model",
            Self::DebertaV2 => "deberta",
        }
    }

    /// The start of the family's transformers class names (`Bert`, `Roberta`, ...).
    pub fn class_prefix(self) -> &'static str {
        match self {
            Self::Bert => "Bert",
            Self::Roberta => "Roberta",
            Self::XlmRoberta => "XLMRoberta",
            Self::DistilBert => "DistilBert",
            Self::Electra => "Electra",
            Self::MpNet => "MPNet",
            Self::ModernBert => "ModernBert",
            Self::DebertaV2 => "DebertaV2",
        }
    }

    /// The transformers tokenizer class of the family (`tokenizer_class`);
    /// ModernBERT's checkpoints name the generic fast tokenizer.
    pub fn tokenizer_class(self) -> String {
        match self {
            Self::ModernBert => "PreTrainedTokenizerFast".into(),
            _ => format!("{}Tokenizer", self.class_prefix()),
        }
    }

    /// Whether the encoder has BERT's pooler (dense + tanh on the first token).
    pub fn has_pooler(self) -> bool {
        self == Self::Bert
    }

    /// The padding index transformers derives position ids from (positions
    /// count from it + 1 over real tokens, padding takes it): RoBERTa's and
    /// XLM-R's `pad_token_id`; MPNet's is 1 whatever the config says
    /// (`MPNetEmbeddings.padding_idx = 1`). `None`: positions are `0..S`.
    pub fn position_padding_index(self, pad_token_id: usize) -> Option<usize> {
        match self {
            Self::Roberta | Self::XlmRoberta => Some(pad_token_id),
            Self::MpNet => Some(1),
            _ => None,
        }
    }

    /// Whether the family has no segment embeddings at all (`type_vocab_size` 0).
    pub fn has_no_token_types(self) -> bool {
        matches!(self, Self::DistilBert | Self::MpNet | Self::ModernBert)
    }

    /// Whether `type_vocab_size` 0 (no segment embeddings) is a valid
    /// setting of the family: DeBERTa-v3 has none, DeBERTa-v2 may have some.
    pub fn token_types_optional(self) -> bool {
        self.has_no_token_types() || self == Self::DebertaV2
    }
}

/// Whether a ModernBERT classifier reads the first token or the mean of the
/// real tokens (`classifier_pooling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierPooling {
    /// The first token's hidden state (`"cls"`).
    #[default]
    Cls,
    /// The mean over the tokens the attention mask keeps (`"mean"`).
    Mean,
}

/// The `config.json` fields only ModernBERT has, with `ModernBertConfig`'s
/// defaults. Both spellings of the rotary bases are read: the hub's
/// `global_rope_theta` / `local_rope_theta` and transformers 5's
/// `rope_parameters`; the layer pattern from `layer_types` or
/// `global_attn_every_n_layers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModernBertSettings {
    /// Rotary base of the global-attention layers.
    pub global_rope_theta: f64,
    /// Rotary base of the sliding-window layers.
    pub local_rope_theta: f64,
    /// Total width of the sliding window: a token sees keys at most half of
    /// it away.
    pub local_attention: usize,
    /// Every layer whose index is a multiple of this attends globally.
    pub global_attn_every_n_layers: usize,
    /// `"full_attention"` or `"sliding_attention"` per layer (transformers 5).
    pub layer_types: Option<Vec<String>>,
    /// Rotary parameters per layer type (transformers 5).
    pub rope_parameters: Option<BTreeMap<String, RopeParameters>>,
    /// Whether the LayerNorms have a bias.
    pub norm_bias: bool,
    /// Whether `Wqkv` and the attention's `Wo` have biases.
    pub attention_bias: bool,
    /// Whether the MLP's `Wi` and `Wo` have biases.
    pub mlp_bias: bool,
    /// Dropout on the normalised embeddings.
    pub embedding_dropout: f64,
    /// Dropout inside the GeGLU block, before `Wo`.
    pub mlp_dropout: f64,
    /// How the sequence classifier pools the tokens.
    pub classifier_pooling: ClassifierPooling,
    /// Whether the heads' `head.dense` has a bias.
    pub classifier_bias: bool,
    /// Activation of the heads' `head` (`classifier_activation`).
    pub classifier_activation: HiddenAct,
    /// Whether the masked-LM decoder has a bias.
    pub decoder_bias: bool,
}

/// One entry of transformers 5's `rope_parameters`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RopeParameters {
    /// The rotary base.
    pub rope_theta: f64,
}

impl Default for ModernBertSettings {
    fn default() -> Self {
        Self {
            global_rope_theta: 160_000.0,
            local_rope_theta: 10_000.0,
            local_attention: 128,
            global_attn_every_n_layers: 3,
            layer_types: None,
            rope_parameters: None,
            norm_bias: false,
            attention_bias: false,
            mlp_bias: false,
            embedding_dropout: 0.0,
            mlp_dropout: 0.0,
            classifier_pooling: ClassifierPooling::Cls,
            classifier_bias: false,
            classifier_activation: HiddenAct::Gelu,
            decoder_bias: true,
        }
    }
}

impl ModernBertSettings {
    /// Checks the values a ModernBERT cannot have.
    fn validate(&self) -> Result<(), String> {
        if self.global_attn_every_n_layers == 0 {
            return Err("global_attn_every_n_layers must be at least 1, got 0".into());
        }
        for (name, p) in [
            ("embedding_dropout", self.embedding_dropout),
            ("mlp_dropout", self.mlp_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// Whether layer `index` attends to every token (else to its window).
    pub fn is_global_layer(&self, index: usize) -> bool {
        match &self.layer_types {
            Some(types) => types
                .get(index)
                .is_none_or(|kind| kind != "sliding_attention"),
            None => index.is_multiple_of(self.global_attn_every_n_layers),
        }
    }

    /// The rotary base of a global (`true`) or a sliding-window layer.
    pub fn rope_theta(&self, global: bool) -> f64 {
        let (kind, fallback) = if global {
            ("full_attention", self.global_rope_theta)
        } else {
            ("sliding_attention", self.local_rope_theta)
        };
        self.rope_parameters
            .as_ref()
            .and_then(|parameters| parameters.get(kind))
            .map_or(fallback, |parameters| parameters.rope_theta)
    }
}

/// The `config.json` fields only DeBERTa-v2/v3 has, with `DebertaV2Config`'s
/// defaults (the fields it reads with `getattr` included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DebertaSettings {
    /// Whether attention adds the disentangled relative-position terms.
    pub relative_attention: bool,
    /// The relative distance the position embeddings span; below 1 means
    /// `max_position_embeddings`.
    pub max_relative_positions: i64,
    /// Number of log buckets of relative distances (v3: 256); below 1: none.
    pub position_buckets: i64,
    /// Whether absolute position embeddings are added to the word embeddings (v2).
    pub position_biased_input: bool,
    /// The relative terms: `c2p` (content to position), `p2c`, either spelling
    /// (`["p2c", "c2p"]` or `"p2c|c2p"`).
    #[serde(deserialize_with = "pos_att_types")]
    pub pos_att_type: Vec<String>,
    /// Whether the relative terms reuse the content projections (v3) rather
    /// than `pos_key_proj` / `pos_query_proj`.
    pub share_att_key: bool,
    /// `"layer_norm"` to normalise the relative embeddings, else `"none"`.
    pub norm_rel_ebd: String,
    /// Kernel of the ConvLayer after the first layer (0: none).
    pub conv_kernel_size: usize,
    /// Dropout before the classifiers' pooler (`ContextPooler`).
    pub pooler_dropout: f64,
    /// Activation of the pooler.
    pub pooler_hidden_act: HiddenAct,
    /// Dropout before the sequence classifier; `None` means `hidden_dropout_prob`.
    pub cls_dropout: Option<f64>,
    /// Whether the masked-LM head has the legacy names (`cls.predictions`)
    /// rather than `lm_predictions.lm_head`.
    pub legacy: bool,
}

impl Default for DebertaSettings {
    fn default() -> Self {
        Self {
            relative_attention: false,
            max_relative_positions: -1,
            position_buckets: -1,
            position_biased_input: true,
            pos_att_type: Vec::new(),
            share_att_key: false,
            norm_rel_ebd: "none".into(),
            conv_kernel_size: 0,
            pooler_dropout: 0.0,
            pooler_hidden_act: HiddenAct::Gelu,
            cls_dropout: None,
            legacy: true,
        }
    }
}

/// `pos_att_type` as a list, from a list or a `|`-separated string (or null).
fn pos_att_types<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Spelling {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Option::<Spelling>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Spelling::List(types)) => types,
        Some(Spelling::Joined(types)) => types.split('|').map(str::to_string).collect(),
    }
    .into_iter()
    .map(|kind| kind.trim().to_lowercase())
    .collect())
}

impl DebertaSettings {
    /// Checks what this crate does not compute or no DeBERTa can have.
    fn validate(&self) -> Result<(), String> {
        if self.conv_kernel_size > 0 {
            return Err(format!(
                "conv_kernel_size {} asks for DeBERTa-v2's ConvLayer, which is not \
                 implemented (DeBERTa-v3 checkpoints do not use it)",
                self.conv_kernel_size
            ));
        }
        if let Some(kind) = self
            .pos_att_type
            .iter()
            .find(|kind| !matches!(kind.as_str(), "c2p" | "p2c"))
        {
            return Err(format!(
                "pos_att_type {kind:?} is not a relative attention term: expected c2p, p2c or both"
            ));
        }
        for (name, p) in [
            ("pooler_dropout", Some(self.pooler_dropout)),
            ("cls_dropout", self.cls_dropout),
        ] {
            if let Some(p) = p.filter(|p| !(0.0..1.0).contains(p)) {
                return Err(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        Ok(())
    }

    /// Whether the attention has the content-to-position term.
    pub fn c2p(&self) -> bool {
        self.pos_att_type.iter().any(|kind| kind == "c2p")
    }

    /// Whether the attention has the position-to-content term.
    pub fn p2c(&self) -> bool {
        self.pos_att_type.iter().any(|kind| kind == "p2c")
    }

    /// Whether the relative embeddings are normalised (`norm_rel_ebd` holds `layer_norm`).
    pub fn normalises_relative_embeddings(&self) -> bool {
        self.norm_rel_ebd
            .to_lowercase()
            .split('|')
            .any(|kind| kind.trim() == "layer_norm")
    }

    /// The relative distance covered: `max_relative_positions`, or
    /// `max_position_embeddings` when it is below 1.
    pub fn max_relative_positions(&self, max_position_embeddings: usize) -> usize {
        usize::try_from(self.max_relative_positions)
            .ok()
            .filter(|&positions| positions >= 1)
            .unwrap_or(max_position_embeddings)
    }

    /// Half the number of relative embeddings (`att_span`): the buckets when
    /// there are any, else the relative distance covered.
    pub fn attention_span(&self, max_position_embeddings: usize) -> usize {
        usize::try_from(self.position_buckets)
            .ok()
            .filter(|&buckets| buckets >= 1)
            .unwrap_or_else(|| self.max_relative_positions(max_position_embeddings))
    }
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
    /// The encoder family (`model_type`: `bert`, `roberta`, `xlm-roberta`,
    /// `distilbert`, `electra`, `mpnet`, `modernbert`).
    pub model_type: ModelFamily,
    /// The transformers classes that open the checkpoint, e.g.
    /// `["BertForSequenceClassification"]`; set when a task model is saved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Size of the word-piece vocabulary.
    pub vocab_size: usize,
    /// Width of every hidden state (DistilBERT: `dim`).
    #[serde(alias = "dim")]
    pub hidden_size: usize,
    /// Width of the embeddings when it differs from `hidden_size` (ELECTRA),
    /// projected to `hidden_size` by `embeddings_project`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_size: Option<usize>,
    /// Number of encoder layers (DistilBERT: `n_layers`).
    #[serde(alias = "n_layers")]
    pub num_hidden_layers: usize,
    /// Number of attention heads; must divide `hidden_size` (DistilBERT: `n_heads`).
    #[serde(alias = "n_heads")]
    pub num_attention_heads: usize,
    /// Width of the feed-forward block (DistilBERT: `hidden_dim`).
    #[serde(alias = "hidden_dim")]
    pub intermediate_size: usize,
    /// Feed-forward activation (DistilBERT: `activation`, ModernBERT:
    /// `hidden_activation`).
    #[serde(alias = "activation", alias = "hidden_activation")]
    pub hidden_act: HiddenAct,
    /// Dropout after embeddings, attention output and feed-forward output
    /// (DistilBERT: `dropout`).
    #[serde(alias = "dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities (DistilBERT: `attention_dropout`).
    #[serde(alias = "attention_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Number of segment (token type) ids; 0 for a family without them (DistilBERT).
    pub type_vocab_size: usize,
    /// Standard deviation of the truncated-normal weight initialisation.
    pub initializer_range: f64,
    /// LayerNorm epsilon (ModernBERT: `norm_eps`).
    #[serde(alias = "norm_eps")]
    pub layer_norm_eps: f64,
    /// Id of the padding token.
    pub pad_token_id: usize,
    /// Buckets of MPNet's relative position bias (T5-style, added to every
    /// layer's attention scores); `None` for the families without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_attention_num_buckets: Option<usize>,
    /// ModernBERT's own fields, read from the same `config.json`; `None` for
    /// the other families.
    #[serde(skip)]
    pub modernbert: Option<ModernBertSettings>,
    /// DeBERTa-v2's own fields, read from the same `config.json`; `None` for
    /// the other families.
    #[serde(skip)]
    pub deberta: Option<DebertaSettings>,
    /// Dropout before a classification head; `None` means `hidden_dropout_prob`
    /// (DistilBERT: `seq_classif_dropout`).
    #[serde(alias = "seq_classif_dropout")]
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
    /// The `config.json` this config was read from, written back with the
    /// fields this crate sets (labels, `problem_type`, `architectures`), so
    /// that every family keeps its own field names and unknown fields survive.
    #[serde(skip)]
    pub source: serde_json::Map<String, serde_json::Value>,
}

impl Default for BertConfig {
    fn default() -> Self {
        Self {
            model_type: ModelFamily::Bert,
            architectures: Vec::new(),
            vocab_size: 30522,
            hidden_size: 768,
            embedding_size: None,
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
            relative_attention_num_buckets: None,
            modernbert: None,
            deberta: None,
            classifier_dropout: None,
            id2label: BTreeMap::new(),
            label2id: BTreeMap::new(),
            problem_type: None,
            source: serde_json::Map::new(),
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
        let source: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| ConfigError::parse(origin, &e))?;
        let mut config: Self =
            serde_json::from_str(text).map_err(|e| ConfigError::parse(origin, &e))?;
        if config.model_type.has_no_token_types() {
            config.type_vocab_size = 0;
        }
        if config.model_type == ModelFamily::MpNet {
            config.relative_attention_num_buckets.get_or_insert(32);
        }
        if config.model_type == ModelFamily::DistilBert {
            // transformers' DistilBERT: every LayerNorm has eps 1e-12, whatever the config says.
            config.layer_norm_eps = 1e-12;
        }
        if config.model_type == ModelFamily::ModernBert {
            let settings: ModernBertSettings =
                serde_json::from_str(text).map_err(|e| ConfigError::parse(origin, &e))?;
            // ModernBertConfig's default; `hidden_dropout_prob` is no field of it.
            config.classifier_dropout.get_or_insert(0.0);
            config.modernbert = Some(settings);
        }
        if config.model_type == ModelFamily::DebertaV2 {
            let settings: DebertaSettings =
                serde_json::from_str(text).map_err(|e| ConfigError::parse(origin, &e))?;
            // DebertaV2Config's defaults where they differ from BERT's.
            if !source.contains_key("type_vocab_size") {
                config.type_vocab_size = 0;
            }
            if !source.contains_key("layer_norm_eps") {
                config.layer_norm_eps = 1e-7;
            }
            config.deberta = Some(settings);
        }
        config.source = source;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: origin.to_string(),
            message,
        })?;
        Ok(config)
    }

    /// Checks the values that would otherwise fail deep inside a forward pass.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("embedding_size", self.embedding_width()),
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
        if self.type_vocab_size == 0 && !self.model_type.token_types_optional() {
            return Err("type_vocab_size must be at least 1, got 0".into());
        }
        if let Some(settings) = &self.modernbert {
            settings.validate()?;
        }
        if let Some(settings) = &self.deberta {
            settings.validate()?;
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(format!(
                "pad_token_id ({}) must be below vocab_size ({})",
                self.pad_token_id, self.vocab_size
            ));
        }
        Ok(())
    }

    /// Width of the embeddings: `embedding_size`, else `hidden_size`.
    pub fn embedding_width(&self) -> usize {
        self.embedding_size.unwrap_or(self.hidden_size)
    }

    /// The longest input the positions allow: RoBERTa's start after the padding index.
    pub fn max_input_len(&self) -> usize {
        match self.model_type.position_padding_index(self.pad_token_id) {
            Some(padding) => self.max_position_embeddings.saturating_sub(padding + 1),
            None => self.max_position_embeddings,
        }
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

    /// The `config.json` that transformers reads back: the file it was read
    /// from with the labels, `problem_type` and `architectures` set here, or
    /// all fields for a config made in code.
    pub fn to_json(&self) -> serde_json::Value {
        let ours = serde_json::to_value(self).expect("a config serialises");
        if self.source.is_empty() {
            return ours;
        }
        let mut json = self.source.clone();
        for key in ["architectures", "id2label", "label2id", "problem_type"] {
            match ours.get(key) {
                Some(value) => json.insert(key.to_string(), value.clone()),
                None => json.remove(key),
            };
        }
        serde_json::Value::Object(json)
    }

    /// Writes [`Self::to_json`] as `config.json` (atomically: a crash leaves
    /// the old file or the new one).
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
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
            (r#"{"model_type": "gpt2"}"#, "unknown variant `gpt2`"),
            (
                r#"{"model_type": "modernbert", "global_attn_every_n_layers": 0}"#,
                "global_attn_every_n_layers must be at least 1",
            ),
            (
                r#"{"model_type": "modernbert", "mlp_dropout": 1.0}"#,
                "mlp_dropout must be in [0, 1)",
            ),
        ] {
            let err = BertConfig::from_json(json, "c.json")
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn an_unknown_model_type_names_the_eight_supported_ones() {
        let err = BertConfig::from_json(r#"{"model_type": "gpt2"}"#, "c.json")
            .unwrap_err()
            .to_string();
        for family in [
            "bert",
            "roberta",
            "xlm-roberta",
            "distilbert",
            "electra",
            "mpnet",
            "modernbert",
            "deberta-v2",
        ] {
            assert!(err.contains(&format!("`{family}`")), "{family}: {err}");
        }
    }

    /// answerdotai/ModernBERT-base's config.json (the fields that matter).
    const MODERNBERT_HUB: &str = r#"{
        "model_type": "modernbert", "architectures": ["ModernBertForMaskedLM"],
        "hidden_size": 768, "num_hidden_layers": 22, "num_attention_heads": 12,
        "intermediate_size": 1152, "hidden_activation": "gelu", "vocab_size": 50368,
        "max_position_embeddings": 8192, "norm_eps": 1e-05, "norm_bias": false,
        "pad_token_id": 50283, "global_rope_theta": 160000.0, "local_rope_theta": 10000.0,
        "local_attention": 128, "global_attn_every_n_layers": 3,
        "classifier_pooling": "mean", "classifier_activation": "gelu",
        "embedding_dropout": 0.0, "mlp_dropout": 0.0, "attention_dropout": 0.0
    }"#;

    #[test]
    fn reads_modernbert_fields_as_the_hub_spells_them() {
        let config = BertConfig::from_json(MODERNBERT_HUB, "config.json").unwrap();
        assert_eq!(config.model_type, ModelFamily::ModernBert);
        assert_eq!(config.layer_norm_eps, 1e-5);
        assert_eq!(config.type_vocab_size, 0);
        assert_eq!(config.classifier_dropout_prob(), 0.0);
        let settings = config.modernbert.unwrap();
        assert_eq!(settings.classifier_pooling, ClassifierPooling::Mean);
        assert_eq!(
            (settings.rope_theta(true), settings.rope_theta(false)),
            (160_000.0, 10_000.0)
        );
        let global: Vec<usize> = (0..22).filter(|&i| settings.is_global_layer(i)).collect();
        assert_eq!(global, [0, 3, 6, 9, 12, 15, 18, 21]);
    }

    #[test]
    fn reads_transformers_5_rope_parameters_and_layer_types() {
        let json = r#"{
            "model_type": "modernbert", "num_hidden_layers": 3,
            "layer_types": ["full_attention", "sliding_attention", "full_attention"],
            "rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": 80000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 5000.0}
            }
        }"#;
        let settings = BertConfig::from_json(json, "c")
            .unwrap()
            .modernbert
            .unwrap();
        assert_eq!(
            (settings.rope_theta(true), settings.rope_theta(false)),
            (80_000.0, 5_000.0)
        );
        let global: Vec<bool> = (0..3).map(|i| settings.is_global_layer(i)).collect();
        assert_eq!(global, [true, false, true]);
    }

    #[test]
    fn parse_errors_give_line_and_column() {
        let err = BertConfig::from_json("{\n  \"hidden_size\": \"wide\"\n}", "c.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.json:2:"), "{err}");
    }

    #[test]
    fn reads_distilbert_names_and_writes_them_back() {
        let json = r#"{"model_type": "distilbert", "dim": 16, "n_layers": 2, "n_heads": 4,
            "hidden_dim": 32, "activation": "gelu", "dropout": 0.2, "vocab_size": 109,
            "seq_classif_dropout": 0.3, "sinusoidal_pos_embds": false}"#;
        let config = BertConfig::from_json(json, "config.json").unwrap();
        assert_eq!(config.model_type, ModelFamily::DistilBert);
        assert_eq!(
            (
                config.hidden_size,
                config.num_hidden_layers,
                config.num_attention_heads
            ),
            (16, 2, 4)
        );
        assert_eq!((config.intermediate_size, config.type_vocab_size), (32, 0));
        assert_eq!(config.hidden_dropout_prob, 0.2);
        assert_eq!(config.classifier_dropout_prob(), 0.3);
        let saved = config
            .with_labels(&["a".into(), "b".into()])
            .with_architecture("DistilBertForSequenceClassification")
            .to_json();
        assert_eq!(saved["dim"], 16);
        assert_eq!(saved["sinusoidal_pos_embds"], false);
        assert!(saved.get("hidden_size").is_none(), "{saved}");
        assert_eq!(saved["id2label"]["1"], "b");
        assert_eq!(
            saved["architectures"][0],
            "DistilBertForSequenceClassification"
        );
    }

    #[test]
    fn roberta_inputs_stop_two_positions_short() {
        let json = r#"{"model_type": "roberta", "max_position_embeddings": 514,
            "pad_token_id": 1, "type_vocab_size": 1}"#;
        let config = BertConfig::from_json(json, "c").unwrap();
        assert_eq!(config.max_input_len(), 512);
        assert!(!config.model_type.has_pooler());
    }

    #[test]
    fn labels_round_trip_through_json() {
        let labels = vec!["neg".to_string(), "pos".to_string()];
        let config = BertConfig::default().with_labels(&labels);
        let json = serde_json::to_string(&config).unwrap();
        let mut back = BertConfig::from_json(&json, "c").unwrap();
        back.source.clear();
        assert_eq!(back, config);
    }
}
