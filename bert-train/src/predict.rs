//! `predict`'s input and output: JSON lines (or the rows of a Parquet or
//! Arrow table) in, one JSON line out per input with the input's fields
//! plus the task's result fields.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use bert_data::dataset::table::Table;
use bert_data::dataset::{FileFormat, Record};
use bert_data::{BertTokenizer, Encoding, TextBatcher};
use bert_model::BertInput;
use burn::tensor::{Device, Tensor};
use serde_json::{Map, Value, json};

use crate::inference::Batches;

/// One input: a non-blank line (a plain line is `{"text": line}`) or a
/// table row, with its number and its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct InputLine {
    /// 1-based line (or row) number.
    pub number: usize,
    /// Whether `number` counts lines or table rows.
    pub record: Record,
    /// The line's JSON fields.
    pub fields: Map<String, Value>,
}

impl InputLine {
    /// Parses line `number`.
    pub fn parse(line: &str, number: usize) -> Result<Self> {
        let input = |fields| Self {
            number,
            record: Record::Line,
            fields,
        };
        if !line.trim_start().starts_with('{') {
            return Ok(input(Map::from_iter([("text".to_string(), json!(line))])));
        }
        match serde_json::from_str(line).with_context(|| format!("line {number}: invalid JSON"))? {
            Value::Object(fields) => Ok(input(fields)),
            _ => bail!("line {number}: expected a JSON object"),
        }
    }

    /// `line N` or `row N`, for messages.
    pub fn place(&self) -> String {
        match self.record {
            Record::Line => format!("line {}", self.number),
            Record::Row => format!("row {}", self.number),
        }
    }

    /// The string field `key`; an error naming the line if absent.
    pub fn field(&self, key: &str) -> Result<String> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .with_context(|| format!("{}: no {key:?} string", self.place()))
    }

    /// The optional string field `key`; an error naming the line if it is not a string.
    pub fn optional_field(&self, key: &str) -> Result<Option<String>> {
        self.fields.get(key).map(|_| self.field(key)).transpose()
    }
}

/// The non-blank lines of `input`, parsed.
pub fn read_inputs(input: impl BufRead) -> Result<Vec<InputLine>> {
    let mut inputs = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", index + 1))?;
        if !line.trim().is_empty() {
            inputs.push(InputLine::parse(&line, index + 1)?);
        }
    }
    Ok(inputs)
}

/// The inputs of the file `path`: the rows of a Parquet or Arrow table
/// (every column; `ClassLabel` ids as names), else its non-blank lines.
pub fn read_input_file(path: &Path) -> Result<Vec<InputLine>> {
    if !FileFormat::is_table(path) {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        return read_inputs(BufReader::new(file)).with_context(|| path.display().to_string());
    }
    Ok(Table::open(path)?
        .rows(None)?
        .into_iter()
        .map(|row| InputLine {
            number: row.origin.line,
            record: Record::Row,
            fields: row.values,
        })
        .collect())
}

/// `text` and optional `text_pair` of every input, tokenized.
pub fn encode_texts(tokenizer: &BertTokenizer, inputs: &[InputLine]) -> Result<Vec<Encoding>> {
    inputs
        .iter()
        .map(|input| {
            let pair = input.optional_field("text_pair")?;
            tokenizer
                .encode_text(&input.field("text")?, pair.as_deref())
                .with_context(|| input.place())
        })
        .collect()
}

/// The result fields of one input line.
pub type Fields = Map<String, Value>;

/// What `predict` runs on: the input lines, the run's tokenizer, and the
/// batches to run them in.
pub struct Inputs<'a> {
    /// The lines.
    pub lines: &'a [InputLine],
    /// The run's tokenizer.
    pub tokenizer: &'a BertTokenizer,
    /// Lines per forward pass.
    pub batch_size: usize,
    /// Where the batches go.
    pub device: &'a Device,
}

impl Inputs<'_> {
    /// The `[N]` rows of `forward` on the `text` (and `text_pair`) of every
    /// line, tokenized and batched: the predict pipeline of the tasks with
    /// one output row per text.
    pub fn text_rows(&self, forward: impl Fn(BertInput) -> Tensor<2>) -> Result<Vec<Vec<f32>>> {
        let encodings = encode_texts(self.tokenizer, self.lines)?;
        let batcher = TextBatcher::for_tokenizer(self.tokenizer);
        Batches::new(&batcher, self.batch_size, self.device)
            .rows(&encodings, forward)
            .context("predicting")
    }

    /// The batches of items made by `batcher`.
    pub fn batches<'a, Bt>(&'a self, batcher: &'a Bt) -> Batches<'a, Bt> {
        Batches::new(batcher, self.batch_size, self.device)
    }
}

/// `{label: probability}` for `names` and their `probabilities`, in order.
pub fn by_label(names: &[String], probabilities: &[f32]) -> Value {
    Value::Object(
        names
            .iter()
            .cloned()
            .zip(probabilities.iter().map(|&p| json!(p)))
            .collect(),
    )
}

/// Writes each input's fields plus its result's as one JSON line; returns their number.
pub fn write_results(
    inputs: Vec<InputLine>,
    results: Vec<Fields>,
    mut output: impl Write,
) -> Result<usize> {
    let count = results.len();
    for (input, result) in inputs.into_iter().zip(results) {
        let mut line = input.fields;
        line.extend(result);
        writeln!(output, "{}", Value::Object(line))?;
    }
    output.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_json_lines_parse_and_bad_ones_name_their_line() {
        let inputs =
            read_inputs("a plain text\n\n{\"text\": \"x\", \"id\": 7}\n".as_bytes()).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].field("text").unwrap(), "a plain text");
        assert_eq!(
            (inputs[1].number, inputs[1].fields["id"].clone()),
            (3, json!(7))
        );
        assert!(inputs[1].optional_field("text_pair").unwrap().is_none());
        let error = read_inputs("ok\n{\"text\": \n".as_bytes()).unwrap_err();
        assert!(
            format!("{error:#}").contains("line 2: invalid JSON"),
            "{error:#}"
        );
        let not_string = InputLine::parse("{\"text\": 3}", 5).unwrap().field("text");
        assert!(format!("{:#}", not_string.unwrap_err()).contains("line 5: no \"text\" string"));
    }
}
