//! LoRA (Hu et al., 2021) as Hugging Face `peft` applies it to an encoder:
//! each target [`Linear`] keeps its weight `W` frozen and adds
//! `scaling · B(A(dropout(x)))`, `A` `[in, r]` drawn as PyTorch draws a
//! linear layer, `B` `[r, out]` zero (so the model starts unchanged),
//! `scaling = alpha / r`. The update is computed through the two thin
//! products, never as a `[in, out]` matrix, so a step costs two rank-`r`
//! products per target and no gradient of `W`.

use serde::{Deserialize, Serialize};

use crate::config::ModelFamily;
use crate::linear::Linear;
pub use crate::lora_adapter::LoraAdapter;

/// What a LoRA run adapts and how (peft's `LoraConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Rank `r` of the update.
    pub rank: usize,
    /// `alpha`: the update is scaled by `alpha / r`.
    pub alpha: f64,
    /// Dropout on the adapter's input.
    pub dropout: f64,
    /// Module names as in Hugging Face checkpoints (`query`, `q_lin`, ...):
    /// a module is a target when its full name is one of them or ends with
    /// `.` and one of them (peft's rule).
    pub targets: Vec<String>,
}

/// Why a LoRA configuration cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LoraError {
    /// The rank is zero.
    #[error("LoRA rank must be at least 1")]
    ZeroRank,
    /// The dropout is outside `[0, 1)`.
    #[error("LoRA dropout must be in [0, 1), got {0}")]
    Dropout(f64),
    /// `alpha` is not a positive number.
    #[error("LoRA alpha must be a positive number (the update is scaled by alpha / rank), got {0}")]
    Alpha(f64),
    /// No target was given.
    #[error("no LoRA target modules given")]
    NoTargets,
    /// A target names no linear layer of the encoder.
    #[error(
        "LoRA target {target:?} matches no linear layer of this {family} encoder; its layers are named {names}"
    )]
    UnknownTarget {
        /// The target.
        target: String,
        /// The encoder's family.
        family: String,
        /// The last parts of its layers' names, comma-separated.
        names: String,
    },
}

impl LoraConfig {
    /// Rank `rank`, peft's defaults otherwise (`alpha` 8, no dropout) and
    /// `family`'s default targets.
    pub fn new(rank: usize, family: ModelFamily) -> Self {
        Self {
            rank,
            alpha: 8.0,
            dropout: 0.0,
            targets: default_targets(family)
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// `alpha / r`.
    pub fn scaling(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Checks rank, dropout and that there are targets.
    pub fn validate(&self) -> Result<(), LoraError> {
        if self.rank == 0 {
            return Err(LoraError::ZeroRank);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LoraError::Dropout(self.dropout));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(LoraError::Alpha(self.alpha));
        }
        if self.targets.is_empty() {
            return Err(LoraError::NoTargets);
        }
        Ok(())
    }
}

/// Whether the module named `name` (a Hugging Face module path such as
/// `bert.encoder.layer.0.attention.self.query`) is `target`: the whole name
/// or its last parts.
fn matches(name: &str, target: &str) -> bool {
    name == target
        || name
            .strip_suffix(target)
            .is_some_and(|head| head.ends_with('.'))
}

/// The modules peft adapts by default in `family`: the attention's query and
/// value projections (`query,value`; DistilBERT `q_lin,v_lin`; MPNet `q,v`).
/// ModernBERT, for which peft lists none, fuses them into `Wqkv`.
pub fn default_targets(family: ModelFamily) -> &'static [&'static str] {
    match family {
        ModelFamily::Bert
        | ModelFamily::Roberta
        | ModelFamily::XlmRoberta
        | ModelFamily::Electra => &["query", "value"],
        ModelFamily::DistilBert => &["q_lin", "v_lin"],
        ModelFamily::MpNet => &["q", "v"],
        ModelFamily::ModernBert => &["Wqkv"],
        ModelFamily::DebertaV2 => &["query_proj", "value_proj"],
    }
}

/// Puts a fresh adapter on each of `layers` (Hugging Face module name,
/// layer) that `config` targets. Fails if a target matches none of them.
pub(crate) fn attach(
    layers: Vec<(String, &mut Linear)>,
    config: &LoraConfig,
    family: ModelFamily,
) -> Result<(), LoraError> {
    config.validate()?;
    let mut matched = vec![false; config.targets.len()];
    let mut names = Vec::new();
    for (name, layer) in layers {
        let short = name.rsplit('.').next().unwrap_or(&name).to_string();
        if !names.contains(&short) {
            names.push(short);
        }
        let mut hit = false;
        for (target, seen) in config.targets.iter().zip(&mut matched) {
            if matches(&name, target) {
                *seen = true;
                hit = true;
            }
        }
        if hit {
            let device = layer.weight.device();
            layer.lora = Some(LoraAdapter::new(
                layer.dims(),
                &device,
                config.rank,
                config.dropout,
                config.scaling(),
            ));
        }
    }
    match config.targets.iter().zip(matched).find(|(_, seen)| !seen) {
        Some((target, _)) => Err(LoraError::UnknownTarget {
            target: target.clone(),
            family: family.class_prefix().to_string(),
            names: names.join(", "),
        }),
        None => Ok(()),
    }
}
