//! [`LabelVocab`]: label names and their class ids, declared by the data or
//! built from the training split.

use std::collections::BTreeSet;

use super::{DatasetError, Example, MultiLabelExample, Origin};

/// The classes of a task, in class-id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelVocab {
    names: Vec<String>,
}

impl LabelVocab {
    /// The distinct labels of `train`: numeric labels in numeric order, others sorted.
    pub fn from_examples(train: &[Example]) -> Self {
        Self::from_labels(train.iter().map(|e| e.label.as_str()))
    }

    /// The distinct labels of every list in `examples`, ordered as [`Self::from_labels`].
    pub fn from_label_lists(examples: &[MultiLabelExample]) -> Self {
        Self::from_labels(
            examples
                .iter()
                .flat_map(|e| e.labels.iter().map(String::as_str)),
        )
    }

    /// The distinct `labels`: numeric labels in numeric order, others sorted.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Self {
        let distinct: BTreeSet<&str> = labels.into_iter().collect();
        let mut names: Vec<String> = distinct.into_iter().map(str::to_string).collect();
        if names.iter().all(|n| n.parse::<i64>().is_ok()) {
            names.sort_by_key(|n| n.parse::<i64>().unwrap_or_default());
        }
        Self { names }
    }

    /// The names the data declares (a Hugging Face `ClassLabel`), in their
    /// order, else the vocabulary `learn` finds in the examples.
    pub fn declared_or(declared: Option<&[String]>, learn: impl FnOnce() -> Self) -> Self {
        match declared {
            Some(names) => Self::from_names(names.to_vec()),
            None => learn(),
        }
    }

    /// A vocabulary with these names, in this order (e.g. read back from a run).
    pub fn from_names(names: Vec<String>) -> Self {
        Self { names }
    }

    /// Label names in class-id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Class id of `example`'s label; an error naming file and line if unknown.
    pub fn id(&self, example: &Example) -> Result<usize, DatasetError> {
        self.id_of(&example.label, &example.origin)
    }

    /// Class ids of `example`'s labels, in its order; an error naming file and line if one is unknown.
    pub fn ids_of(&self, example: &MultiLabelExample) -> Result<Vec<usize>, DatasetError> {
        example
            .labels
            .iter()
            .map(|label| self.id_of(label, &example.origin))
            .collect()
    }

    /// Class id of `label`, read at `origin`; an error naming it if unknown.
    pub fn id_of(&self, label: &str, origin: &Origin) -> Result<usize, DatasetError> {
        self.names
            .iter()
            .position(|name| name == label)
            .ok_or_else(|| DatasetError::UnknownLabel {
                origin: origin.to_string(),
                label: label.to_string(),
                known: self.names.join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(label: &str, line: usize) -> Example {
        Example {
            text: "t".into(),
            text_pair: None,
            label: label.into(),
            origin: Origin::line("dev.csv".into(), line),
        }
    }

    #[test]
    fn numeric_labels_sort_numerically() {
        let vocab =
            LabelVocab::from_examples(&[example("10", 1), example("2", 2), example("2", 3)]);
        assert_eq!(vocab.names(), ["2", "10"]);
        assert_eq!(vocab.id(&example("10", 4)).unwrap(), 1);
    }

    fn multi(labels: &[&str], line: usize) -> MultiLabelExample {
        MultiLabelExample {
            text: "t".into(),
            text_pair: None,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            origin: Origin::line("tags.jsonl".into(), line),
        }
    }

    #[test]
    fn label_lists_give_distinct_sorted_labels_and_their_ids() {
        let vocab = LabelVocab::from_label_lists(&[
            multi(&["sports", "politics"], 1),
            multi(&[], 2),
            multi(&["art", "sports"], 3),
        ]);
        assert_eq!(vocab.names(), ["art", "politics", "sports"]);
        assert_eq!(vocab.ids_of(&multi(&["sports", "art"], 4)).unwrap(), [2, 0]);
        assert!(vocab.ids_of(&multi(&[], 5)).unwrap().is_empty());
        let numeric = LabelVocab::from_label_lists(&[multi(&["10", "9"], 1)]);
        assert_eq!(numeric.names(), ["9", "10"]);
    }

    #[test]
    fn unknown_label_in_a_list_names_file_and_line() {
        let vocab = LabelVocab::from_label_lists(&[multi(&["art"], 1)]);
        let err = vocab
            .ids_of(&multi(&["art", "music"], 12))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "tags.jsonl:12: unknown label \"music\": the training data has art"
        );
    }

    #[test]
    fn unknown_label_names_file_line_and_known_labels() {
        let vocab = LabelVocab::from_examples(&[example("neg", 1), example("pos", 2)]);
        let err = vocab.id(&example("neutral", 17)).unwrap_err().to_string();
        assert_eq!(
            err,
            "dev.csv:17: unknown label \"neutral\": the training data has neg, pos"
        );
    }
}
