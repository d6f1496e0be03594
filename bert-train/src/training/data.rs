//! Choosing the data of a run: a built-in dataset, one local file split for
//! you, or one local file per split.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{
    BuiltinDataset, ColumnSpec, DatasetError, SplitFractions, Splits, read_file, seeded_split,
};
use serde::{Deserialize, Serialize};

/// Where the examples come from (`--dataset`, `--train-file` ...).
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct DataArgs {
    /// A built-in dataset (rotten_tomatoes, imdb, bbc_news, tweet_sentiment,
    /// sms_spam; sts_b for regression; twitter_ner for token classification)
    /// or a file that is split 80/10/10 for you (.csv/.tsv/.jsonl; CoNLL
    /// `word<TAB>tag` for token classification). Default: the task's built-in one.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Training file; with it, `--validation-file` is required and `--dataset` unused.
    #[arg(long, requires = "validation_file")]
    pub train_file: Option<PathBuf>,
    /// Validation file.
    #[arg(long)]
    pub validation_file: Option<PathBuf>,
    /// Test file (the validation file is reused when absent).
    #[arg(long)]
    pub test_file: Option<PathBuf>,
    /// Column (name or 0-based number) of the text in local files.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// Column of the second text of a pair, for pair classification.
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// Column of the label (default `label`; `labels` for multi-label).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Seed of the split made for a single local file.
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
}

impl DataArgs {
    /// The columns of local files; the label column defaults to `default_label`.
    pub fn columns(&self, default_label: &str) -> ColumnSpec {
        ColumnSpec {
            text: self.text_column.clone(),
            text_pair: self.text_pair_column.clone(),
            label: self
                .label_column
                .clone()
                .unwrap_or_else(|| default_label.to_string()),
        }
    }

    /// `--dataset` (a built-in name or a file).
    pub fn dataset_name(&self) -> Result<String> {
        self.dataset.clone().context(
            "this task has no built-in dataset: give --dataset FILE or --train-file/--validation-file",
        )
    }

    /// Short description of the data, for logs.
    pub fn describe(&self) -> String {
        match &self.train_file {
            Some(train) => format!("{} (+ validation/test files)", train.display()),
            None => self.dataset_name().unwrap_or_else(|_| "no dataset".into()),
        }
    }

    /// The same data with `dataset` in place of the run's files and name.
    pub fn with_dataset(&self, dataset: &str) -> Self {
        Self {
            dataset: Some(dataset.to_string()),
            train_file: None,
            validation_file: None,
            test_file: None,
            ..self.clone()
        }
    }

    /// Reads the train, validation and test texts (or pairs) with one label each.
    pub fn load_examples(&self, cache: &AssetCache, default_label: &str) -> Result<Splits> {
        let columns = self.columns(default_label);
        self.load_with(
            |path| read_file(path, &columns),
            |name| BuiltinDataset::find(name)?.load(cache),
        )
    }

    /// Local files per split (`read` reads one), one local file split
    /// 80/10/10, or the built-in dataset that `builtin` loads by name.
    pub fn load_with<T: Clone>(
        &self,
        read: impl Fn(&Path) -> Result<Vec<T>, DatasetError>,
        builtin: impl FnOnce(&str) -> Result<Splits<T>, DatasetError>,
    ) -> Result<Splits<T>> {
        if let (Some(train), Some(validation)) = (&self.train_file, &self.validation_file) {
            let read_some = |path: &Path| -> Result<Vec<T>> {
                let examples = read(path)?;
                if examples.is_empty() {
                    bail!("{} has no examples", path.display());
                }
                Ok(examples)
            };
            let train = read_some(train)?;
            let validation = read_some(validation)?;
            let test = match &self.test_file {
                Some(test) => read_some(test)?,
                None => validation.clone(),
            };
            return Ok(Splits {
                train,
                validation,
                test,
            });
        }
        let name = self.dataset_name()?;
        let path = PathBuf::from(&name);
        let splits = if path.is_file() {
            seeded_split(read(&path)?, self.split_seed, SplitFractions::default())
        } else {
            builtin(&name).with_context(|| format!("--dataset {name}"))?
        };
        let sizes = [
            ("training", splits.train.len()),
            ("validation", splits.validation.len()),
            ("test", splits.test.len()),
        ];
        let total: usize = sizes.iter().map(|(_, size)| size).sum();
        if total == 0 {
            bail!("{name} has no examples");
        }
        if let Some((split, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            bail!(
                "{name}: its {split} split is empty ({total} examples split 80/10/10); \
                 use more examples, or give --train-file and --validation-file"
            );
        }
        Ok(splits)
    }
}
