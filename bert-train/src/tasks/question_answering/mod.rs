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
    QaBatch, QaExample, QaFeature, QaWindows, qa_features, read_squad,
};
use bert_data::{BertTokenizer, TextBatcher};
use bert_model::heads::{QuestionAnsweringHead, QuestionAnsweringHeadConfig};
use bert_model::{BertConfig, BertForQuestionAnswering};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use burn::train::metric::AccuracyMetric;
use burn::train::metric::store::Direction;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::inference::Batches;
use crate::predict::InputLine;
use crate::task::{Split, Task, TaskData, TaskModel, TextBatch};
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

impl TextBatch for QaFeature {
    type Batch = QaBatch;
}

impl TaskData for QuestionAnswering {
    type Example = QaExample;
    type Item = QaFeature;

    fn read(&self, data: &DataArgs, _: &AssetCache) -> Result<Splits<QaExample>> {
        data.load_with(read_squad, |name| {
            Err(DatasetError::UnknownDataset {
                name: name.to_string(),
                known: "none for question answering: give a SQuAD v1.1 .json file".into(),
            })
        })
    }

    fn encode(
        &self,
        tokenizer: &BertTokenizer,
        examples: &[QaExample],
        _: Split,
    ) -> Result<Vec<QaFeature>> {
        Ok(qa_features(tokenizer, examples, self.windows())?)
    }

    fn describe(
        &self,
        _: &Splits<QaExample>,
        items: &Splits<QaFeature>,
        _: &BertTokenizer,
    ) -> Result<String> {
        let answerable = items.train.iter().filter(|f| f.target != (0, 0)).count();
        if answerable == 0 {
            bail!("no training window holds its answer: raise --max-len or --doc-stride");
        }
        Ok(format!("{answerable} train windows hold their answer"))
    }
}

impl Task for QuestionAnswering {
    type Head = QuestionAnsweringHead;
    type Output = SpanOutput;
    type Report = QaReport;

    fn name(&self) -> &'static str {
        "question-answering"
    }

    fn head(&self, config: &BertConfig, device: &Device) -> QuestionAnsweringHead {
        QuestionAnsweringHeadConfig::for_model(config).init(device)
    }

    fn forward(&self, model: &BertForQuestionAnswering, batch: QaBatch) -> SpanOutput {
        let logits = model.forward(batch.input);
        let cross_entropy = CrossEntropyLossConfig::new().init(&logits.start.device());
        let start_loss = cross_entropy.forward(logits.start.clone(), batch.start_positions.clone());
        let end_loss = cross_entropy.forward(logits.end, batch.end_positions);
        SpanOutput {
            loss: (start_loss + end_loss) / 2.0,
            start_logits: logits.start,
            start_positions: batch.start_positions,
        }
    }

    /// The start-token accuracy of the windows.
    fn metrics(&self) -> TaskMetrics<TaskModel<Self>> {
        TaskMetrics::new(BestMetric::Accuracy).both(
            Some(BestMetric::Accuracy),
            AccuracyMetric::new(),
            Direction::Highest,
        )
    }

    fn evaluate(
        &self,
        model: &BertForQuestionAnswering,
        examples: &[QaExample],
        features: &[QaFeature],
        batches: &Batches,
        split: &str,
    ) -> Result<QaReport> {
        let predictions = predict_answers(
            model,
            examples,
            features,
            self.options.max_answer_len,
            batches,
        )?;
        Ok(QaReport::new(split, examples, &predictions, features.len()))
    }

    /// Input: `{"question", "context"}`; output: `answer`.
    fn predict(
        &self,
        model: &BertForQuestionAnswering,
        tokenizer: &BertTokenizer,
        inputs: &[InputLine],
        batch_size: usize,
        device: &Device,
    ) -> Result<Vec<Map<String, Value>>> {
        let examples = inputs
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
        let features = qa_features(tokenizer, &examples, self.windows())?;
        let batcher = TextBatcher::for_tokenizer(tokenizer);
        let answers = predict_answers(
            model,
            &examples,
            &features,
            self.options.max_answer_len,
            &Batches::new(&batcher, batch_size, device),
        )?;
        Ok(answers
            .into_iter()
            .map(|answer| Map::from_iter([("answer".to_string(), json!(answer))]))
            .collect())
    }
}
