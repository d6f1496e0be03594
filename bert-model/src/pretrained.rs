//! Loading a Hugging Face model directory: `config.json` plus
//! `model.safetensors` or `pytorch_model.bin` (and, for sentence-transformers
//! models, the length in `sentence_bert_config.json`).
//!
//! Checkpoint names are mapped onto this crate's modules: keys with or without
//! the `bert.` prefix, `attention.self` to `attention.self_attention`,
//! `LayerNorm` to `layer_norm`, a head's names (e.g. `classifier.*`) to `head.*`.
//! Linear weights are transposed from PyTorch's `[out, in]`.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};
use burn::tensor::Device;

use crate::checkpoint_names::{key_remapper, saved_names, task_remapper};
use crate::config::ModelFamily;
use crate::config::{BertConfig, ConfigError};
use crate::encoder::Encoder;
use crate::files;
use crate::heads::{KNOWN_HEAD_PREFIXES, TaskHead};
use crate::task::BertForTask;

/// Tensors that checkpoints may carry but that are not weights of their own:
/// the position-ids buffer, and the MLM decoder, tied to the word embeddings
/// and to `cls.predictions.bias`.
const NON_WEIGHT_BUFFERS: &[&str] = &[
    "embeddings.position_ids",
    "bert.embeddings.position_ids",
    "head.cls.predictions.decoder.weight",
    "head.cls.predictions.decoder.bias",
];

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `config.json` is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The directory has no weights file this crate reads.
    #[error("{dir}: no model.safetensors or pytorch_model.bin")]
    NoWeights {
        /// The model directory.
        dir: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Read {
        /// The weights file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The weights do not fit the model the config describes.
    #[error("{path}: weights do not match the model:\n{problems}")]
    Mismatch {
        /// The weights file.
        path: String,
        /// One line per missing, unexpected or wrongly shaped tensor.
        problems: WeightProblems,
    },
}

/// Tensors that did not fit, by kind; shown one per line.
#[derive(Debug, Default)]
pub struct WeightProblems {
    /// Model parameters the checkpoint lacks.
    pub missing: Vec<String>,
    /// Checkpoint tensors the model has no place for.
    pub unexpected: Vec<String>,
    /// Shape, dtype or conversion errors, one message per tensor.
    pub invalid: Vec<String>,
}

impl fmt::Display for WeightProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups = [
            ("missing", &self.missing),
            ("unexpected", &self.unexpected),
            ("invalid", &self.invalid),
        ];
        for (kind, names) in groups {
            for name in names {
                writeln!(f, "  {kind}: {name}")?;
            }
        }
        Ok(())
    }
}

impl WeightProblems {
    pub(crate) fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.invalid.is_empty()
    }
}

/// Whether the task head came from the checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadStatus {
    /// The checkpoint had the head's weights (e.g. a fine-tuned classifier).
    Loaded,
    /// The checkpoint has no weights for the head, which keeps its random
    /// initialisation: the expected case when fine-tuning a base model.
    Initialised {
        /// The head parameters the checkpoint lacked.
        missing: Vec<String>,
    },
}

/// The weights file of a model directory, by format.
enum WeightsFile {
    Safetensors(PathBuf),
    Pytorch(PathBuf),
}

impl WeightsFile {
    fn find(dir: &Path) -> Result<Self, LoadError> {
        let safetensors = dir.join("model.safetensors");
        let pytorch = dir.join("pytorch_model.bin");
        if safetensors.is_file() {
            Ok(Self::Safetensors(safetensors))
        } else if pytorch.is_file() {
            Ok(Self::Pytorch(pytorch))
        } else {
            Err(LoadError::NoWeights {
                dir: dir.display().to_string(),
            })
        }
    }

    fn path(&self) -> &Path {
        match self {
            Self::Safetensors(path) | Self::Pytorch(path) => path,
        }
    }

    /// Applies the file's tensors to `module`, names mapped by `remapper`.
    fn apply_to<M: Module>(
        &self,
        module: &mut M,
        remapper: KeyRemapper,
    ) -> Result<ApplyResult, LoadError> {
        let read_error = |message: String| LoadError::Read {
            path: self.path().display().to_string(),
            message,
        };
        let loaded = match self {
            Self::Safetensors(path) => module
                .load_from(
                    &mut SafetensorsStore::from_file(path)
                        .with_from_adapter(PyTorchToBurnAdapter)
                        .skip_enum_variants(true)
                        .remap(remapper)
                        .allow_partial(true)
                        .validate(false),
                )
                .map_err(|e| e.to_string()),
            Self::Pytorch(path) => module
                .load_from(
                    &mut PytorchStore::from_file(path)
                        .skip_enum_variants(true)
                        .remap(remapper)
                        .allow_partial(true)
                        .validate(false),
                )
                .map_err(|e| e.to_string()),
        };
        loaded.map_err(read_error)
    }
}

/// Reads `config.json` of a model directory.
pub fn load_config(dir: impl AsRef<Path>) -> Result<BertConfig, LoadError> {
    Ok(BertConfig::from_file(dir.as_ref().join("config.json"))?)
}

/// Loads the encoder of a Hugging Face model directory of any supported
/// family (any head in the checkpoint is ignored).
pub fn load_encoder(
    dir: impl AsRef<Path>,
    device: &Device,
) -> Result<(BertConfig, Encoder), LoadError> {
    let dir = dir.as_ref();
    let config = load_config(dir)?;
    let weights = WeightsFile::find(dir)?;
    let mut model = Encoder::new(&config, device);
    let prefix = format!("^{}\\.", config.model_type.weight_prefix());
    let remapper = key_remapper(config.model_type, &[(prefix.as_str(), "")]);
    let result = weights.apply_to(&mut model, remapper)?;
    let problems = problems(&result, KNOWN_HEAD_PREFIXES, config.model_type);
    if !problems.is_empty() {
        return Err(mismatch(&weights, problems));
    }
    Ok((config, model))
}

/// Loads encoder and `head` from a Hugging Face model directory. A head the
/// checkpoint lacks keeps its initialisation and is reported as
/// [`HeadStatus::Initialised`]; a head only partly present is an error.
pub fn load_for_task<H: TaskHead>(
    dir: impl AsRef<Path>,
    head: H,
    device: &Device,
) -> Result<(BertConfig, BertForTask<H>, HeadStatus), LoadError> {
    let dir = dir.as_ref();
    let config = load_config(dir)?;
    let weights = WeightsFile::find(dir)?;
    let mut model = BertForTask {
        bert: Encoder::new(&config, device),
        head,
    };
    let family = config.model_type;
    let remapper = task_remapper(&model.head, family);
    let result = weights.apply_to(&mut model, remapper)?;
    let foreign_heads: Vec<&str> = KNOWN_HEAD_PREFIXES
        .iter()
        .copied()
        .filter(|prefix| !H::CHECKPOINT_PREFIXES.contains(prefix))
        .collect();
    let mut problems = problems(&result, &foreign_heads, family);
    let (head_missing, body_missing): (Vec<String>, Vec<String>) = problems
        .missing
        .drain(..)
        .partition(|path| path.starts_with("head."));
    problems.missing = body_missing;
    // A head's own weights come all or none; its prediction transform may
    // come from a checkpoint of another task (ModernBERT's `head`).
    let own = |path: &String| path.starts_with("head.") && !is_prediction_transform(path);
    let head_applied = result.applied.iter().any(own);
    let own_missing = head_missing.iter().any(own);
    let status = match (head_missing.is_empty(), own_missing && head_applied) {
        (true, _) => HeadStatus::Loaded,
        (false, false) => HeadStatus::Initialised {
            missing: head_missing,
        },
        (false, true) => {
            problems.missing.extend(head_missing);
            HeadStatus::Loaded
        }
    };
    if !problems.is_empty() {
        return Err(mismatch(&weights, problems));
    }
    Ok((config, model, status))
}

/// Whether a head parameter belongs to the head's prediction transform
/// (dense, activation, LayerNorm), which a family may share between its task
/// classes: ModernBERT's `head` of a masked-LM checkpoint loads into its
/// classifiers, as transformers does.
fn is_prediction_transform(path: &str) -> bool {
    path.starts_with("head.transform.") || path.starts_with("head.cls.predictions.transform.")
}

/// Writes `model` as a Hugging Face directory that [`load_for_task`] and
/// `transformers` read back: `config.json` (with `config`'s labels, and the
/// head's class in `architectures`) and `model.safetensors` with Hugging Face
/// names (`bert.*`, the head's own; a base model's encoder without its
/// prefix, as transformers saves `BertModel`). Each file is written
/// atomically, the weights last.
pub fn save_for_task<H: TaskHead>(
    model: &BertForTask<H>,
    config: &BertConfig,
    dir: impl AsRef<Path>,
) -> Result<(), LoadError> {
    let dir = dir.as_ref();
    let write_error = |path: &Path, message: String| LoadError::Read {
        path: path.display().to_string(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e.to_string()))?;
    let config_path = dir.join("config.json");
    config
        .clone()
        .with_architecture(&model.head.architecture(config.model_type))
        .save(&config_path)
        .map_err(|e| write_error(&config_path, e.to_string()))?;
    let weights = dir.join("model.safetensors");
    let remapper = saved_names(
        config.model_type,
        &model.head.checkpoint_names(),
        H::TASK.is_some(),
    );
    files::write_atomically_with(&weights, |temporary| {
        let mut store = SafetensorsStore::from_file(temporary)
            .with_to_adapter(BurnToPyTorchAdapter)
            .skip_enum_variants(true)
            .remap(remapper)
            .overwrite(true);
        model.save_into(&mut store).map_err(std::io::Error::other)
    })
    .map_err(|e| write_error(&weights, e.to_string()))
}

/// Collects what did not fit; tensors of `ignored_heads` (another task's head)
/// and non-weight buffers are not problems.
fn problems(result: &ApplyResult, ignored_heads: &[&str], family: ModelFamily) -> WeightProblems {
    let is_ignored = |path: &str| {
        NON_WEIGHT_BUFFERS.contains(&path)
            // A RoBERTa base checkpoint may carry a pooler no head of ours reads.
            || (!family.has_pooler() && path.contains("pooler."))
            || ignored_heads.iter().any(|prefix| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    };
    WeightProblems {
        missing: result
            .missing
            .iter()
            .map(|(path, _)| path.clone())
            .collect(),
        unexpected: result
            .unused
            .iter()
            .filter(|path| !is_ignored(path))
            .cloned()
            .collect(),
        invalid: result.errors.iter().map(ToString::to_string).collect(),
    }
}

fn mismatch(weights: &WeightsFile, problems: WeightProblems) -> LoadError {
    LoadError::Mismatch {
        path: weights.path().display().to_string(),
        problems,
    }
}
