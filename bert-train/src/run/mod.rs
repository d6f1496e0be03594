//! A run directory: everything needed to reuse a fine-tuned model.
//!
//! ```text
//! RUN/config.json          Hugging Face config: model_type, architectures, id2label/label2id
//! RUN/model.safetensors    weights with Hugging Face names (bert.*, classifier.*)
//! RUN/tokenizer.json       the tokenizer, truncation cleared
//! RUN/tokenizer_config.json, special_tokens_map.json, vocab.txt   for AutoTokenizer
//! RUN/training_args.json   the arguments of the run (read back by --resume)
//! RUN/adapter/             a LoRA run's peft adapter (adapter_config.json,
//!                          adapter_model.safetensors); model.safetensors holds it merged
//! RUN/checkpoint/          per-epoch model, optimiser and scheduler state
//! RUN/train/, RUN/valid/   burn-train metric logs per epoch
//! RUN/report.json          test report (also report.txt and PNG plots)
//! RUN/curves.png           training curves: loss and the selection metric per step
//! RUN/README.md            the model card (metadata the hub reads, results, how to load)
//! RUN/runs/<time>_<host>/  TensorBoard event files (`--report-to tensorboard`)
//! ```
//! A run directory is itself a Hugging Face model directory.

pub mod model_card;
mod plots;
pub mod tensorboard;

pub use plots::{EpochValue, MetricLog, curves_png};
pub(crate) use plots::{FONT, ensure_font, plot_error};

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bert_data::BertTokenizer;
use bert_data::dataset::LabelVocab;
use bert_model::files::{temporary_path, write_atomically};
use bert_model::heads::SequenceClassificationHead;
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{BertConfig, BertForTask, TaskHead};
use burn::tensor::Device;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::info;

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

/// A fine-tuned model loaded back from a run.
pub struct TrainedModel<H> {
    /// Encoder and head.
    pub model: BertForTask<H>,
    /// The tokenizer, truncating to the run's `max_len`.
    pub tokenizer: BertTokenizer,
    /// Class (or tag) names in class-id order.
    pub labels: LabelVocab,
    /// The model's config.
    pub config: BertConfig,
}

/// A fine-tuned classifier (or regressor: one "label") loaded back from a run.
pub type TrainedClassifier = TrainedModel<SequenceClassificationHead>;

impl RunDir {
    /// The run at `root` (not created until something is saved).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file of the run.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `value` as pretty JSON to `name`, atomically.
    pub fn write_json(&self, name: &str, value: &impl Serialize) -> Result<()> {
        self.write_file(name, serde_json::to_string_pretty(value)?.as_bytes())
    }

    /// Writes `bytes` to `name` atomically: a crash leaves the old file or the new one.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        let path = self.file(name);
        write_atomically(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Prints `table` under `heading` and writes `report.json` and `report.txt`.
    pub fn write_report(&self, report: &impl Serialize, table: &str, heading: &str) -> Result<()> {
        info!("\n{heading}\n{table}");
        self.write_json("report.json", report)?;
        self.write_file("report.txt", table.as_bytes())?;
        info!("wrote report.json, report.txt in {}", self.root.display());
        Ok(())
    }

    /// Draws `curves.png` of the run's training logs, with the loss and
    /// `metric` (the one the run selects by; see [`curves_png`]); nothing
    /// if the run has no training logs.
    pub fn write_curves(&self, metric: &str) -> Result<()> {
        if self.write_png("curves.png", |path| curves_png(self, metric, path))? {
            info!("wrote curves.png in {}", self.root.display());
        }
        Ok(())
    }

    /// Draws the picture `name` with `draw(path)` under a temporary name and
    /// renames it into place; `draw` returns whether it drew anything.
    pub fn write_png(&self, name: &str, draw: impl FnOnce(&Path) -> Result<bool>) -> Result<bool> {
        let path = self.file(name);
        let temporary = temporary_path(&path);
        let drawn = draw(&temporary)?;
        if drawn {
            std::fs::rename(&temporary, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(drawn)
    }

    /// Reads JSON file `name` of the run.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
    }

    /// Saves tokenizer files, config (with its labels) and model, each
    /// atomically and the weights last: a run with `model.safetensors` is complete.
    pub fn save<H: TaskHead>(
        &self,
        model: &BertForTask<H>,
        config: &BertConfig,
        tokenizer: &BertTokenizer,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("cannot create {}", self.root.display()))?;
        tokenizer.save_pretrained(&self.root, &config.model_type.tokenizer_class())?;
        pretrained::save_for_task(model, config, &self.root)?;
        Ok(())
    }

    /// Writes the run's model card (`README.md`, from its arguments, report
    /// and trainer state), and its adapter's if it has one.
    pub fn write_model_card(&self) -> Result<()> {
        self.write_file(
            model_card::MODEL_CARD,
            model_card::model_card(self)?.as_bytes(),
        )?;
        let adapter = self.adapter_dir();
        if adapter.is_dir() {
            let path = adapter.join(model_card::MODEL_CARD);
            write_atomically(&path, model_card::adapter_card(self)?.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        info!(
            "wrote the model card {} in {}",
            model_card::MODEL_CARD,
            self.root.display()
        );
        Ok(())
    }

    /// Whether training ended and its report is written: nothing is left
    /// to resume.
    pub fn is_finished(&self) -> bool {
        self.file("model.safetensors").is_file() && self.file("report.json").is_file()
    }

    /// The run's `config.json`.
    pub fn config(&self) -> Result<BertConfig> {
        Ok(pretrained::load_config(&self.root)?)
    }

    /// Loads the fine-tuned classifier (or regressor), tokenizer and labels of the run.
    pub fn load_classifier(&self, max_len: usize, device: &Device) -> Result<TrainedClassifier> {
        let config = self.config()?;
        if config.labels().is_empty() {
            bail!("{}: config.json has no id2label", self.root.display());
        }
        self.load_model(max_len, device)
    }

    /// Loads the run's model with a head of type `H` (built from the run's
    /// config, then loaded), its tokenizer (truncating to `max_len`) and
    /// labels (none for pretraining).
    pub fn load_model<H: TaskHead>(
        &self,
        max_len: usize,
        device: &Device,
    ) -> Result<TrainedModel<H>> {
        if !self.file("model.safetensors").is_file() {
            bail!(
                "{} is not a finished run: it has no model.safetensors",
                self.root.display()
            );
        }
        let config = self.config()?;
        let labels = LabelVocab::from_names(config.labels());
        let head = H::for_config(&config, device);
        let (_, model, status) = pretrained::load_for_task(&self.root, head, device)?;
        if let HeadStatus::Initialised { .. } = status {
            bail!(
                "{}: the checkpoint has no weights for the task head",
                self.root.display()
            );
        }
        let tokenizer = crate::backend::model_tokenizer(&self.root, &config, max_len)?;
        Ok(TrainedModel {
            model,
            tokenizer,
            labels,
            config,
        })
    }

    /// The directory of the run's checkpoints.
    pub fn adapter_dir(&self) -> PathBuf {
        self.file("adapter")
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.file("checkpoint")
    }

    /// The last epoch whose checkpoint has all its records, if any.
    pub fn last_checkpoint(&self) -> Option<usize> {
        let dir = self.checkpoint_dir();
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_prefix("scheduler-")?
                    .strip_suffix(".bpk")?
                    .parse()
                    .ok()
            })
            .filter(|&epoch| self.has_checkpoint(epoch))
            .max()
    }

    /// Whether the checkpoint of `epoch` has all its records.
    pub fn has_checkpoint(&self, epoch: usize) -> bool {
        let dir = self.checkpoint_dir();
        CHECKPOINT_RECORDS
            .iter()
            .all(|name| checkpoint_record(&dir, name, epoch).is_file())
    }
}

/// The records of a checkpoint: model, optimiser and scheduler state.
pub const CHECKPOINT_RECORDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Where the record `name` of `epoch` is kept in the checkpoint directory `dir`.
pub fn checkpoint_record(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}
