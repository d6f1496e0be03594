//! Choosing the data of a run: a built-in dataset, one local file split for
//! you, a folder or a Hugging Face dataset id (`org/name[:config]`) with a
//! file per split, or one local file per split.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::hub_data::{DatasetId, SplitFiles, find_dataset, split_files, unlabelled};
use bert_data::dataset::{
    BuiltinDataset, ColumnSpec, DatasetError, SplitFractions, Splits, declared_labels, read_file,
    seeded_split,
};
use bert_data::few_shot::{sample_at_most_per_class, sample_per_class};
use serde::{Deserialize, Serialize};
use tracing::info;

/// Where the examples come from (`--dataset`, `--train-file` ...).
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct DataArgs {
    /// A built-in dataset (rotten_tomatoes, imdb, bbc_news, tweet_sentiment,
    /// sms_spam; sts_b for regression; twitter_ner for token classification),
    /// a Hugging Face dataset id (`org/name` or `org/name:config`, from the
    /// Hugging Face caches or downloaded), a folder with a file per split
    /// (named train, validation/valid/dev, test), or a file that is split
    /// 80/10/10 for you (.csv/.tsv/.jsonl/.parquet/.arrow; CoNLL
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
    /// Column (name or 0-based number) of the text in local files (default
    /// `text`; `tokens` for token classification tables).
    #[arg(long)]
    pub text_column: Option<String>,
    /// Column of the second text of a pair, for pair classification.
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// Column of the label (default `label`; `labels` for multi-label,
    /// `ner_tags` for token classification tables).
    #[arg(long)]
    pub label_column: Option<String>,
    /// Seed of the split made for a single local file (or for a dataset without a validation split).
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
    /// classification, pair-classification, few-shot: train on this many
    /// examples of each label, drawn from the training split with
    /// `--split-seed`, and validate on at most as many (for few-shot
    /// experiments; the test split is kept whole).
    #[arg(long)]
    #[serde(default)]
    pub samples_per_class: Option<usize>,
}

/// Where the splits of a dataset are read from.
enum Source<T> {
    /// A file per split.
    Files(SplitFiles),
    /// One file, split 80/10/10.
    OneFile(PathBuf),
    /// A built-in dataset's splits.
    Builtin(Splits<T>),
}

impl DataArgs {
    /// The columns of local files, `default_text` and `default_label` where not given.
    pub fn columns(&self, default_text: &str, default_label: &str) -> ColumnSpec {
        ColumnSpec {
            text: self
                .text_column
                .clone()
                .unwrap_or_else(|| default_text.to_string()),
            text_pair: self.text_pair_column.clone(),
            label: self
                .label_column
                .clone()
                .unwrap_or_else(|| default_label.to_string()),
        }
    }

    /// `--dataset` (a built-in name, an id, a folder or a file).
    pub fn dataset_name(&self) -> Result<String> {
        self.dataset.clone().context(
            "this task has no built-in dataset: give --dataset FILE or --train-file/--validation-file",
        )
    }

    /// The name of a run's default folder: the file's stem, or the
    /// dataset's name (and config) without its organisation.
    pub fn run_name(&self) -> Option<String> {
        let name = self.dataset_name().ok()?;
        if let Some(id) = DatasetId::parse(&name).filter(|_| !Path::new(&name).exists()) {
            return Some(id.short_name());
        }
        Path::new(&name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
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

    /// `splits` with the training split cut to `--samples-per-class`
    /// examples per label, if given, and the validation split to at most as
    /// many (a few-shot setting has no large validation set either).
    pub fn sample_per_class(&self, mut splits: Splits) -> Result<Splits> {
        if let Some(per_class) = self.samples_per_class {
            if per_class == 0 {
                bail!("--samples-per-class must be at least 1");
            }
            splits.train = sample_per_class(&splits.train, per_class, self.split_seed)
                .with_context(|| format!("--samples-per-class {per_class}"))?;
            splits.validation =
                sample_at_most_per_class(&splits.validation, per_class, self.split_seed);
        }
        Ok(splits)
    }

    /// Reads the train, validation and test texts (or pairs) with one label
    /// each, the label names a table declares kept.
    pub fn load_examples(&self, cache: &AssetCache, default_label: &str) -> Result<Splits> {
        let columns = self.columns("text", default_label);
        self.load_with(
            cache,
            Some(&columns.label),
            |path| read_file(path, &columns),
            |name| BuiltinDataset::find(name)?.load(cache),
        )
    }

    /// The splits of the data: local files per split (`read` reads one), a
    /// folder or a Hugging Face dataset with a file per split, one local
    /// file split 80/10/10, or the built-in dataset that `builtin` loads by
    /// name (which wins over a dataset id). `labels` names the label column:
    /// the label names its table declares are kept, and a test split
    /// without labels is left out (the validation split is then the test split).
    pub fn load_with<T: Clone>(
        &self,
        cache: &AssetCache,
        labels: Option<&str>,
        read: impl Fn(&Path) -> Result<Vec<T>, DatasetError>,
        builtin: impl FnOnce(&str) -> Result<Splits<T>, DatasetError>,
    ) -> Result<Splits<T>> {
        let (name, source) = match (&self.train_file, &self.validation_file) {
            (Some(train), Some(validation)) => {
                let files = SplitFiles {
                    train: vec![train.clone()],
                    validation: vec![validation.clone()],
                    test: self.test_file.iter().cloned().collect(),
                    found_in: "the files given".into(),
                };
                (train.display().to_string(), Source::Files(files))
            }
            _ => {
                let name = self.dataset_name()?;
                let path = PathBuf::from(&name);
                let source = if path.is_file() {
                    Source::OneFile(path)
                } else if path.is_dir() {
                    Source::Files(split_files(&path, None)?)
                } else {
                    match (builtin(&name), DatasetId::parse(&name)) {
                        (Err(DatasetError::UnknownDataset { .. }), Some(id)) => {
                            Source::Files(find_dataset(cache.hub(), &id)?)
                        }
                        (splits, _) => {
                            Source::Builtin(splits.with_context(|| format!("--dataset {name}"))?)
                        }
                    }
                };
                (name, source)
            }
        };
        let splits = match source {
            Source::Files(files) => self.read_split_files(&name, files, labels, &read)?,
            Source::OneFile(path) => {
                let mut splits =
                    seeded_split(read(&path)?, self.split_seed, SplitFractions::default());
                splits.label_names = declared(&path, labels)?;
                splits
            }
            Source::Builtin(splits) => splits,
        };
        check_sizes(&name, &splits)?;
        Ok(splits)
    }

    /// The splits of a file per split; a missing validation split is cut
    /// from train with `--split-seed`, a missing (or unlabelled) test split
    /// is the validation split.
    fn read_split_files<T: Clone>(
        &self,
        name: &str,
        files: SplitFiles,
        labels: Option<&str>,
        read: &impl Fn(&Path) -> Result<Vec<T>, DatasetError>,
    ) -> Result<Splits<T>> {
        let read_all = |paths: &[PathBuf]| -> Result<Vec<T>> {
            let mut examples = Vec::new();
            for path in paths {
                let read = read(path)?;
                if read.is_empty() {
                    bail!("{} has no examples", path.display());
                }
                examples.extend(read);
            }
            Ok(examples)
        };
        let count = |paths: &[PathBuf]| match paths.len() {
            1 => "1 file".to_string(),
            n => format!("{n} files"),
        };
        info!(
            "{name}: train {}, validation {}, test {} (from {})",
            count(&files.train),
            count(&files.validation),
            count(&files.test),
            files.found_in
        );
        let mut test_files = files.test;
        if let Some(column) = labels
            && !test_files.is_empty()
            && test_files
                .iter()
                .all(|f| bert_data::dataset::FileFormat::is_table(f))
            && unlabelled(&test_files, column)?
        {
            info!("{name}: its test split has no labels (all {column:?} null or -1): left out");
            test_files.clear();
        }
        let train = read_all(&files.train)?;
        let label_names = match files.train.first() {
            Some(first) => declared(first, labels)?,
            None => None,
        };
        let seed = self.split_seed;
        let mut splits = match (files.validation.is_empty(), test_files.is_empty()) {
            (false, test_absent) => {
                let validation = read_all(&files.validation)?;
                let test = match test_absent {
                    true => {
                        info!("{name}: no test split: the validation split is also the test split");
                        validation.clone()
                    }
                    false => read_all(&test_files)?,
                };
                Splits::new(train, validation, test)
            }
            (true, false) => {
                info!("{name}: no validation split: 10% of train cut for it (--split-seed {seed})");
                let fractions = SplitFractions {
                    validation: 0.1,
                    test: 0.0,
                };
                let cut = seeded_split(train, seed, fractions);
                Splits::new(cut.train, cut.validation, read_all(&test_files)?)
            }
            (true, true) => {
                info!("{name}: train only: split 80/10/10 (--split-seed {seed})");
                seeded_split(train, seed, SplitFractions::default())
            }
        };
        splits.label_names = label_names;
        Ok(splits)
    }
}

/// The label names `path` declares for the column `labels`, if any.
fn declared(path: &Path, labels: Option<&str>) -> Result<Option<Vec<String>>> {
    Ok(match labels {
        Some(column) => declared_labels(path, column)?,
        None => None,
    })
}

/// Refuses data without examples, or with an empty split.
fn check_sizes<T>(name: &str, splits: &Splits<T>) -> Result<()> {
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
            "{name}: its {split} split is empty ({total} examples); \
             use more examples, or give --train-file and --validation-file"
        );
    }
    Ok(())
}
