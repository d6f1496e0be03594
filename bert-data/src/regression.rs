//! Regression items: a text (or pair) and a real-valued target, e.g. STS-B's
//! 0-5 similarity score.

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor, TensorData};

use crate::dataset::{DatasetError, Example};
use crate::item::encode_rows;
use crate::{BertTokenizer, Encoding, TargetBatch, TextBatcher};

/// One tokenized example and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionItem {
    /// `[CLS] text [SEP] (pair [SEP])`, truncated.
    pub encoding: Encoding,
    /// The value to predict.
    pub target: f32,
}

crate::item::text_item!(RegressionItem => RegressionBatch);

/// Tokenizes `examples` and parses their labels as numbers; the first
/// failure names its file and line.
pub fn tokenize_regression(
    tokenizer: &BertTokenizer,
    examples: &[Example],
) -> Result<Vec<RegressionItem>, DatasetError> {
    encode_rows(tokenizer, examples, |example, encoding| {
        let target = example
            .label
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|value| value.is_finite())
            .ok_or_else(|| DatasetError::Row {
                origin: example.origin.to_string(),
                message: format!(
                    "expected a number as the regression target, found {:?}",
                    example.label
                ),
            })?;
        Ok(RegressionItem { encoding, target })
    })
}

/// A batch ready for the model, with the targets, `[B, 1]`.
pub type RegressionBatch = TargetBatch<Tensor<2>>;

impl Batcher<RegressionItem, RegressionBatch> for TextBatcher {
    fn batch(&self, items: Vec<RegressionItem>, device: &Device) -> RegressionBatch {
        let targets: Vec<f32> = items.iter().map(|item| item.target).collect();
        TargetBatch {
            input: self.input(items.iter().map(|item| &item.encoding), device),
            targets: Tensor::from_data(TensorData::new(targets, [items.len(), 1]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Origin;

    fn example(label: &str) -> Example {
        Example {
            text: "a man is eating".into(),
            text_pair: Some("a man eats".into()),
            label: label.into(),
            origin: Origin::line("sts.tsv".into(), 7),
        }
    }

    #[test]
    fn parses_scores_and_names_the_line_of_a_bad_one() {
        let tokenizer = crate::tokenizer::tests::tiny_tokenizer(32);
        let items = tokenize_regression(&tokenizer, &[example(" 3.25 ")]).unwrap();
        assert_eq!(items[0].target, 3.25);
        assert_eq!(items[0].encoding.token_type_ids.last(), Some(&1));
        let error = tokenize_regression(&tokenizer, &[example("high")]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("sts.tsv:7: expected a number")
        );
        assert!(tokenize_regression(&tokenizer, &[example("NaN")]).is_err());
    }
}
