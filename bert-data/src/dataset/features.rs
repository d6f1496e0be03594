//! The label names a Hugging Face `datasets` table declares: its schema
//! metadata (key `huggingface`) holds `{"info": {"features": {...}}}`, where a
//! `ClassLabel` column (or a `Sequence`/`List` of one) lists its names in
//! class-id order.

use std::collections::HashMap;

use serde_json::Value;

/// The schema metadata key `datasets` writes its features under.
pub const METADATA_KEY: &str = "huggingface";

/// The class names of every `ClassLabel` column (or list of `ClassLabel`s)
/// that `huggingface`, the value of the schema metadata's [`METADATA_KEY`],
/// declares, by column. Metadata that is absent or not the JSON `datasets`
/// writes declares nothing.
pub fn class_names(huggingface: Option<&str>) -> HashMap<String, Vec<String>> {
    let Some(features) = huggingface
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|json| json.pointer("/info/features").cloned())
    else {
        return HashMap::new();
    };
    let Value::Object(columns) = features else {
        return HashMap::new();
    };
    columns
        .iter()
        .filter_map(|(column, feature)| Some((column.clone(), labels_of(feature)?)))
        .collect()
}

/// The names of a `ClassLabel` feature, or of the `ClassLabel` a
/// `Sequence`/`List`/`LargeList` (or a one-element JSON list) holds.
fn labels_of(feature: &Value) -> Option<Vec<String>> {
    if let Value::Array(items) = feature {
        return match items.as_slice() {
            [item] => labels_of(item),
            _ => None,
        };
    }
    match feature.get("_type")?.as_str()? {
        "ClassLabel" => class_label_names(feature),
        "Sequence" | "List" | "LargeList" => labels_of(feature.get("feature")?),
        _ => None,
    }
}

/// `names`, or `"0"`, `"1"`, ... for a `ClassLabel` given only `num_classes`.
fn class_label_names(feature: &Value) -> Option<Vec<String>> {
    match feature.get("names") {
        Some(Value::Array(names)) => names
            .iter()
            .map(|name| name.as_str().map(str::to_string))
            .collect(),
        _ => {
            let count = feature.get("num_classes")?.as_u64()?;
            Some((0..count).map(|id| id.to_string()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(features: &str) -> HashMap<String, Vec<String>> {
        class_names(Some(&format!("{{\"info\": {{\"features\": {features}}}}}")))
    }

    #[test]
    fn class_labels_and_lists_of_them_declare_names() {
        // As datasets 5 writes them (List), and as datasets 2-4 did (Sequence).
        let names = declared(
            r#"{"text": {"dtype": "string", "_type": "Value"},
                "label": {"names": ["neg", "pos"], "_type": "ClassLabel"},
                "ner_tags": {"feature": {"names": ["O", "B-PER"], "_type": "ClassLabel"}, "_type": "List"},
                "old": {"feature": {"names": ["x"], "_type": "ClassLabel"}, "length": -1, "_type": "Sequence"},
                "listed": [{"names": ["a", "b"], "_type": "ClassLabel"}],
                "counted": {"num_classes": 3, "_type": "ClassLabel"},
                "answers": {"feature": {"text": {"dtype": "string", "_type": "Value"}}, "_type": "Sequence"}}"#,
        );
        let expected = |column: &str, labels: &[&str]| {
            assert_eq!(names[column], labels, "{column}");
        };
        expected("label", &["neg", "pos"]);
        expected("ner_tags", &["O", "B-PER"]);
        expected("old", &["x"]);
        expected("listed", &["a", "b"]);
        expected("counted", &["0", "1", "2"]);
        assert_eq!(names.len(), 5, "{names:?}");
    }

    #[test]
    fn missing_or_foreign_metadata_declares_nothing() {
        assert!(class_names(None).is_empty());
        assert!(class_names(Some("{}")).is_empty());
        assert!(class_names(Some("{not json")).is_empty());
    }
}
