//! Local CSV, TSV and JSON-lines files with named (or numbered) columns.

use std::path::Path;
use std::sync::Arc;

use super::{DatasetError, Example, Origin};

/// A supported file format, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated, header row first.
    Csv,
    /// Tab-separated, header row first.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

impl FileFormat {
    /// The format of `path` by its extension (`.csv`, `.tsv`, `.jsonl`/`.json`).
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "jsonl" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Which columns hold the text, the optional second text and the label:
/// header names, or 0-based column numbers for CSV/TSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Column of the text.
    pub text: String,
    /// Column of the second text of a pair.
    pub text_pair: Option<String>,
    /// Column of the label.
    pub label: String,
}

impl Default for ColumnSpec {
    fn default() -> Self {
        Self {
            text: "text".into(),
            text_pair: None,
            label: "label".into(),
        }
    }
}

/// Reads every example of a local file; the first bad row is an error naming `file:line`.
pub fn read_file(path: &Path, columns: &ColumnSpec) -> Result<Vec<Example>, DatasetError> {
    let shown = path.display().to_string();
    let format = FileFormat::of(path).ok_or_else(|| DatasetError::File {
        path: shown.clone(),
        message: "unknown format: expected a .csv, .tsv or .jsonl file".into(),
    })?;
    let bytes = std::fs::read(path).map_err(|e| DatasetError::File {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let file: Arc<str> = shown.into();
    match format {
        FileFormat::Csv => read_delimited(&bytes, b',', file, columns, None),
        FileFormat::Tsv => read_delimited(&bytes, b'\t', file, columns, None),
        FileFormat::Jsonl => read_jsonl(&bytes, file, columns),
    }
}

fn row_error(origin: &Origin, message: impl Into<String>) -> DatasetError {
    DatasetError::Row {
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// Trims a field and refuses empty texts.
fn non_empty(value: &str, column: &str, origin: &Origin) -> Result<String, DatasetError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(row_error(origin, format!("empty {column:?}")));
    }
    Ok(value.to_string())
}

/// Reads delimited `bytes` with a header row; `keep`, as `(column, value)`,
/// keeps only the rows whose `column` holds `value`.
pub(super) fn read_delimited(
    bytes: &[u8],
    delimiter: u8,
    file: Arc<str>,
    columns: &ColumnSpec,
    keep: Option<(&str, &str)>,
) -> Result<Vec<Example>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header_origin = Origin {
        file: file.clone(),
        line: 1,
    };
    let headers = reader
        .headers()
        .map_err(|e| row_error(&header_origin, e.to_string()))?
        .clone();
    let index = |column: &str| -> Result<usize, DatasetError> {
        headers
            .iter()
            .position(|h| h.trim() == column)
            .or_else(|| column.parse::<usize>().ok().filter(|&i| i < headers.len()))
            .ok_or_else(|| {
                let names: Vec<&str> = headers.iter().collect();
                row_error(
                    &header_origin,
                    format!("no column {column:?}; the header has {}", names.join(", ")),
                )
            })
    };
    let text = index(&columns.text)?;
    let pair = columns.text_pair.as_deref().map(index).transpose()?;
    let label = index(&columns.label)?;
    let keep = keep
        .map(|(column, value)| index(column).map(|i| (i, value)))
        .transpose()?;

    let mut examples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            let message = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 text".to_string(),
                _ => e.to_string(),
            };
            row_error(
                &Origin {
                    file: file.clone(),
                    line,
                },
                message,
            )
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let origin = Origin {
            file: file.clone(),
            line,
        };
        if keep.is_some_and(|(i, value)| record.get(i) != Some(value)) {
            continue;
        }
        let field = |i: usize, column: &str| {
            record.get(i).ok_or_else(|| {
                row_error(
                    &origin,
                    format!(
                        "missing column {column:?} (the row has {} fields)",
                        record.len()
                    ),
                )
            })
        };
        examples.push(Example {
            text: non_empty(field(text, &columns.text)?, &columns.text, &origin)?,
            text_pair: match (pair, &columns.text_pair) {
                (Some(i), Some(name)) => Some(non_empty(field(i, name)?, name, &origin)?),
                _ => None,
            },
            label: non_empty(field(label, &columns.label)?, &columns.label, &origin)?,
            origin,
        });
    }
    Ok(examples)
}

fn read_jsonl(
    bytes: &[u8],
    file: Arc<str>,
    columns: &ColumnSpec,
) -> Result<Vec<Example>, DatasetError> {
    let mut examples = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = Origin {
            file: file.clone(),
            line: index + 1,
        };
        let line =
            std::str::from_utf8(line).map_err(|_| row_error(&origin, "not valid UTF-8 text"))?;
        if line.trim().is_empty() {
            continue;
        }
        let object: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| row_error(&origin, format!("invalid JSON: {e}")))?;
        let field = |column: &str| -> Result<String, DatasetError> {
            match object.get(column) {
                Some(serde_json::Value::String(s)) => non_empty(s, column, &origin),
                Some(serde_json::Value::Number(n)) if column == columns.label => Ok(n.to_string()),
                Some(serde_json::Value::Bool(b)) if column == columns.label => Ok(b.to_string()),
                Some(other) => Err(row_error(
                    &origin,
                    format!("{column:?} must be a string, got {other}"),
                )),
                None => Err(row_error(&origin, format!("missing key {column:?}"))),
            }
        };
        examples.push(Example {
            text: field(&columns.text)?,
            text_pair: columns.text_pair.as_deref().map(field).transpose()?,
            label: field(&columns.label)?,
            origin: origin.clone(),
        });
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file whose name ends in `name` (so its extension picks the format).
    fn write(name: &str, body: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(name).tempfile().unwrap();
        std::fs::write(file.path(), body).unwrap();
        file
    }

    fn error(name: &str, body: &[u8], columns: &ColumnSpec) -> String {
        read_file(write(name, body).path(), columns)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_csv_with_quotes_and_pairs() {
        let file = write(
            "pairs.csv",
            b"id,premise,hypothesis,gold\n1,\"A, b\",\"c \"\"d\"\"\",yes\n2,e,f,no\n",
        );
        let columns = ColumnSpec {
            text: "premise".into(),
            text_pair: Some("hypothesis".into()),
            label: "gold".into(),
        };
        let examples = read_file(file.path(), &columns).unwrap();
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[0].text, "A, b");
        assert_eq!(examples[0].text_pair.as_deref(), Some("c \"d\""));
        assert_eq!(examples[1].label, "no");
        assert_eq!(examples[1].origin.line, 3);
    }

    #[test]
    fn reads_tsv_by_column_number_and_jsonl_by_key() {
        let tsv = write("a.tsv", b"label\ttext\nspam\tWin now\n");
        let by_number = ColumnSpec {
            text: "1".into(),
            text_pair: None,
            label: "0".into(),
        };
        assert_eq!(
            read_file(tsv.path(), &by_number).unwrap()[0].text,
            "Win now"
        );
        let jsonl = write(
            "a.jsonl",
            b"{\"text\": \"good\", \"label\": 1}\n\n{\"text\": \"bad\", \"label\": 0}\n",
        );
        let examples = read_file(jsonl.path(), &ColumnSpec::default()).unwrap();
        assert_eq!(examples[1].label, "0");
        assert_eq!(examples[1].origin.line, 3);
    }

    #[test]
    fn bad_rows_are_errors_with_file_and_line() {
        let columns = ColumnSpec::default();
        let cases: [(&str, &[u8], &str); 6] = [
            (
                "missing.csv",
                b"text,label\nfine,1\nno label\n",
                ":3: missing column \"label\"",
            ),
            (
                "empty.csv",
                b"text,label\nfine,1\n  ,0\n",
                ":3: empty \"text\"",
            ),
            (
                "header.csv",
                b"sentence,label\nfine,1\n",
                ":1: no column \"text\"; the header has sentence, label",
            ),
            (
                "latin1.csv",
                b"text,label\ncaf\xe9,1\n",
                ":2: not valid UTF-8 text",
            ),
            (
                "broken.jsonl",
                b"{\"text\": \"a\", \"label\": 1}\n{\"text\": \n",
                ":2: invalid JSON",
            ),
            (
                "nolabel.jsonl",
                b"{\"text\": \"a\"}\n",
                ":1: missing key \"label\"",
            ),
        ];
        for (name, body, expected) in cases {
            let err = error(name, body, &columns);
            assert!(
                err.contains(name) && err.contains(expected),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn unknown_extension_is_refused() {
        let err = error("data.xlsx", b"", &ColumnSpec::default());
        assert!(
            err.contains("expected a .csv, .tsv or .jsonl file"),
            "{err}"
        );
    }
}
