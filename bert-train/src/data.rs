//! Choosing the data of a run: a built-in dataset, one local file split for
//! you, or one local file per split.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{
    BuiltinDataset, ColumnSpec, DatasetError, Example, SplitFractions, Splits, TaggedDataset,
    TaggedSentence, read_conll, read_file, read_utf8, seeded_split,
};
use bert_data::pretraining::split_documents;
use bert_data::question_answering::{QaExample, read_squad};
use serde::{Deserialize, Serialize};

use crate::task::Task;

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

    /// `--dataset`, or the task's built-in dataset.
    pub fn dataset_name(&self, task: Task) -> Result<String> {
        match (&self.dataset, task.default_dataset()) {
            (Some(name), _) => Ok(name.clone()),
            (None, Some(name)) => Ok(name.to_string()),
            (None, None) => bail!(
                "--task {} has no built-in dataset: give --dataset FILE or --train-file/--validation-file",
                task.name()
            ),
        }
    }

    /// Short description of the data, for logs.
    pub fn describe(&self, task: Task) -> String {
        match &self.train_file {
            Some(train) => format!("{} (+ validation/test files)", train.display()),
            None => self
                .dataset_name(task)
                .unwrap_or_else(|_| "no dataset".into()),
        }
    }

    /// Reads the train, validation and test texts (or pairs) with their labels.
    pub fn load(&self, cache: &AssetCache, task: Task) -> Result<Splits> {
        let columns = self.columns();
        let splits = self.load_with(
            task,
            |path| read_file(path, &columns),
            |name| BuiltinDataset::find(name)?.load(cache),
        )?;
        if task == Task::PairClassification
            && let Some(single) = splits.train.iter().find(|e| e.text_pair.is_none())
        {
            bail!(
                "{}: pair classification needs a second text (--text-pair-column)",
                single.origin
            );
        }
        Ok(splits)
    }

    /// Reads the train, validation and test documents (sentences) of
    /// pre-training: the texts of a built-in dataset, or `.txt` files with
    /// one document per paragraph.
    pub fn load_documents(&self, cache: &AssetCache, task: Task) -> Result<Splits<Vec<String>>> {
        self.load_with(
            task,
            |path| Ok(split_documents(&read_utf8(path)?)),
            |name| {
                let splits = BuiltinDataset::find(name)?.load(cache)?;
                let documents = |examples: Vec<Example>| {
                    examples
                        .iter()
                        .flat_map(|e| split_documents(&e.text))
                        .collect()
                };
                Ok(Splits {
                    train: documents(splits.train),
                    validation: documents(splits.validation),
                    test: documents(splits.test),
                })
            },
        )
    }

    /// Reads the train, validation and test questions of a SQuAD v1.1 task.
    pub fn load_questions(&self, task: Task) -> Result<Splits<QaExample>> {
        self.load_with(task, read_squad, |name| {
            Err(DatasetError::UnknownDataset {
                name: name.to_string(),
                known: "none for question answering: give a SQuAD v1.1 .json file".into(),
            })
        })
    }

    /// Reads the train, validation and test sentences of a token task.
    pub fn load_tagged(&self, cache: &AssetCache, task: Task) -> Result<Splits<TaggedSentence>> {
        self.load_with(task, read_conll, |name| {
            TaggedDataset::find(name)?.load(cache)
        })
    }

    /// Local files per split, one local file split for you, or a built-in dataset.
    fn load_with<T: Clone>(
        &self,
        task: Task,
        read: impl Fn(&Path) -> Result<Vec<T>, DatasetError>,
        builtin: impl FnOnce(&str) -> Result<Splits<T>, DatasetError>,
    ) -> Result<Splits<T>> {
        if let (Some(train), Some(validation)) = (&self.train_file, &self.validation_file) {
            let validation = read(validation)?;
            let test = match &self.test_file {
                Some(test) => read(test)?,
                None => validation.clone(),
            };
            return Ok(Splits {
                train: read(train)?,
                validation,
                test,
            });
        }
        let name = self.dataset_name(task)?;
        let path = PathBuf::from(&name);
        let splits = if path.is_file() {
            seeded_split(read(&path)?, self.split_seed, SplitFractions::default())
        } else {
            builtin(&name).with_context(|| format!("--dataset {name}"))?
        };
        if splits.train.is_empty() {
            bail!("{name} has no training examples");
        }
        Ok(splits)
    }
}
