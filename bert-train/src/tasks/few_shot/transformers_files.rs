//! The files that open a few-shot run in transformers as a sequence
//! classifier: `modeling_setfit.py` (remote code: the encoder, its pooling
//! and the logistic regression as a linear layer) and the `config.json`
//! keys that point `AutoModelForSequenceClassification` at it.

use anyhow::{Context, Result};
use bert_model::BertConfig;
use bert_model::SentencePooling;
use serde_json::{Map, Value, json};

use crate::run::RunDir;

/// The remote code's file name, as `auto_map` names its module.
pub const MODELING_FILE: &str = "modeling_setfit.py";

/// The remote code; `{MODEL_TYPE}` picks the encoder class.
const MODELING_TEMPLATE: &str = include_str!("modeling_setfit.py");

/// Writes `modeling_setfit.py` for the run's encoder and adds `auto_map`
/// and the pooling to the run's `config.json` (written before).
pub fn write(run: &RunDir, config: &BertConfig, pooling: &SentencePooling) -> Result<()> {
    let model_type = serde_json::to_value(config.model_type)?;
    let model_type = model_type
        .as_str()
        .context("a model type serialises as a string")?;
    run.write_file(
        MODELING_FILE,
        MODELING_TEMPLATE
            .replace("{MODEL_TYPE}", model_type)
            .as_bytes(),
    )?;
    let mut json: Map<String, Value> = run.read_json("config.json")?;
    json.insert(
        "auto_map".into(),
        json!({"AutoModelForSequenceClassification": "modeling_setfit.SetFitForSequenceClassification"}),
    );
    json.insert("setfit_pooling".into(), json!(pooling.pooling.name()));
    json.insert("setfit_normalize".into(), json!(pooling.normalize));
    run.write_json("config.json", &json)
}
