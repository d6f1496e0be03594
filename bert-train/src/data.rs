//! Choosing the data of a run: a built-in dataset, one local file split for
//! you, or one local file per split.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{
    BuiltinDataset, ColumnSpec, SplitFractions, Splits, read_file, seeded_split,
};
use serde::{Deserialize, Serialize};

/// Where the examples come from (`--dataset`, `--train-file` ...).
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct DataArgs {
    /// A built-in dataset (rotten_tomatoes, imdb, bbc_news, tweet_sentiment,
    /// sms_spam) or a .csv/.tsv/.jsonl file that is split 80/10/10 for you.
    #[arg(long, default_value = "rotten_tomatoes")]
    pub dataset: String,
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
    /// Column of the label.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Seed of the split made for a single local file.
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
}

impl DataArgs {
    fn columns(&self) -> ColumnSpec {
        ColumnSpec {
            text: self.text_column.clone(),
            text_pair: self.text_pair_column.clone(),
            label: self.label_column.clone(),
        }
    }

    /// Short description of the data, for logs.
    pub fn describe(&self) -> String {
        match &self.train_file {
            Some(train) => format!("{} (+ validation/test files)", train.display()),
            None => self.dataset.clone(),
        }
    }

    /// Reads the train, validation and test examples.
    pub fn load(&self, cache: &AssetCache) -> Result<Splits> {
        let columns = self.columns();
        if let (Some(train), Some(validation)) = (&self.train_file, &self.validation_file) {
            let validation = read_file(validation, &columns)?;
            let test = match &self.test_file {
                Some(test) => read_file(test, &columns)?,
                None => validation.clone(),
            };
            return Ok(Splits {
                train: read_file(train, &columns)?,
                validation,
                test,
            });
        }
        let path = PathBuf::from(&self.dataset);
        if path.is_file() {
            let examples = read_file(&path, &columns)?;
            return Ok(seeded_split(
                examples,
                self.split_seed,
                SplitFractions::default(),
            ));
        }
        let dataset = BuiltinDataset::find(&self.dataset)
            .with_context(|| format!("--dataset {}", self.dataset))?;
        let splits = dataset.load(cache)?;
        if splits.train.is_empty() {
            bail!("{} has no training examples", self.dataset);
        }
        Ok(splits)
    }
}
