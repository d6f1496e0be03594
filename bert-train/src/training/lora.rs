//! LoRA fine-tuning (`--lora-rank` and friends) and peft adapter
//! directories as `--model`: which adapter a run trains, how the model gets
//! it, and the adapter files a LoRA run leaves beside its merged model.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_model::peft::{self, AdapterConfig};
use bert_model::{BertConfig, BertForTask, LoraConfig, ModelFamily, TaskHead};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use tracing::info;

/// LoRA settings of `train` (off unless `--lora-rank` is given).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct LoraArgs {
    /// Train LoRA adapters of this rank on the encoder, frozen otherwise,
    /// with the task head in full (peft's `modules_to_save`); the run also
    /// holds the adapter as a peft adapter directory. Off by default.
    #[arg(long)]
    #[serde(default)]
    pub lora_rank: Option<usize>,
    /// LoRA `alpha`: the update is scaled by `alpha / rank` (peft's default 8).
    #[arg(long, default_value_t = 8.0)]
    #[serde(default = "default_alpha")]
    pub lora_alpha: f64,
    /// Dropout on the adapters' inputs.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub lora_dropout: f64,
    /// Comma-separated module names to adapt, as Hugging Face names them
    /// (default: the attention's query and value projections, as peft:
    /// `query,value`; DistilBERT `q_lin,v_lin`; MPNet `q,v`; ModernBERT `Wqkv`).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub lora_targets: Vec<String>,
}

fn default_alpha() -> f64 {
    8.0
}

/// The pretrained model a run starts from: a model directory, or a peft
/// adapter directory and the base model it names.
pub struct StartingModel {
    /// The base model's directory (config, tokenizer, weights).
    pub dir: PathBuf,
    /// How adapter files name the base: its hub id, or its directory.
    pub base_name: String,
    /// The adapter given as `--model`, with its settings.
    pub adapter: Option<(PathBuf, AdapterConfig)>,
}

impl StartingModel {
    /// Resolves `--model`: a peft adapter directory (`adapter_config.json`)
    /// starts from its `base_model_name_or_path`, resolved as `--model` is.
    pub fn resolve(cache: &AssetCache, model: &str) -> Result<Self> {
        let dir = cache.resolve_model(model)?;
        if !peft::is_adapter_dir(&dir) {
            return Ok(Self {
                base_name: base_name(model, &dir),
                dir,
                adapter: None,
            });
        }
        let adapter = AdapterConfig::read(&dir)?;
        let base = adapter.base_model_name_or_path.clone().with_context(|| {
            format!(
                "{}: no base_model_name_or_path to load the adapter onto",
                dir.join(peft::ADAPTER_CONFIG).display()
            )
        })?;
        let base_dir = cache
            .resolve_model(&base)
            .with_context(|| format!("the base model of the adapter {}", dir.display()))?;
        info!(
            "model: the adapter {} on its base {}",
            dir.display(),
            base_dir.display()
        );
        Ok(Self {
            dir: base_dir,
            base_name: base,
            adapter: Some((dir, adapter)),
        })
    }

    /// The adapter a run trains: none without `--lora-rank`; with an
    /// adapter as `--model`, that adapter (its rank must be the one asked
    /// for); else a fresh one of `args`' settings.
    pub fn lora(&self, args: &LoraArgs, family: ModelFamily) -> Result<Option<LoraConfig>> {
        let Some(rank) = args.lora_rank else {
            if !args.lora_targets.is_empty() {
                bail!("--lora-targets needs --lora-rank");
            }
            return Ok(None);
        };
        let lora = match &self.adapter {
            Some((dir, adapter)) => {
                let lora = adapter.lora().map_err(anyhow::Error::msg)?;
                if lora.rank != rank {
                    bail!(
                        "--lora-rank {rank}, but the adapter {} has rank {}: continuing an adapter keeps its settings",
                        dir.display(),
                        lora.rank
                    );
                }
                lora
            }
            None => LoraConfig {
                rank,
                alpha: args.lora_alpha,
                dropout: args.lora_dropout,
                targets: if args.lora_targets.is_empty() {
                    LoraConfig::new(rank, family).targets
                } else {
                    args.lora_targets.clone()
                },
            },
        };
        lora.validate().context("bad LoRA options")?;
        Ok(Some(lora))
    }

    /// The model a run trains, from `model` (the base with its task head):
    /// with `lora`, frozen but for the adapters and the head; the adapter
    /// given as `--model` loaded first (and merged when `lora` is none).
    pub fn adapt<H: TaskHead>(
        &self,
        model: BertForTask<H>,
        lora: Option<&LoraConfig>,
        family: ModelFamily,
    ) -> Result<BertForTask<H>> {
        let model = match &self.adapter {
            Some((dir, adapter)) => {
                let settings = adapter.lora().map_err(anyhow::Error::msg)?;
                let mut model = model.with_lora(&settings, family)?;
                peft::load_adapter(&mut model, family, dir)?;
                if lora.is_some() {
                    return Ok(model);
                }
                let merged = model.merge_lora();
                BertForTask {
                    bert: merged.bert.set_require_grad(true),
                    head: merged.head,
                }
            }
            None => model,
        };
        match lora {
            Some(lora) => {
                let model = model.with_lora(lora, family)?;
                info!(
                    "LoRA: rank {}, alpha {}, dropout {} on {}: {} of {} parameters train",
                    lora.rank,
                    lora.alpha,
                    lora.dropout,
                    lora.targets.join(","),
                    trainable_parameters(&model),
                    model.num_params()
                );
                Ok(model)
            }
            None => Ok(model),
        }
    }
}

/// How adapter files name the base model: a hub id as given, anything
/// else (an alias, a directory) by its directory's absolute path.
fn base_name(model: &str, dir: &Path) -> String {
    let is_hub_id = model.contains('/') && !Path::new(model).exists();
    if is_hub_id {
        model.to_string()
    } else {
        std::path::absolute(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display()
            .to_string()
    }
}

/// Parameters that receive gradients.
fn trainable_parameters<M: Module>(model: &M) -> usize {
    struct Counter(usize);
    impl ModuleVisitor for Counter {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if value.is_require_grad() {
                self.0 += value.shape().num_elements();
            }
        }
    }
    let mut counter = Counter(0);
    model.visit(&mut counter);
    counter.0
}

/// Writes the adapter of a LoRA-trained `model` into `dir` (peft's files)
/// and returns the model with the adapters merged, as the run's
/// `model.safetensors` holds it.
pub fn save_adapter<H: TaskHead>(
    model: BertForTask<H>,
    config: &BertConfig,
    lora: &LoraConfig,
    base_name: &str,
    dir: &Path,
) -> Result<BertForTask<H>> {
    let adapter = peft::save_adapter(&model, config, lora, base_name, dir)?;
    info!(
        "wrote the peft adapter ({} on {}, modules_to_save {}) in {}",
        peft::ADAPTER_WEIGHTS,
        lora.targets.join(","),
        adapter.modules_to_save.unwrap_or_default().join(","),
        dir.display()
    );
    Ok(model.merge_lora())
}
