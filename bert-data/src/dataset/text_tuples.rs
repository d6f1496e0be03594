//! Rows of several texts and an optional score, as sentence-transformers
//! reads its training data: the score column (`score` or `label`) if there
//! is one, every other column in the file's order as a text (anchor,
//! positive, negatives; or the two texts of a scored pair), unless the
//! columns are named. CSV/TSV with a header, JSON lines, Parquet and Arrow.

use std::path::Path;
use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::files::{FileFormat, json_text, non_empty, row_error};
use super::table::Table;
use super::{DatasetError, EXTENSIONS, Example, Origin};

/// Which columns of a file are texts and which one is the score.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TupleColumns {
    /// The text columns in order; `None`: every column but the score's, in
    /// the file's order.
    pub texts: Option<Vec<String>>,
    /// The score column; `None`: `score`, else `label`, if the file has one.
    pub score: Option<String>,
}

/// Column names a score is looked for under when none is named.
pub const SCORE_COLUMNS: [&str; 2] = ["score", "label"];

/// One row: its texts in column order, its score as written, and where it
/// was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextTuple {
    /// The texts (anchor, positive, negatives...; or a pair).
    pub texts: Vec<String>,
    /// The score as written (a number, as text), if the data has one.
    pub score: Option<String>,
    /// Where it was read.
    pub origin: Origin,
}

impl From<Example> for TextTuple {
    /// A text pair and its label (e.g. STS-B's similarity) as a scored pair.
    fn from(example: Example) -> Self {
        Self {
            texts: std::iter::once(example.text)
                .chain(example.text_pair)
                .collect(),
            score: Some(example.label),
            origin: example.origin,
        }
    }
}

/// The text and score columns of a file whose columns are `available`, in
/// order; an error naming `file` and the columns when one asked for is absent.
fn choose_columns(
    columns: &TupleColumns,
    available: &[String],
    origin: &Origin,
) -> Result<(Vec<String>, Option<String>), DatasetError> {
    let find = |name: &str| {
        available
            .iter()
            .find(|column| column.as_str() == name)
            .cloned()
            .ok_or_else(|| {
                row_error(
                    origin,
                    format!("no column {name:?}; the file has {}", available.join(", ")),
                )
            })
    };
    let score = match &columns.score {
        Some(name) => Some(find(name)?),
        None => SCORE_COLUMNS
            .iter()
            .find(|name| available.iter().any(|column| column == *name))
            .map(|name| name.to_string()),
    };
    let texts = match &columns.texts {
        Some(names) => names
            .iter()
            .map(|name| find(name))
            .collect::<Result<_, _>>()?,
        None => available
            .iter()
            .filter(|column| Some(*column) != score.as_ref())
            .cloned()
            .collect(),
    };
    Ok((texts, score))
}

/// Reads every row of a local file; the first bad row is an error naming
/// `file:line` (or the row of a table).
pub fn read_tuples(path: &Path, columns: &TupleColumns) -> Result<Vec<TextTuple>, DatasetError> {
    let shown = path.display().to_string();
    let format = FileFormat::of(path).ok_or_else(|| DatasetError::File {
        path: shown.clone(),
        message: format!("unknown format: expected a {EXTENSIONS} file"),
    })?;
    let file: Arc<str> = shown.clone().into();
    if let FileFormat::Parquet | FileFormat::Arrow = format {
        return table_tuples(path, file, columns);
    }
    let bytes = std::fs::read(path).map_err(|e| DatasetError::File {
        path: shown,
        message: e.to_string(),
    })?;
    match format {
        FileFormat::Csv => delimited_tuples(&bytes, b',', file, columns),
        FileFormat::Tsv => delimited_tuples(&bytes, b'\t', file, columns),
        FileFormat::Jsonl => jsonl_tuples(&bytes, file, columns),
        FileFormat::Parquet | FileFormat::Arrow => unreachable!("tables are read above"),
    }
}

/// The score of a JSON field: a number, or a string holding one (checked later).
fn json_score(value: &Value, column: &str, origin: &Origin) -> Result<String, DatasetError> {
    match value {
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(u8::from(*b).to_string()),
        Value::String(s) => non_empty(s, column, origin),
        Value::Null => Err(row_error(origin, format!("{column:?} is null"))),
        other => Err(row_error(
            origin,
            format!("{column:?} must be a number, got {other}"),
        )),
    }
}

/// A row out of `(column, value)` pairs, texts and score as `texts` and `score` name them.
fn object_tuple<'a>(
    field: impl Fn(&str) -> Option<&'a Value>,
    texts: &[String],
    score: Option<&String>,
    origin: Origin,
) -> Result<TextTuple, DatasetError> {
    let get = |column: &str| {
        field(column).ok_or_else(|| row_error(&origin, format!("missing key {column:?}")))
    };
    Ok(TextTuple {
        texts: texts
            .iter()
            .map(|column| json_text(get(column)?, column, &origin))
            .collect::<Result<_, _>>()?,
        score: score
            .map(|column| json_score(get(column)?, column, &origin))
            .transpose()?,
        origin: origin.clone(),
    })
}

/// Every row of a Parquet or Arrow table.
fn table_tuples(
    path: &Path,
    file: Arc<str>,
    columns: &TupleColumns,
) -> Result<Vec<TextTuple>, DatasetError> {
    let table = Table::open(path)?;
    let available: Vec<String> = table.columns().into_iter().map(String::from).collect();
    let (texts, score) = choose_columns(columns, &available, &Origin::row(file, 0))?;
    let wanted: Vec<&str> = texts.iter().chain(&score).map(String::as_str).collect();
    table
        .rows(Some(&wanted))?
        .into_iter()
        .map(|row| object_tuple(|c| row.values.get(c), &texts, score.as_ref(), row.origin))
        .collect()
}

/// Every record of delimited `bytes` with a header row.
fn delimited_tuples(
    bytes: &[u8],
    delimiter: u8,
    file: Arc<str>,
    columns: &TupleColumns,
) -> Result<Vec<TextTuple>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header_origin = Origin::line(file.clone(), 1);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| row_error(&header_origin, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let (texts, score) = choose_columns(columns, &headers, &header_origin)?;
    let index = |name: &String| headers.iter().position(|h| h == name).unwrap_or_default();
    let text_indices: Vec<usize> = texts.iter().map(index).collect();
    let score_index = score.as_ref().map(index);
    let mut tuples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            let message = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            row_error(&Origin::line(file.clone(), line), message)
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let origin = Origin::line(file.clone(), line);
        if record.len() != headers.len() {
            let missing = text_indices
                .iter()
                .chain(&score_index)
                .find(|&&i| i >= record.len());
            let lengths = format!(
                "row has {} fields, the header has {}",
                record.len(),
                headers.len()
            );
            let message = match missing {
                Some(&i) => format!("missing column {:?} ({lengths})", headers[i]),
                None => lengths,
            };
            return Err(row_error(&origin, message));
        }
        tuples.push(TextTuple {
            texts: text_indices
                .iter()
                .map(|&i| non_empty(&record[i], &headers[i], &origin))
                .collect::<Result<_, _>>()?,
            score: score_index
                .map(|i| non_empty(&record[i], &headers[i], &origin))
                .transpose()?,
            origin,
        });
    }
    Ok(tuples)
}

/// A JSON object with its keys in the order written (serde_json's map sorts them).
struct OrderedObject(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = OrderedObject;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObject, A::Error> {
                let mut fields = Vec::new();
                while let Some(field) = map.next_entry::<String, Value>()? {
                    fields.push(field);
                }
                Ok(OrderedObject(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Every object of JSON-lines `bytes` (blank lines skipped); the columns
/// come from the first object's keys when not named.
fn jsonl_tuples(
    bytes: &[u8],
    file: Arc<str>,
    columns: &TupleColumns,
) -> Result<Vec<TextTuple>, DatasetError> {
    let mut chosen: Option<(Vec<String>, Option<String>)> = None;
    let mut tuples = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = Origin::line(file.clone(), index + 1);
        let line =
            std::str::from_utf8(line).map_err(|_| row_error(&origin, "not valid UTF-8 text"))?;
        if line.trim().is_empty() {
            continue;
        }
        let OrderedObject(fields) = serde_json::from_str(line).map_err(|e| {
            let message = match serde_json::from_str::<Value>(line) {
                Ok(other) => format!("expected a JSON object, got {other}"),
                Err(_) => format!("invalid JSON: {e}"),
            };
            row_error(&origin, message)
        })?;
        if chosen.is_none() {
            let keys: Vec<String> = fields.iter().map(|(key, _)| key.clone()).collect();
            chosen = Some(choose_columns(columns, &keys, &origin)?);
        }
        let (texts, score) = chosen.as_ref().expect("chosen above");
        let field = |column: &str| {
            fields
                .iter()
                .find(|(key, _)| key == column)
                .map(|(_, value)| value)
        };
        tuples.push(object_tuple(field, texts, score.as_ref(), origin)?);
    }
    Ok(tuples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, body: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(name).tempfile().unwrap();
        std::fs::write(file.path(), body).unwrap();
        file
    }

    fn read(name: &str, body: &[u8], columns: &TupleColumns) -> Result<Vec<TextTuple>, String> {
        read_tuples(write(name, body).path(), columns).map_err(|e| e.to_string())
    }

    fn texts(tuples: &[TextTuple]) -> Vec<Vec<&str>> {
        tuples
            .iter()
            .map(|t| t.texts.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn columns_in_file_order_the_score_apart() {
        let all = TupleColumns::default();
        let csv = read("t.csv", b"anchor,score,positive\na,0.5,b\n", &all).unwrap();
        assert_eq!(texts(&csv), [vec!["a", "b"]]);
        assert_eq!(csv[0].score.as_deref(), Some("0.5"));
        // JSON keys keep the order written (not sorted: negative < positive).
        let jsonl = read(
            "t.jsonl",
            b"{\"anchor\": \"q\", \"positive\": \"p\", \"negative\": \"n\"}\n\n{\"negative\": \"n2\", \"anchor\": \"q2\", \"positive\": \"p2\"}\n",
            &all,
        )
        .unwrap();
        assert_eq!(texts(&jsonl), [vec!["q", "p", "n"], vec!["q2", "p2", "n2"]]);
        assert_eq!(jsonl[1].origin.line, 3);
        assert_eq!(jsonl[0].score, None);
        let named = TupleColumns {
            texts: Some(vec!["s2".into(), "s1".into()]),
            score: Some("gold".into()),
        };
        let tsv = read("t.tsv", b"id\ts1\ts2\tgold\n7\tx\ty\t4\n", &named).unwrap();
        assert_eq!(texts(&tsv), [vec!["y", "x"]]);
        assert_eq!(tsv[0].score.as_deref(), Some("4"));
        let labelled = read(
            "t.jsonl",
            b"{\"a\": \"x\", \"b\": \"y\", \"label\": 1}\n",
            &all,
        );
        assert_eq!(labelled.unwrap()[0].score.as_deref(), Some("1"));
    }

    #[test]
    fn bad_rows_are_errors_with_file_and_line() {
        let all = TupleColumns::default();
        let cases: [(&str, &[u8], &str); 5] = [
            (
                "short.csv",
                b"anchor,positive\nq,p\nq2\n",
                ":3: missing column \"positive\"",
            ),
            (
                "empty.tsv",
                b"anchor\tpositive\nq\t \n",
                ":2: empty \"positive\"",
            ),
            (
                "gap.jsonl",
                b"{\"anchor\": \"q\", \"positive\": \"p\"}\n{\"anchor\": \"q\"}\n",
                ":2: missing key \"positive\"",
            ),
            (
                "null.jsonl",
                b"{\"anchor\": \"q\", \"positive\": null}\n",
                ":1: \"positive\" is null",
            ),
            (
                "list.jsonl",
                b"[1, 2]\n",
                ":1: expected a JSON object, got [1,2]",
            ),
        ];
        for (name, body, expected) in cases {
            let err = read(name, body, &all).unwrap_err();
            assert!(
                err.contains(name) && err.contains(expected),
                "{name}: {err}"
            );
        }
        let named = TupleColumns {
            texts: Some(vec!["query".into()]),
            score: None,
        };
        let err = read("h.csv", b"anchor,positive\nq,p\n", &named).unwrap_err();
        assert!(
            err.contains(":1: no column \"query\"; the file has anchor, positive"),
            "{err}"
        );
    }
}
