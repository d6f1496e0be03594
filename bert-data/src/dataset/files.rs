//! Local CSV, TSV, JSON-lines, Parquet and Arrow files with named (or
//! numbered) columns, one label or a list of labels per row.

use std::path::Path;
use std::sync::Arc;

use super::table::{Table, TableRow};
use super::{DatasetError, Example, MultiLabelExample, Origin};

/// A supported file format, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated, header row first.
    Csv,
    /// Tab-separated, header row first.
    Tsv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet (the Hugging Face hub's format).
    Parquet,
    /// Arrow IPC, file or stream (the `datasets` cache's format).
    Arrow,
}

/// The extensions [`FileFormat::of`] knows, as errors list them.
pub const EXTENSIONS: &str = ".csv, .tsv, .jsonl, .parquet or .arrow";

impl FileFormat {
    /// The format of `path` by its extension (`.csv`, `.tsv`, `.jsonl`/`.json`,
    /// `.parquet`, `.arrow`).
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "tsv" => Some(Self::Tsv),
            "jsonl" | "json" => Some(Self::Jsonl),
            "parquet" => Some(Self::Parquet),
            "arrow" => Some(Self::Arrow),
            _ => None,
        }
    }

    /// Whether `path` is a table (Parquet or Arrow) by its extension.
    pub fn is_table(path: &Path) -> bool {
        matches!(Self::of(path), Some(Self::Parquet | Self::Arrow))
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

/// The label names a table file declares for `column` (a Hugging Face
/// `ClassLabel`, or a list of them), in class-id order; `None` for a text
/// file or an undeclared column.
pub fn declared_labels(path: &Path, column: &str) -> Result<Option<Vec<String>>, DatasetError> {
    if !FileFormat::is_table(path) {
        return Ok(None);
    }
    Ok(Table::open(path)?
        .class_names(column)
        .map(<[String]>::to_vec))
}

/// Reads every example of a local file; the first bad row is an error naming `file:line`.
pub fn read_file(path: &Path, columns: &ColumnSpec) -> Result<Vec<Example>, DatasetError> {
    let rows = read_rows(path, columns, |raw, origin| {
        one_label(raw, &columns.label, origin)
    })?;
    Ok(rows.into_iter().map(Row::into_example).collect())
}

/// Reads every example of a local file whose label field is a list (a JSON
/// list, or a CSV/TSV cell split on the non-empty `separator`), each label
/// kept once; the first bad row is an error naming `file:line`.
pub fn read_multi_label_file(
    path: &Path,
    columns: &ColumnSpec,
    separator: &str,
) -> Result<Vec<MultiLabelExample>, DatasetError> {
    if separator.is_empty() {
        return Err(DatasetError::File {
            path: path.display().to_string(),
            message: "the label separator must not be empty".into(),
        });
    }
    let rows = read_rows(path, columns, |raw, origin| {
        label_list(raw, &columns.label, separator, origin)
    })?;
    Ok(rows
        .into_iter()
        .map(|row| MultiLabelExample {
            text: row.text,
            text_pair: row.text_pair,
            labels: row.label,
            origin: row.origin,
        })
        .collect())
}

/// A row's label field, before it is read as one label or as a list.
#[derive(Clone, Copy, Debug)]
enum RawLabel<'a> {
    /// A CSV/TSV cell.
    Cell(&'a str),
    /// A JSON value.
    Json(&'a serde_json::Value),
}

/// One row: its texts, its label read as `L`, and where it was read.
struct Row<L> {
    text: String,
    text_pair: Option<String>,
    label: L,
    origin: Origin,
}

impl Row<String> {
    fn into_example(self) -> Example {
        Example {
            text: self.text,
            text_pair: self.text_pair,
            label: self.label,
            origin: self.origin,
        }
    }
}

/// Reads every row of a local file, its label field read with `label`.
fn read_rows<L>(
    path: &Path,
    columns: &ColumnSpec,
    label: impl Fn(RawLabel<'_>, &Origin) -> Result<L, DatasetError>,
) -> Result<Vec<Row<L>>, DatasetError> {
    let shown = path.display().to_string();
    let format = FileFormat::of(path).ok_or_else(|| DatasetError::File {
        path: shown.clone(),
        message: format!("unknown format: expected a {EXTENSIONS} file"),
    })?;
    if let FileFormat::Parquet | FileFormat::Arrow = format {
        return table_rows(path, columns, label);
    }
    let bytes = std::fs::read(path).map_err(|e| DatasetError::File {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let file: Arc<str> = shown.into();
    match format {
        FileFormat::Csv => delimited_rows(&bytes, b',', file, columns, None, label),
        FileFormat::Tsv => delimited_rows(&bytes, b'\t', file, columns, None, label),
        FileFormat::Jsonl => jsonl_rows(&bytes, file, columns, label),
        FileFormat::Parquet | FileFormat::Arrow => unreachable!("tables are read above"),
    }
}

/// Every row of a Parquet or Arrow table, its label field read with `label`.
fn table_rows<L>(
    path: &Path,
    columns: &ColumnSpec,
    label: impl Fn(RawLabel<'_>, &Origin) -> Result<L, DatasetError>,
) -> Result<Vec<Row<L>>, DatasetError> {
    let names: Vec<&str> = [
        Some(&columns.text),
        columns.text_pair.as_ref(),
        Some(&columns.label),
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    Table::open(path)?
        .rows(Some(&names))?
        .into_iter()
        .map(|TableRow { origin, values }| object_row(&values, origin, columns, &label))
        .collect()
}

/// The row of a JSON object (a JSON line, or a table row).
fn object_row<L>(
    object: &serde_json::Map<String, serde_json::Value>,
    origin: Origin,
    columns: &ColumnSpec,
    label: &impl Fn(RawLabel<'_>, &Origin) -> Result<L, DatasetError>,
) -> Result<Row<L>, DatasetError> {
    let field = |column: &str| {
        object
            .get(column)
            .ok_or_else(|| row_error(&origin, format!("missing key {column:?}")))
    };
    let text = |column: &str| json_text(field(column)?, column, &origin);
    Ok(Row {
        text: text(&columns.text)?,
        text_pair: columns.text_pair.as_deref().map(text).transpose()?,
        label: label(RawLabel::Json(field(&columns.label)?), &origin)?,
        origin: origin.clone(),
    })
}

pub(super) fn row_error(origin: &Origin, message: impl Into<String>) -> DatasetError {
    DatasetError::Row {
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// Trims a field and refuses empty texts.
pub(super) fn non_empty(
    value: &str,
    column: &str,
    origin: &Origin,
) -> Result<String, DatasetError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(row_error(origin, format!("empty {column:?}")));
    }
    Ok(value.to_string())
}

/// A JSON string field, trimmed and non-empty.
pub(super) fn json_text(
    value: &serde_json::Value,
    column: &str,
    origin: &Origin,
) -> Result<String, DatasetError> {
    match value {
        serde_json::Value::String(s) => non_empty(s, column, origin),
        serde_json::Value::Null => Err(row_error(origin, format!("{column:?} is null"))),
        other => Err(row_error(
            origin,
            format!("{column:?} must be a string, got {other}"),
        )),
    }
}

/// The single label of `column`: a non-empty cell, or a JSON string, number or boolean.
fn one_label(raw: RawLabel<'_>, column: &str, origin: &Origin) -> Result<String, DatasetError> {
    match raw {
        RawLabel::Cell(cell) => non_empty(cell, column, origin),
        RawLabel::Json(serde_json::Value::Number(n)) => Ok(n.to_string()),
        RawLabel::Json(serde_json::Value::Bool(b)) => Ok(b.to_string()),
        RawLabel::Json(serde_json::Value::Null) => Err(row_error(
            origin,
            format!(
                "no label in {column:?} (null, or -1: an unlabelled row of a Hugging Face dataset)"
            ),
        )),
        RawLabel::Json(value) => json_text(value, column, origin),
    }
}

/// The distinct labels of `column`, in first-written order: a JSON list of
/// strings or numbers, or a cell split on `separator` (empty: no labels).
fn label_list(
    raw: RawLabel<'_>,
    column: &str,
    separator: &str,
    origin: &Origin,
) -> Result<Vec<String>, DatasetError> {
    let one = |label: &str| {
        let label = label.trim();
        if label.is_empty() {
            return Err(row_error(origin, format!("empty label in {column:?}")));
        }
        Ok(label.to_string())
    };
    let all = match raw {
        RawLabel::Cell(cell) if cell.trim().is_empty() => Vec::new(),
        RawLabel::Cell(cell) => cell.split(separator).map(one).collect::<Result<_, _>>()?,
        RawLabel::Json(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => one(s),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                other => Err(row_error(
                    origin,
                    format!("{column:?} must hold strings or numbers, got {other}"),
                )),
            })
            .collect::<Result<_, _>>()?,
        RawLabel::Json(other) => {
            return Err(row_error(
                origin,
                format!("{column:?} must be a list of labels, got {other}"),
            ));
        }
    };
    let mut distinct: Vec<String> = Vec::with_capacity(all.len());
    for label in all {
        if !distinct.contains(&label) {
            distinct.push(label);
        }
    }
    Ok(distinct)
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
    let rows = delimited_rows(bytes, delimiter, file, columns, keep, |raw, origin| {
        one_label(raw, &columns.label, origin)
    })?;
    Ok(rows.into_iter().map(Row::into_example).collect())
}

/// [`read_delimited`]'s rows, their label cell read with `label`. Every row
/// must have as many fields as the header.
fn delimited_rows<L>(
    bytes: &[u8],
    delimiter: u8,
    file: Arc<str>,
    columns: &ColumnSpec,
    keep: Option<(&str, &str)>,
    label: impl Fn(RawLabel<'_>, &Origin) -> Result<L, DatasetError>,
) -> Result<Vec<Row<L>>, DatasetError> {
    // Flexible only so that a row of the wrong length gets our error below
    // (naming the missing column, or both lengths) instead of csv's; no
    // built-in file has such rows.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header_origin = Origin::line(file.clone(), 1);
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
    let pair = columns
        .text_pair
        .as_deref()
        .map(|name| index(name).map(|i| (i, name)))
        .transpose()?;
    let label_index = index(&columns.label)?;
    let keep = keep
        .map(|(column, value)| index(column).map(|i| (i, value)))
        .transpose()?;
    let needed = [
        Some((text, columns.text.as_str())),
        pair,
        Some((label_index, columns.label.as_str())),
    ];

    let mut rows = Vec::new();
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
            let lengths = format!(
                "row has {} fields, the header has {}",
                record.len(),
                headers.len()
            );
            let missing = needed.iter().flatten().find(|(i, _)| *i >= record.len());
            let message = match missing {
                Some((_, column)) => format!("missing column {column:?} ({lengths})"),
                None => lengths,
            };
            return Err(row_error(&origin, message));
        }
        // Every column index is below the header's length, so now the row's.
        if keep.is_some_and(|(i, value)| &record[i] != value) {
            continue;
        }
        rows.push(Row {
            text: non_empty(&record[text], &columns.text, &origin)?,
            text_pair: pair
                .map(|(i, name)| non_empty(&record[i], name, &origin))
                .transpose()?,
            label: label(RawLabel::Cell(&record[label_index]), &origin)?,
            origin,
        });
    }
    Ok(rows)
}

/// Every object of JSON-lines `bytes` (blank lines skipped) as a row, its
/// label field read with `label`.
fn jsonl_rows<L>(
    bytes: &[u8],
    file: Arc<str>,
    columns: &ColumnSpec,
    label: impl Fn(RawLabel<'_>, &Origin) -> Result<L, DatasetError>,
) -> Result<Vec<Row<L>>, DatasetError> {
    let mut rows = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let origin = Origin::line(file.clone(), index + 1);
        let line =
            std::str::from_utf8(line).map_err(|_| row_error(&origin, "not valid UTF-8 text"))?;
        if line.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(other) => {
                return Err(row_error(
                    &origin,
                    format!("expected a JSON object, got {other}"),
                ));
            }
            Err(e) => return Err(row_error(&origin, format!("invalid JSON: {e}"))),
        };
        rows.push(object_row(&object, origin, columns, &label)?);
    }
    Ok(rows)
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
    fn rows_of_another_length_than_the_header_are_errors() {
        let columns = ColumnSpec::default();
        let longer = error("long.csv", b"text,label\nfine,1\nnot,quoted,0\n", &columns);
        assert!(
            longer.contains("long.csv:3: row has 3 fields, the header has 2"),
            "{longer}"
        );
        let shorter = error(
            "short.tsv",
            b"text\tlabel\tid\nfine\t1\t7\nbad\t0\n",
            &columns,
        );
        assert!(
            shorter.contains("short.tsv:3: row has 2 fields, the header has 3"),
            "{shorter}"
        );
    }

    fn multi(name: &str, body: &[u8], separator: &str) -> Result<Vec<MultiLabelExample>, String> {
        let columns = ColumnSpec {
            label: "labels".into(),
            ..ColumnSpec::default()
        };
        read_multi_label_file(write(name, body).path(), &columns, separator)
            .map_err(|e| e.to_string())
    }

    fn labels_of(examples: &[MultiLabelExample]) -> Vec<Vec<&str>> {
        examples
            .iter()
            .map(|e| e.labels.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn reads_multi_label_jsonl_lists() {
        let examples = multi(
            "tags.jsonl",
            b"{\"text\": \"a\", \"labels\": [\"sports\", \" art \", \"sports\"]}\n\n\
              {\"text\": \"b\", \"labels\": []}\n\
              {\"text\": \"c\", \"labels\": [3, 1.5, \"x\"]}\n",
            ",",
        )
        .unwrap();
        assert_eq!(
            labels_of(&examples),
            [vec!["sports", "art"], vec![], vec!["3", "1.5", "x"]]
        );
        assert_eq!(examples[1].text, "b");
        assert_eq!(examples[2].origin.line, 4);
    }

    #[test]
    fn reads_multi_label_csv_cells_split_on_the_separator() {
        let body = b"text,labels\n\"x, y\",\"a, b ,a\"\nz,\nw,c\n";
        let examples = multi("tags.csv", body, ",").unwrap();
        assert_eq!(labels_of(&examples), [vec!["a", "b"], vec![], vec!["c"]]);
        assert_eq!(examples[0].text, "x, y");
        assert_eq!(examples[2].origin.line, 4);
        let piped = multi("tags.tsv", b"text\tlabels\nx\ta|b, c\n", "|").unwrap();
        assert_eq!(labels_of(&piped), [vec!["a", "b, c"]]);
    }

    #[test]
    fn bad_multi_label_rows_are_errors_with_file_and_line() {
        let cases: [(&str, &[u8], &str); 6] = [
            (
                "string.jsonl",
                b"{\"text\": \"a\", \"labels\": []}\n{\"text\": \"b\", \"labels\": \"x\"}\n",
                ":2: \"labels\" must be a list of labels, got \"x\"",
            ),
            (
                "number.jsonl",
                b"{\"text\": \"a\", \"labels\": 3}\n",
                ":1: \"labels\" must be a list of labels, got 3",
            ),
            (
                "nested.jsonl",
                b"{\"text\": \"a\", \"labels\": [[\"x\"]]}\n",
                ":1: \"labels\" must hold strings or numbers",
            ),
            (
                "blank.jsonl",
                b"{\"text\": \"a\", \"labels\": [\"x\"]}\n{\"text\": \"b\", \"labels\": [\"x\", \" \"]}\n",
                ":2: empty label in \"labels\"",
            ),
            (
                "gap.csv",
                b"text,labels\nfine,a\nbad,\"a,,b\"\n",
                ":3: empty label in \"labels\"",
            ),
            (
                "extra.csv",
                b"text,labels\nfine,a\nbad,a,b\n",
                ":3: row has 3 fields, the header has 2",
            ),
        ];
        for (name, body, expected) in cases {
            let err = multi(name, body, ",").unwrap_err();
            assert!(
                err.contains(name) && err.contains(expected),
                "{name}: {err}"
            );
        }
        let err = multi("tags.csv", b"text,labels\nx,a\n", "").unwrap_err();
        assert!(
            err.ends_with("the label separator must not be empty"),
            "{err}"
        );
    }

    #[test]
    fn unknown_extension_is_refused() {
        let err = error("data.xlsx", b"", &ColumnSpec::default());
        assert!(
            err.contains("expected a .csv, .tsv, .jsonl, .parquet or .arrow file"),
            "{err}"
        );
    }
}
