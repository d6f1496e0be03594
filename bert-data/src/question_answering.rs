//! Extractive question answering: SQuAD v1.1 files (JSON, or Parquet/Arrow
//! tables with SQuAD's columns), `[CLS] question [SEP]
//! passage window [SEP]` features over overlapping passage windows (doc
//! stride), and the exact mapping of every passage token back to characters.

use std::path::Path;

use bert_model::BertInput;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Deserialize;
use serde_json::Value;

use crate::dataset::table::Table;
use crate::dataset::{DatasetError, FileFormat, read_utf8};
use crate::{BertTokenizer, Encoding, TextBatcher, TokenizerError};

/// One gold answer: its text and where it starts in the passage, in characters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Answer {
    /// The answer as written in the passage.
    pub text: String,
    /// Character offset of its first character in the passage.
    #[serde(rename = "answer_start")]
    pub start: usize,
}

/// A question about a passage, with its gold answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QaExample {
    /// SQuAD's question id.
    pub id: String,
    /// The question.
    pub question: String,
    /// The passage.
    pub context: String,
    /// Gold answers (several annotators in SQuAD's dev set).
    pub answers: Vec<Answer>,
}

#[derive(Deserialize)]
struct SquadFile {
    data: Vec<SquadArticle>,
}

#[derive(Deserialize)]
struct SquadArticle {
    paragraphs: Vec<SquadParagraph>,
}

#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQuestion>,
}

#[derive(Deserialize)]
struct SquadQuestion {
    id: String,
    question: String,
    answers: Vec<Answer>,
}

/// Reads a SQuAD v1.1 JSON file; every answer must be found in its passage
/// at its `answer_start`.
pub fn read_squad(path: &Path) -> Result<Vec<QaExample>, DatasetError> {
    let file_error = |message: String| DatasetError::File {
        path: path.display().to_string(),
        message,
    };
    let squad: SquadFile = serde_json::from_str(&read_utf8(path)?).map_err(|e| {
        file_error(format!(
            "line {} column {}: not SQuAD v1.1 JSON ({{\"data\": [{{\"paragraphs\": [{{\"context\", \"qas\": [{{\"id\", \"question\", \"answers\": [{{\"text\", \"answer_start\"}}]}}]}}]}}]}}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut examples = Vec::new();
    for paragraph in squad.data.into_iter().flat_map(|a| a.paragraphs) {
        for qa in paragraph.qas {
            let example = QaExample {
                id: qa.id,
                question: qa.question,
                context: paragraph.context.clone(),
                answers: qa.answers,
            };
            check_answers(&example).map_err(file_error)?;
            examples.push(example);
        }
    }
    Ok(examples)
}

/// Reads questions from a SQuAD v1.1 JSON file, or from a Parquet or Arrow
/// table with SQuAD's columns as Hugging Face keeps them: `question`,
/// `context`, `answers` (`{"text": [...], "answer_start": [...]}`) and an
/// optional `id` (the row number when absent).
pub fn read_questions(path: &Path) -> Result<Vec<QaExample>, DatasetError> {
    if !FileFormat::is_table(path) {
        return read_squad(path);
    }
    let table = Table::open(path)?;
    let has_id = table.columns().contains(&"id");
    let columns: &[&str] = match has_id {
        true => &["question", "context", "answers", "id"],
        false => &["question", "context", "answers"],
    };
    table
        .rows(Some(columns))?
        .into_iter()
        .map(|row| {
            let error = |message: String| DatasetError::Row {
                origin: row.origin.to_string(),
                message,
            };
            let text = |column: &str| match &row.values[column] {
                Value::String(text) => Ok(text.clone()),
                other => Err(error(format!("{column:?} must be a string, got {other}"))),
            };
            let example = QaExample {
                id: match has_id {
                    true => text("id")?,
                    false => row.origin.line.to_string(),
                },
                question: text("question")?,
                context: text("context")?,
                answers: table_answers(&row.values["answers"]).map_err(error)?,
            };
            check_answers(&example).map_err(error)?;
            Ok(example)
        })
        .collect()
}

/// The answers of a table row: `{"text": [...], "answer_start": [...]}`.
fn table_answers(value: &Value) -> Result<Vec<Answer>, String> {
    #[derive(Deserialize)]
    struct Answers {
        text: Vec<String>,
        answer_start: Vec<usize>,
    }
    let answers: Answers = serde_json::from_value(value.clone()).map_err(|e| {
        format!("\"answers\" must be {{\"text\": [strings], \"answer_start\": [offsets]}}, got {value} ({e})")
    })?;
    if answers.text.len() != answers.answer_start.len() {
        return Err(format!(
            "\"answers\" has {} texts but {} starts",
            answers.text.len(),
            answers.answer_start.len()
        ));
    }
    Ok(answers
        .text
        .into_iter()
        .zip(answers.answer_start)
        .map(|(text, start)| Answer { text, start })
        .collect())
}

/// Checks that every answer of `example` is in its passage at its start.
fn check_answers(example: &QaExample) -> Result<(), String> {
    for answer in &example.answers {
        let found: String = example
            .context
            .chars()
            .skip(answer.start)
            .take(answer.text.chars().count())
            .collect();
        if found != answer.text {
            return Err(format!(
                "question {}: answer {:?} is not at character {} of its passage (found {found:?})",
                example.id, answer.text, answer.start
            ));
        }
    }
    Ok(())
}

/// Start of every window of `window` tokens over `n` tokens, consecutive
/// windows sharing `overlap` tokens; the last window ends at `n`.
pub fn window_starts(n: usize, window: usize, overlap: usize) -> Vec<usize> {
    let step = window.saturating_sub(overlap).max(1);
    let mut starts = vec![0];
    let mut start = 0;
    while start + window < n {
        start += step;
        starts.push(start);
    }
    starts
}

/// One model input: a question with one window of its passage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QaFeature {
    /// Index of the example it came from.
    pub example: usize,
    /// `[CLS] question [SEP] window [SEP]`.
    pub encoding: Encoding,
    /// Position of the window's first token in `encoding`.
    pub context_start: usize,
    /// Character span in the passage of each window token.
    pub char_spans: Vec<(usize, usize)>,
    /// Token positions of the first gold answer when it lies wholly inside
    /// the window; `(0, 0)` (`[CLS]`) otherwise, as in Hugging Face.
    pub target: (usize, usize),
}

crate::item::text_item!(QaFeature => QaBatch);

impl QaFeature {
    /// The passage characters covered by window tokens `first..=last`
    /// (sequence positions), if both are passage tokens.
    pub fn char_span(&self, first: usize, last: usize) -> Option<(usize, usize)> {
        let first = first.checked_sub(self.context_start)?;
        let last = last.checked_sub(self.context_start)?;
        Some((self.char_spans.get(first)?.0, self.char_spans.get(last)?.1))
    }
}

/// Settings of [`qa_features`].
#[derive(Clone, Copy, Debug)]
pub struct QaWindows {
    /// Longest question, in word pieces (longer ones are cut); never more
    /// than half of `max_len`, so that a passage always has room.
    pub max_question_len: usize,
    /// Tokens shared by consecutive windows of a long passage (at most half a window).
    pub doc_stride: usize,
}

/// Tokenizes examples into features: each passage is cut into windows that
/// fill `tokenizer.max_len()` after the question and the pair's specials.
pub fn qa_features(
    tokenizer: &BertTokenizer,
    examples: &[QaExample],
    windows: QaWindows,
) -> Result<Vec<QaFeature>, TokenizerError> {
    let template = tokenizer.pair_template()?;
    let mut untruncated = tokenizer.inner().clone();
    untruncated
        .with_truncation(None)
        .map_err(|e| TokenizerError::Encode(e.to_string()))?;
    let mut features = Vec::new();
    for (index, example) in examples.iter().enumerate() {
        let mut question = tokenizer.word_piece_ids(&example.question)?;
        question.truncate(windows.max_question_len.min(tokenizer.max_len() / 2));
        let context = untruncated
            .encode_char_offsets(example.context.as_str(), false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        let window = tokenizer
            .max_len()
            .saturating_sub(question.len() + template.len());
        let overlap = windows.doc_stride.min(window / 2);
        if window == 0 {
            return Err(TokenizerError::Encode(format!(
                "question {} leaves no room for its passage in {} tokens",
                example.id,
                tokenizer.max_len()
            )));
        }
        let answer = example
            .answers
            .first()
            .map(|a| (a.start, a.start + a.text.chars().count()));
        let (ids, offsets) = (context.get_ids(), context.get_offsets());
        for start in window_starts(ids.len(), window, overlap) {
            let end = (start + window).min(ids.len());
            let context_start = template.prefix.len() + question.len() + template.middle.len();
            let input_ids = [
                &template.prefix[..],
                &question,
                &template.middle,
                &ids[start..end],
                &template.suffix,
            ]
            .concat();
            let second_len = end - start + template.suffix.len();
            let token_type_ids = [
                vec![0; context_start],
                vec![template.second_type_id; second_len],
            ]
            .concat();
            let char_spans = offsets[start..end].to_vec();
            let target = answer
                .and_then(|(first, last)| {
                    let s = char_spans.iter().position(|span| span.1 > first)?;
                    let e = char_spans.iter().rposition(|span| span.0 < last)?;
                    let whole = char_spans[s].0 <= first && char_spans[e].1 >= last;
                    (whole && s <= e).then_some((context_start + s, context_start + e))
                })
                .unwrap_or((0, 0));
            features.push(QaFeature {
                example: index,
                encoding: Encoding {
                    input_ids,
                    token_type_ids,
                },
                context_start,
                char_spans,
                target,
            });
        }
    }
    Ok(features)
}

/// A batch ready for the model.
#[derive(Clone, Debug)]
pub struct QaBatch {
    /// Padded token ids, segments and mask.
    pub input: BertInput,
    /// Gold start positions, `[B]`.
    pub start_positions: Tensor<1, Int>,
    /// Gold end positions, `[B]`.
    pub end_positions: Tensor<1, Int>,
}

impl Batcher<QaFeature, QaBatch> for TextBatcher {
    fn batch(&self, items: Vec<QaFeature>, device: &Device) -> QaBatch {
        let positions = |pick: fn(&QaFeature) -> usize| {
            let values: Vec<i64> = items.iter().map(|f| pick(f) as i64).collect();
            Tensor::from_data(TensorData::new(values, [items.len()]), device)
        };
        QaBatch {
            input: self.input(items.iter().map(|f| &f.encoding), device),
            start_positions: positions(|f| f.target.0),
            end_positions: positions(|f| f.target.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_token_with_the_overlap() {
        assert_eq!(window_starts(10, 4, 2), [0, 2, 4, 6]);
        assert_eq!(window_starts(3, 4, 2), [0]);
        assert_eq!(window_starts(11, 4, 1), [0, 3, 6, 9]);
    }

    fn example(context: &str, answer: &str) -> QaExample {
        let start = context.find(answer).unwrap();
        QaExample {
            id: "q1".into(),
            question: "the cat?".into(),
            context: context.into(),
            answers: vec![Answer {
                text: answer.into(),
                start: context[..start].chars().count(),
            }],
        }
    }

    #[test]
    fn answers_map_to_tokens_and_back_to_the_exact_characters() {
        // [CLS] the cat ? [SEP] + windows of 16 - 4 - 3 = 9 passage tokens.
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(16);
        let context = "Hello world. The cats sat on the mat. Hello café world. The mat sat.";
        let example = example(context, "café world");
        let windows = QaWindows {
            max_question_len: 8,
            doc_stride: 3,
        };
        let features = qa_features(&tokenizer, std::slice::from_ref(&example), windows).unwrap();
        assert!(features.len() > 1, "a long passage gives several windows");
        let mut found = 0;
        for feature in &features {
            assert_eq!(feature.encoding.input_ids[..5], [2, 5, 6, 1, 3]);
            // Every window token maps back to passage text of itself.
            for (i, &(s, e)) in feature.char_spans.iter().enumerate() {
                let piece: String = context.chars().skip(s).take(e - s).collect();
                assert!(!piece.is_empty(), "token {i} maps to no characters");
            }
            if feature.target != (0, 0) {
                let (s, e) = feature
                    .char_span(feature.target.0, feature.target.1)
                    .unwrap();
                let text: String = context.chars().skip(s).take(e - s).collect();
                assert_eq!(text, "café world");
                found += 1;
            }
        }
        assert!(found >= 1, "no window holds the answer");
    }

    #[test]
    fn reads_squad_and_rejects_a_misplaced_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("squad.json");
        let file = |start: usize| {
            format!(
                r#"{{"version": "1.1", "data": [{{"title": "t", "paragraphs": [{{"context": "Café in Paris.", "qas": [{{"id": "a", "question": "Where?", "answers": [{{"text": "Paris", "answer_start": {start}}}]}}]}}]}}]}}"#
            )
        };
        std::fs::write(&path, file(8)).unwrap();
        let examples = read_squad(&path).unwrap();
        assert_eq!(examples.len(), 1);
        assert_eq!(examples[0].answers[0].start, 8);
        std::fs::write(&path, file(7)).unwrap();
        let error = read_squad(&path).unwrap_err().to_string();
        assert!(
            error.contains("answer \"Paris\" is not at character 7"),
            "{error}"
        );
    }
}
