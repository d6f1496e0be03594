//! Multi-label classification items: each text (or pair) has any number of
//! labels, as a multi-hot target over the [`LabelVocab`].

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::dataset::{DatasetError, LabelVocab, MultiLabelExample};
use crate::item::encode_rows;
use crate::{BertTokenizer, Encoding, TargetBatch, TextBatcher};

/// One tokenized example and its multi-hot labels.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiLabelItem {
    /// `[CLS] text [SEP] (pair [SEP])`, truncated.
    pub encoding: Encoding,
    /// 1.0 at the class id of each of its labels, 0.0 elsewhere; one per label of the [`LabelVocab`].
    pub targets: Vec<f32>,
}

crate::item::text_item!(MultiLabelItem => MultiLabelBatch);

/// Tokenizes `examples` (pairs as `[CLS] A [SEP] B [SEP]`) and maps their
/// labels to multi-hot targets; the first failure names its file and line.
pub fn tokenize_multi_label(
    tokenizer: &BertTokenizer,
    examples: &[MultiLabelExample],
    labels: &LabelVocab,
) -> Result<Vec<MultiLabelItem>, DatasetError> {
    encode_rows(tokenizer, examples, |example, encoding| {
        let mut targets = vec![0.0; labels.len()];
        for id in labels.ids_of(example)? {
            targets[id] = 1.0;
        }
        Ok(MultiLabelItem { encoding, targets })
    })
}

/// A batch ready for the model, with multi-hot targets of 0.0 and 1.0,
/// `[B, num_labels]`.
pub type MultiLabelBatch = TargetBatch<Tensor<2>>;

impl Batcher<MultiLabelItem, MultiLabelBatch> for TextBatcher {
    fn batch(&self, items: Vec<MultiLabelItem>, device: &Device) -> MultiLabelBatch {
        TargetBatch {
            input: self.input(items.iter().map(|item| &item.encoding), device),
            targets: Tensor::from_data(multi_hot_rows(&items), device),
        }
    }
}

/// Every item's targets, one row each: `[B, num_labels]`.
fn multi_hot_rows(items: &[MultiLabelItem]) -> TensorData {
    let width = items.first().map_or(0, |item| item.targets.len());
    assert!(
        items.iter().all(|item| item.targets.len() == width),
        "multi-label items of one batch must share one label vocabulary"
    );
    let values: Vec<f32> = items
        .iter()
        .flat_map(|item| item.targets.iter().copied())
        .collect();
    TensorData::new(values, [items.len(), width])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Origin;

    fn example(text: &str, labels: &[&str], line: usize) -> MultiLabelExample {
        MultiLabelExample {
            text: text.into(),
            text_pair: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            origin: Origin::line("topics.jsonl".into(), line),
        }
    }

    #[test]
    fn targets_are_multi_hot_rows_of_the_batch() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(16);
        let examples = [
            example("the cat sat", &["animal", "action"], 1),
            example("hello world", &[], 2),
            example("the mat", &["object"], 3),
        ];
        let vocab = LabelVocab::from_label_lists(&examples);
        assert_eq!(vocab.names(), ["action", "animal", "object"]);
        let items = tokenize_multi_label(&tokenizer, &examples, &vocab).unwrap();
        // [CLS] the cat sat [SEP]
        assert_eq!(items[0].encoding.input_ids, [2, 5, 6, 7, 3]);
        assert_eq!(items[0].targets, [1.0, 1.0, 0.0]);
        assert_eq!(items[1].targets, [0.0, 0.0, 0.0]);
        assert_eq!(items[2].targets, [0.0, 0.0, 1.0]);

        let rows = multi_hot_rows(&items);
        assert_eq!(rows.shape().as_slice(), [3, 3]);
        assert_eq!(
            rows.as_slice::<f32>().unwrap(),
            [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn unknown_label_names_file_and_line() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(16);
        let vocab = LabelVocab::from_labels(["animal"]);
        let error = tokenize_multi_label(
            &tokenizer,
            &[example("the cat", &["animal", "plant"], 9)],
            &vocab,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "topics.jsonl:9: unknown label \"plant\": the training data has animal"
        );
    }
}
