//! `--task question-answering`: extractive answers on SQuAD v1.1 files.
//! Start and end vectors over passage tokens (`qa_outputs`), long passages
//! in overlapping windows, the best valid span over all windows of a
//! question, exact match and F1 as SQuAD's script defines them.

mod output;
mod report;
mod spans;

pub use output::SpanOutput;
pub use report::{QaReport, answer_f1, normalize_answer};
pub use spans::{best_span, predict_answers};

use anyhow::{Result, bail};
use bert_data::assets::AssetCache;
use bert_data::dataset::{DatasetError, Splits};
use bert_data::question_answering::{
    QaBatch, QaExample, QaFeature, QaWindows, qa_features, read_questions,
};
use bert_data::{BertTokenizer, TextBatcher};
use bert_model::heads::{QuestionAnsweringHead, SpanLogits};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::train::metric::AccuracyMetric;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::predict::{Fields, Inputs};
use crate::task::{Items, Model, Prepared, Task, TaskData, TaskModel, TestData};
use crate::training::{BestMetric, DataArgs, TaskMetrics};

/// Longest question kept, in word pieces (Hugging Face's `max_query_length`).
const MAX_QUESTION_LEN: usize = 64;

fn default_doc_stride() -> usize {
    128
}

fn default_max_answer_len() -> usize {
    30
}

/// The flags of question answering.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct QaOptions {
    /// Question answering: tokens shared by consecutive passage windows
    /// (at most half a window is used).
    #[arg(long, default_value_t = 128)]
    #[serde(default = "default_doc_stride")]
    pub doc_stride: usize,
    /// Question answering: longest predicted answer, in tokens.
    #[arg(long, default_value_t = 30)]
    #[serde(default = "default_max_answer_len")]
    pub max_answer_len: usize,
}

impl Default for QaOptions {
    fn default() -> Self {
        Self {
            doc_stride: default_doc_stride(),
            max_answer_len: default_max_answer_len(),
        }
    }
}

/// Extractive question answering.
#[derive(Clone, Debug, Default)]
pub struct QuestionAnswering {
    /// Windows and answer length.
    pub options: QaOptions,
}

impl QuestionAnswering {
    fn windows(&self) -> QaWindows {
        QaWindows {
            max_question_len: MAX_QUESTION_LEN,
            doc_stride: self.options.doc_stride,
        }
    }
}

impl TaskData for QuestionAnswering {
    type Example = QaExample;
    type Item = QaFeature;

    fn read(&self, data: &DataArgs, cache: &AssetCache) -> Result<Splits<QaExample>> {
        data.load_with(cache, None, read_questions, |name| {
            Err(DatasetError::UnknownDataset {
                name: name.to_string(),
                known: "none for question answering: give a SQuAD v1.1 .json file, or a Parquet file with SQuAD's columns".into(),
            })
        })
    }

    fn encode(&self, tokenizer: &BertTokenizer, examples: &[Self::Example]) -> Items<Self> {
        Ok(qa_features(tokenizer, examples, self.windows())?)
    }

    fn describe(&self, data: &Prepared<Self>) -> Result<String> {
        let holding = data.items.train.iter().filter(|f| f.target != (0, 0));
        match holding.count() {
            0 => bail!("no training window holds its answer: raise --max-len or --doc-stride"),
            answerable => Ok(format!("{answerable} train windows hold their answer")),
        }
    }
}

impl Task for QuestionAnswering {
    type Head = QuestionAnsweringHead;
    type Output = SpanOutput;
    type Report = QaReport;

    /// The mean of the start and end cross-entropies.
    fn forward(&self, model: &Model<Self>, batch: QaBatch) -> SpanOutput {
        let SpanLogits { start, end } = model.forward(batch.input);
        let cross_entropy = CrossEntropyLossConfig::new().init(&start.device());
        let start_loss = cross_entropy.forward(start.clone(), batch.start_positions.clone());
        let end_loss = cross_entropy.forward(end, batch.end_positions);
        SpanOutput {
            loss: (start_loss + end_loss) / 2.0,
            start_logits: start,
            start_positions: batch.start_positions,
        }
    }

    /// The start-token accuracy of the windows.
    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::by(BestMetric::Accuracy, AccuracyMetric::new())
    }

    fn evaluate(&self, model: &Model<Self>, test: &TestData<Self>) -> Result<QaReport> {
        let max_answer_len = self.options.max_answer_len;
        let answers = predict_answers(
            model,
            test.examples,
            test.items,
            max_answer_len,
            &test.batches,
        )?;
        Ok(QaReport::new(
            test.split,
            test.examples,
            &answers,
            test.items.len(),
        ))
    }

    /// Input: `{"question", "context"}`; output: `answer`.
    fn predict(&self, model: &Model<Self>, inputs: &Inputs) -> Result<Vec<Fields>> {
        let examples = inputs
            .lines
            .iter()
            .map(|input| {
                Ok(QaExample {
                    id: input.number.to_string(),
                    question: input.field("question")?,
                    context: input.field("context")?,
                    answers: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let features = qa_features(inputs.tokenizer, &examples, self.windows())?;
        let batcher = TextBatcher::for_tokenizer(inputs.tokenizer);
        let max_answer_len = self.options.max_answer_len;
        let batches = inputs.batches(&batcher);
        let answers = predict_answers(model, &examples, &features, max_answer_len, &batches)?;
        let fields = |answer| Fields::from_iter([("answer".to_string(), json!(answer))]);
        Ok(answers.into_iter().map(fields).collect())
    }
}
