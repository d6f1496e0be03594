//! Hugging Face `peft` LoRA adapter directories, in and out:
//! `adapter_config.json` and `adapter_model.safetensors`, whose tensors are
//! named as `PeftModel.save_pretrained` names them
//! (`base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight`
//! `[r, in]`, `...lora_B.weight` `[out, r]`, the trained head under its
//! checkpoint names, e.g. `base_model.model.classifier.weight`).

use std::path::Path;

use burn::store::{
    BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use serde::{Deserialize, Serialize};

use crate::checkpoint_names::{renamed, saved_names, task_remapper};
use crate::config::{BertConfig, ModelFamily};
use crate::files;
use crate::heads::TaskHead;
use crate::lora::LoraConfig;
use crate::pretrained::{LoadError, WeightProblems};
use crate::task::BertForTask;

/// The adapter's settings file.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// The adapter's weights file.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";

/// Where peft puts the wrapped model's names.
const PEFT_PREFIX: &str = "base_model.model.";
/// Our module paths of the adapters' factors and peft's names of them.
const FACTOR_NAMES: [(&str, &str); 2] =
    [(".lora.lora_a.", ".lora_A."), (".lora.lora_b.", ".lora_B.")];
/// The module paths an adapter file holds: LoRA factors and the head.
const ADAPTER_PATHS: &str = r"\.lora\.lora_[ab]\.|^head\.";

/// peft's `adapter_config.json` for a LoRA adapter (the fields this crate
/// reads and writes; others are ignored when read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    /// Always `LORA`.
    pub peft_type: String,
    /// `SEQ_CLS`, `TOKEN_CLS`, `QUESTION_ANS`, or none (a masked-LM head).
    pub task_type: Option<String>,
    /// The model the adapter was trained on: a hub name or a directory.
    pub base_model_name_or_path: Option<String>,
    /// Rank.
    pub r: usize,
    /// `alpha` (the update is scaled by `alpha / r`).
    pub lora_alpha: f64,
    /// Dropout on the adapters' inputs.
    #[serde(default)]
    pub lora_dropout: f64,
    /// Names of the adapted modules.
    pub target_modules: serde_json::Value,
    /// Modules trained in full and saved with the adapter (the head).
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    /// Which biases train: only `none` is supported.
    #[serde(default = "no_bias")]
    pub bias: String,
    /// Whether the base weights are stored `[in, out]` (GPT-2's Conv1D): never here.
    #[serde(default)]
    pub fan_in_fan_out: bool,
    /// rsLoRA's `alpha / sqrt(r)` scaling: not supported.
    #[serde(default)]
    pub use_rslora: bool,
    /// DoRA: not supported.
    #[serde(default)]
    pub use_dora: bool,
    /// Whether the adapter is loaded for inference.
    #[serde(default)]
    pub inference_mode: bool,
    /// Per-module ranks: not supported.
    #[serde(default)]
    pub rank_pattern: serde_json::Map<String, serde_json::Value>,
    /// Per-module alphas: not supported.
    #[serde(default)]
    pub alpha_pattern: serde_json::Map<String, serde_json::Value>,
}

fn no_bias() -> String {
    "none".into()
}

/// peft's task type of a head's transformers task (`None`: peft's plain `PeftModel`).
pub fn peft_task_type<H: TaskHead>() -> Option<&'static str> {
    match H::TASK? {
        "SequenceClassification" => Some("SEQ_CLS"),
        "TokenClassification" => Some("TOKEN_CLS"),
        "QuestionAnswering" => Some("QUESTION_ANS"),
        _ => None,
    }
}

impl AdapterConfig {
    /// The settings of an adapter `lora` of a `H` model trained from `base`,
    /// saving the head modules `modules_to_save`.
    pub fn new<H: TaskHead>(lora: &LoraConfig, base: &str, modules_to_save: Vec<String>) -> Self {
        Self {
            peft_type: "LORA".into(),
            task_type: peft_task_type::<H>().map(Into::into),
            base_model_name_or_path: Some(base.into()),
            r: lora.rank,
            lora_alpha: lora.alpha,
            lora_dropout: lora.dropout,
            target_modules: lora.targets.clone().into(),
            modules_to_save: Some(modules_to_save),
            bias: no_bias(),
            fan_in_fan_out: false,
            use_rslora: false,
            use_dora: false,
            inference_mode: true,
            rank_pattern: Default::default(),
            alpha_pattern: Default::default(),
        }
    }

    /// Reads `dir/adapter_config.json`, refusing what this crate cannot apply.
    pub fn read(dir: &Path) -> Result<Self, LoadError> {
        let path = dir.join(ADAPTER_CONFIG);
        let error = |message: String| LoadError::Read {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| error(e.to_string()))?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| error(format!("line {}, column {}: {e}", e.line(), e.column())))?;
        config.lora().map_err(error)?;
        Ok(config)
    }

    /// The LoRA settings, or why this crate cannot apply them.
    pub fn lora(&self) -> Result<LoraConfig, String> {
        let unsupported = [
            (self.peft_type != "LORA", "peft_type other than LORA"),
            (self.bias != "none", "bias other than \"none\""),
            (self.fan_in_fan_out, "fan_in_fan_out"),
            (self.use_rslora, "use_rslora"),
            (self.use_dora, "use_dora"),
            (!self.rank_pattern.is_empty(), "rank_pattern"),
            (!self.alpha_pattern.is_empty(), "alpha_pattern"),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(set, _)| *set) {
            return Err(format!("{what} is not supported"));
        }
        let targets = match &self.target_modules {
            serde_json::Value::Array(names) => names
                .iter()
                .map(|name| name.as_str().map(String::from))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        }
        .ok_or("target_modules must be a list of module names (a regex is not supported)")?;
        let lora = LoraConfig {
            rank: self.r,
            alpha: self.lora_alpha,
            dropout: self.lora_dropout,
            targets,
        };
        lora.validate().map_err(|e| e.to_string())?;
        Ok(lora)
    }
}

/// Whether `dir` holds a peft adapter.
pub fn is_adapter_dir(dir: &Path) -> bool {
    dir.join(ADAPTER_CONFIG).is_file()
}

/// Module paths to peft's names: the factors' names, the checkpoint names
/// of the encoder and the head, under `base_model.model.`.
fn peft_names<H: TaskHead>(head: &H, family: ModelFamily) -> KeyRemapper {
    let factors = FACTOR_NAMES
        .iter()
        .map(|(ours, theirs)| (ours.replace('.', r"\."), theirs.to_string()));
    let checkpoint = saved_names(family, &head.checkpoint_names(), H::TASK.is_some())
        .to_regex_pairs()
        .into_iter()
        .map(|(pattern, name)| (pattern.as_str().to_string(), name));
    let patterns = factors
        .chain(checkpoint)
        .chain([("^".to_string(), PEFT_PREFIX.to_string())]);
    KeyRemapper::from_pattern_iter(patterns).expect("adapter name patterns are valid regexes")
}

/// peft's names to module paths, the inverse of [`peft_names`].
fn module_paths<H: TaskHead>(head: &H, family: ModelFamily) -> KeyRemapper {
    let prefix = [(
        format!("^{}", PEFT_PREFIX.replace('.', r"\.")),
        String::new(),
    )];
    let factors = FACTOR_NAMES
        .iter()
        .map(|(ours, theirs)| (theirs.replace('.', r"\."), ours.to_string()));
    let checkpoint = task_remapper(head, family)
        .to_regex_pairs()
        .into_iter()
        .map(|(pattern, path)| (pattern.as_str().to_string(), path));
    let patterns = prefix.into_iter().chain(factors).chain(checkpoint);
    KeyRemapper::from_pattern_iter(patterns).expect("adapter name patterns are valid regexes")
}

/// Writes the adapters and head of `model` (an encoder with LoRA adapters)
/// as a peft adapter directory: `adapter_model.safetensors` and
/// `adapter_config.json` naming `base` as the base model. Returns the config.
pub fn save_adapter<H: TaskHead>(
    model: &BertForTask<H>,
    config: &BertConfig,
    lora: &LoraConfig,
    base: &str,
    dir: &Path,
) -> Result<AdapterConfig, LoadError> {
    let family = config.model_type;
    let remapper = peft_names(&model.head, family);
    let mut modules_to_save: Vec<String> = Vec::new();
    for tensor in model.head.collect(None, None, true) {
        let name = renamed(&remapper, &format!("head.{}", tensor.name));
        let module = name
            .trim_start_matches(PEFT_PREFIX)
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
        if !modules_to_save.contains(&module) {
            modules_to_save.push(module);
        }
    }
    let adapter = AdapterConfig::new::<H>(lora, base, modules_to_save);
    let write_error = |path: &Path, message: String| LoadError::Read {
        path: path.display().to_string(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e.to_string()))?;
    let weights = dir.join(ADAPTER_WEIGHTS);
    files::write_atomically_with(&weights, |temporary| {
        let mut store = SafetensorsStore::from_file(temporary)
            .with_to_adapter(BurnToPyTorchAdapter)
            .skip_enum_variants(true)
            .with_regex(ADAPTER_PATHS)
            .remap(remapper)
            .overwrite(true);
        model.save_into(&mut store).map_err(std::io::Error::other)
    })
    .map_err(|e| write_error(&weights, e.to_string()))?;
    let config_path = dir.join(ADAPTER_CONFIG);
    let text = serde_json::to_string_pretty(&adapter).expect("adapter config serialises");
    files::write_atomically(&config_path, text.as_bytes())
        .map_err(|e| write_error(&config_path, e.to_string()))?;
    Ok(adapter)
}

/// Loads the adapter weights of `dir` into `model`, whose encoder already
/// has adapters of the adapter's settings: every factor and every head
/// weight must be in the file, and nothing else.
pub fn load_adapter<H: TaskHead>(
    model: &mut BertForTask<H>,
    family: ModelFamily,
    dir: &Path,
) -> Result<(), LoadError> {
    let path = dir.join(ADAPTER_WEIGHTS);
    let remapper = module_paths(&model.head, family);
    let mut store = SafetensorsStore::from_file(&path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .remap(remapper)
        .allow_partial(true)
        .validate(false);
    let result = model.load_from(&mut store).map_err(|e| LoadError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let is_adapted = |name: &str| name.contains(".lora.") || name.starts_with("head.");
    let problems = WeightProblems {
        missing: result
            .missing
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| is_adapted(name))
            .collect(),
        unexpected: result.unused.clone(),
        invalid: result.errors.iter().map(ToString::to_string).collect(),
    };
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LoadError::Mismatch {
            path: path.display().to_string(),
            problems,
        })
    }
}
