//! `predict`: label texts with a fine-tuned classifier, as JSON lines.

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use bert_data::TextBatcher;
use bert_data::classification::ClassificationItem;
use burn::tensor::Device;
use serde_json::{Map, Value, json};

use crate::inference::{argmax, predict_probabilities};
use crate::run::{RunDir, TrainedClassifier};
use crate::task::Task;
use crate::train::TrainArgs;

/// One input: a plain line, or a JSON object with `text` and optional `text_pair`.
fn parse_line(line: &str, number: usize) -> Result<(String, Option<String>)> {
    if !line.trim_start().starts_with('{') {
        return Ok((line.to_string(), None));
    }
    let value: Value =
        serde_json::from_str(line).with_context(|| format!("line {number}: invalid JSON"))?;
    let field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let text = field("text").with_context(|| format!("line {number}: no \"text\" string"))?;
    Ok((text, field("text_pair")))
}

/// Labels every line of `input` and writes `{"text", "label", "probs"}` lines to `output`.
pub fn predict_lines(
    classifier: &TrainedClassifier,
    input: impl BufRead,
    mut output: impl Write,
    batch_size: usize,
    device: &Device,
) -> Result<usize> {
    let mut inputs = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", index + 1))?;
        if !line.trim().is_empty() {
            inputs.push(parse_line(&line, index + 1)?);
        }
    }
    let items = inputs
        .iter()
        .map(|(text, pair)| {
            let encoding = classifier.tokenizer.encode_text(text, pair.as_deref())?;
            Ok(ClassificationItem { encoding, label: 0 })
        })
        .collect::<Result<Vec<_>>>()?;
    let batcher = TextBatcher::for_tokenizer(&classifier.tokenizer);
    let probabilities =
        predict_probabilities(&classifier.model, &items, &batcher, batch_size, device)?;
    let names = classifier.labels.names();
    for ((text, pair), probs) in inputs.iter().zip(&probabilities) {
        let by_label: Map<String, Value> = names
            .iter()
            .cloned()
            .zip(probs.iter().map(|&p| json!(p)))
            .collect();
        let mut line = json!({ "text": text, "label": names[argmax(probs)], "probs": by_label });
        if let Some(pair) = pair {
            line["text_pair"] = json!(pair);
        }
        writeln!(output, "{line}")?;
    }
    output.flush()?;
    Ok(inputs.len())
}

/// Loads the classifier of `run` with the run's truncation length.
pub fn load_run_classifier(run: &RunDir, device: &Device) -> Result<TrainedClassifier> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    if !matches!(args.task, Task::Classification | Task::PairClassification) {
        bail!(
            "{} is a {} run: predict labels texts with classification runs (use eval for this one)",
            run.root().display(),
            args.task.name()
        );
    }
    run.load_classifier(args.max_len, device)
}
