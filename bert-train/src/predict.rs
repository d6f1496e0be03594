//! `predict`: apply a finished run to new inputs, one JSON line out per
//! input line, in the shape of the run's task:
//!
//! | task | input line | output keys |
//! |---|---|---|
//! | classification, pair-classification | plain text, or JSON with `text` (and `text_pair`) | `label`, `probs` |
//! | regression | same | `score` |
//! | token-classification | plain text (split at whitespace), or JSON with `words` | `words`, `tags` |
//! | question-answering | JSON with `question` and `context` (and `id`) | `answer` |

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use bert_data::TextBatcher;
use bert_data::classification::ClassificationItem;
use bert_data::dataset::{Origin, TaggedSentence};
use bert_data::question_answering::{QaExample, qa_features};
use bert_data::regression::RegressionItem;
use bert_data::token_classification::tokenize_tagged;
use bert_model::heads::{ClassifierHeadConfig, QuestionAnsweringHead};
use burn::tensor::Device;
use serde_json::{Map, Value, json};

use crate::inference::{Batches, argmax, predict_probabilities};
use crate::qa_task::{predict_answers, windows};
use crate::regression_task::predict_values;
use crate::run::{RunDir, TrainedClassifier};
use crate::task::Task;
use crate::token_task::predict_tags;
use crate::train::TrainArgs;

/// One input line: a plain line becomes `{"text": line}`.
fn parse_line(line: &str, number: usize) -> Result<Map<String, Value>> {
    if !line.trim_start().starts_with('{') {
        return Ok(Map::from_iter([("text".to_string(), json!(line))]));
    }
    match serde_json::from_str(line).with_context(|| format!("line {number}: invalid JSON"))? {
        Value::Object(fields) => Ok(fields),
        _ => bail!("line {number}: expected a JSON object"),
    }
}

/// The non-blank lines of `input`, parsed, with their line numbers.
fn read_inputs(input: impl BufRead) -> Result<Vec<(usize, Map<String, Value>)>> {
    let mut inputs = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("line {}: not valid UTF-8 text", index + 1))?;
        if !line.trim().is_empty() {
            inputs.push((index + 1, parse_line(&line, index + 1)?));
        }
    }
    Ok(inputs)
}

/// The string field `key` of an input; an error naming the line if absent.
fn field(input: &(usize, Map<String, Value>), key: &str) -> Result<String> {
    input
        .1
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("line {}: no {key:?} string", input.0))
}

/// `text` and optional `text_pair` of every input, tokenized.
fn encode_texts(
    tokenizer: &bert_data::BertTokenizer,
    inputs: &[(usize, Map<String, Value>)],
) -> Result<Vec<bert_data::Encoding>> {
    inputs
        .iter()
        .map(|input| {
            let pair = input.1.get("text_pair").and_then(Value::as_str);
            Ok(tokenizer.encode_text(&field(input, "text")?, pair)?)
        })
        .collect()
}

/// `label` and per-label `probs` of every input.
fn classify(
    classifier: &TrainedClassifier,
    inputs: &[(usize, Map<String, Value>)],
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Value>> {
    let items: Vec<ClassificationItem> = encode_texts(&classifier.tokenizer, inputs)?
        .into_iter()
        .map(|encoding| ClassificationItem { encoding, label: 0 })
        .collect();
    let batcher = TextBatcher::for_tokenizer(&classifier.tokenizer);
    let probabilities = predict_probabilities(
        &classifier.model,
        &items,
        &Batches::new(&batcher, batch_size, device),
    )?;
    let names = classifier.labels.names();
    Ok(probabilities
        .iter()
        .map(|probs| {
            let by_label: Map<String, Value> = names
                .iter()
                .cloned()
                .zip(probs.iter().map(|&p| json!(p)))
                .collect();
            json!({ "label": names[argmax(probs)], "probs": by_label })
        })
        .collect())
}

/// Writes each input's fields plus its result's as one JSON line.
fn write_results(
    inputs: Vec<(usize, Map<String, Value>)>,
    results: Vec<Value>,
    mut output: impl Write,
) -> Result<usize> {
    let count = results.len();
    for ((_, mut line), result) in inputs.into_iter().zip(results) {
        if let Value::Object(fields) = result {
            line.extend(fields);
        }
        writeln!(output, "{}", Value::Object(line))?;
    }
    output.flush()?;
    Ok(count)
}

/// Labels every line of `input` with `classifier` and writes the input's
/// fields plus `label` and per-label `probs` to `output`.
pub fn predict_lines(
    classifier: &TrainedClassifier,
    input: impl BufRead,
    output: impl Write,
    batch_size: usize,
    device: &Device,
) -> Result<usize> {
    let inputs = read_inputs(input)?;
    let results = classify(classifier, &inputs, batch_size, device)?;
    write_results(inputs, results, output)
}

/// Applies the run in `run` to every line of `input` as its task does (see
/// the module table) and writes JSON lines to `output`; returns their number.
pub fn predict_run(
    run: &RunDir,
    input: impl BufRead,
    output: impl Write,
    batch_size: usize,
    device: &Device,
) -> Result<usize> {
    let args: TrainArgs = run.read_json("training_args.json")?;
    let inputs = read_inputs(input)?;
    let results: Vec<Value> = match args.task {
        Task::Classification | Task::PairClassification => {
            let classifier = run.load_classifier(args.max_len, device)?;
            classify(&classifier, &inputs, batch_size, device)?
        }
        Task::Regression => {
            let regressor = run.load_classifier(args.max_len, device)?;
            let items: Vec<RegressionItem> = encode_texts(&regressor.tokenizer, &inputs)?
                .into_iter()
                .map(|encoding| RegressionItem {
                    encoding,
                    target: 0.0,
                })
                .collect();
            let batcher = TextBatcher::for_tokenizer(&regressor.tokenizer);
            let batches = Batches::new(&batcher, batch_size, device);
            predict_values(&regressor.model, &items, &batches)?
                .into_iter()
                .map(|score| json!({ "score": score }))
                .collect()
        }
        Task::TokenClassification => {
            let tagger = run.load_model(args.max_len, device, |config, tags| {
                ClassifierHeadConfig::for_model(config, tags).init_token(device)
            })?;
            let sentences = inputs
                .iter()
                .map(|input| {
                    let words: Vec<String> = match input.1.get("words") {
                        Some(words) => {
                            serde_json::from_value(words.clone()).with_context(|| {
                                format!("line {}: \"words\" must be a list of strings", input.0)
                            })?
                        }
                        None => field(input, "text")?
                            .split_whitespace()
                            .map(str::to_string)
                            .collect(),
                    };
                    // Any known tag: alignment only needs one per word.
                    let tags = vec![tagger.labels.names()[0].clone(); words.len()];
                    Ok(TaggedSentence {
                        words,
                        tags,
                        origin: Origin {
                            file: "input".into(),
                            line: input.0,
                        },
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let items = tokenize_tagged(&tagger.tokenizer, &sentences, &tagger.labels)?;
            let batcher = TextBatcher::for_tokenizer(&tagger.tokenizer);
            let batches = Batches::new(&batcher, batch_size, device);
            let tags = predict_tags(&tagger.model, &items, &batches)?;
            sentences
                .into_iter()
                .zip(tags)
                .map(|(sentence, tags)| {
                    let names: Vec<&str> = tags
                        .iter()
                        .map(|&t| tagger.labels.names()[t].as_str())
                        .collect();
                    // Words cut by --max-len get no tag.
                    json!({ "words": sentence.words, "tags": names })
                })
                .collect()
        }
        Task::QuestionAnswering => {
            let answerer = run.load_model(args.max_len, device, |config, _| {
                QuestionAnsweringHead::new(config, device)
            })?;
            let examples = inputs
                .iter()
                .map(|input| {
                    Ok(QaExample {
                        id: input.0.to_string(),
                        question: field(input, "question")?,
                        context: field(input, "context")?,
                        answers: Vec::new(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let features = qa_features(&answerer.tokenizer, &examples, windows(&args))?;
            let batcher = TextBatcher::for_tokenizer(&answerer.tokenizer);
            predict_answers(
                &answerer.model,
                &examples,
                &features,
                args.max_answer_len,
                &Batches::new(&batcher, batch_size, device),
            )?
            .into_iter()
            .map(|answer| json!({ "answer": answer }))
            .collect()
        }
        Task::Mlm => bail!(
            "{} is a pre-training run: it predicts nothing; fine-tune from it with `train --model {}`",
            run.root().display(),
            run.root().display()
        ),
    };
    write_results(inputs, results, output)
}
