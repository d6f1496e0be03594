//! The run's `README.md`: a Hugging Face model card, as transformers'
//! `Trainer` writes one. YAML metadata the hub reads (`base_model`,
//! `datasets`, `library_name`, `pipeline_tag`, `tags`, `metrics` and a
//! `model-index` with the test results), then the results, the training
//! hyperparameters, the per-epoch table, how to load the model and the
//! framework versions. A LoRA run's adapter folder gets one too, as peft's.

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;
use bert_data::assets::model_hub_id;
use bert_data::dataset::hub_data::DatasetId;
use serde_json::{Map, Value};

use super::RunDir;
use crate::training::TrainerState;

/// The file name.
pub const MODEL_CARD: &str = "README.md";

/// What the hub calls a run's task: its pipeline tag and display name.
fn pipeline(task: &str) -> (&'static str, &'static str) {
    match task {
        "token-classification" => ("token-classification", "Token Classification"),
        "question-answering" => ("question-answering", "Question Answering"),
        "mlm" => ("fill-mask", "Masked Language Modeling"),
        "sentence-embedding" => ("sentence-similarity", "Semantic Similarity"),
        "reranking" => ("text-ranking", "Text Ranking"),
        _ => ("text-classification", "Text Classification"),
    }
}

/// The transformers class that opens the run, by task.
fn auto_class(task: &str) -> &'static str {
    match task {
        "token-classification" => "AutoModelForTokenClassification",
        "question-answering" => "AutoModelForQuestionAnswering",
        "mlm" => "AutoModelForMaskedLM",
        "sentence-embedding" => "AutoModel",
        _ => "AutoModelForSequenceClassification",
    }
}

/// A string as a YAML scalar (a JSON string is one).
fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

/// The numbers of a report: its top-level fields, and those of its
/// sections (`similarity`, `retrieval`) with the section's name before them.
fn report_metrics(report: &Map<String, Value>) -> Vec<(String, f64)> {
    let mut metrics = Vec::new();
    for (key, value) in report {
        match value {
            Value::Number(number) if key != "examples" => {
                metrics.extend(number.as_f64().map(|v| (key.clone(), v)));
            }
            Value::Object(section) => {
                for (name, value) in section {
                    if let Some(v) = value
                        .as_f64()
                        .filter(|_| !matches!(name.as_str(), "queries" | "corpus"))
                    {
                        metrics.push((format!("{key}_{name}"), v));
                    }
                }
            }
            _ => {}
        }
    }
    metrics
}

/// The base model as the hub names it: a built-in name's id, a hub id as
/// given; `None` for a local directory.
fn base_model(model: &str) -> Option<String> {
    if let Some(id) = model_hub_id(model) {
        return Some(id.to_string());
    }
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let looks_like_id =
        model.split('/').count() <= 2 && model.split('/').all(valid) && !Path::new(model).exists();
    looks_like_id.then(|| model.to_string())
}

/// What the card is written from: the run's own files.
struct RunFiles {
    args: Map<String, Value>,
    report: Map<String, Value>,
    state: Option<TrainerState>,
    name: String,
}

impl RunFiles {
    fn read(run: &RunDir) -> Result<Self> {
        Ok(Self {
            args: run.read_json("training_args.json")?,
            report: run.read_json("report.json")?,
            state: TrainerState::read(run.root())?,
            name: run
                .root()
                .file_name()
                .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned()),
        })
    }

    fn arg(&self, key: &str) -> String {
        match self.args.get(key) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    fn task(&self) -> String {
        match self.arg("task") {
            task if task.is_empty() => "classification".into(),
            task => task,
        }
    }

    /// The dataset's name for people, and its hub id if it has one.
    fn dataset(&self) -> (String, Option<String>) {
        let name = match self.arg("dataset") {
            dataset if dataset.is_empty() => self.arg("train_file"),
            dataset => dataset,
        };
        let id = DatasetId::parse(&name)
            .filter(|_| !Path::new(&name).exists())
            .map(|_| name.split(':').next().unwrap_or(&name).to_string());
        let shown = Path::new(&name)
            .file_name()
            .map_or(name.clone(), |n| n.to_string_lossy().into_owned());
        (if id.is_some() { name } else { shown }, id)
    }
}

/// The YAML metadata block.
fn metadata(files: &RunFiles, metrics: &[(String, f64)]) -> String {
    let task = files.task();
    let (pipeline_tag, task_name) = pipeline(&task);
    let library = match task.as_str() {
        "sentence-embedding" | "reranking" => "sentence-transformers",
        _ => "transformers",
    };
    let (dataset, dataset_id) = files.dataset();
    let mut yaml = String::from("---\n");
    let _ = writeln!(yaml, "library_name: {library}");
    if let Some(base) = base_model(&files.arg("model")) {
        let _ = writeln!(yaml, "base_model: {}", quoted(&base));
    }
    let _ = writeln!(yaml, "pipeline_tag: {pipeline_tag}");
    let _ = writeln!(yaml, "tags:\n- bert-burn\n- {task}");
    if library == "sentence-transformers" {
        yaml.push_str("- sentence-transformers\n");
    }
    if let Some(id) = &dataset_id {
        let _ = writeln!(yaml, "datasets:\n- {}", quoted(id));
    }
    yaml.push_str("metrics:\n");
    for (name, _) in metrics {
        let _ = writeln!(yaml, "- {}", quoted(name));
    }
    let _ = write!(
        yaml,
        "model-index:\n- name: {}\n  results:\n  - task:\n      type: {pipeline_tag}\n      name: {task_name}\n    dataset:\n      name: {}\n      type: {}\n      split: test\n    metrics:\n",
        quoted(&files.name),
        quoted(&dataset),
        quoted(dataset_id.as_deref().unwrap_or(&dataset)),
    );
    for (name, value) in metrics {
        let _ = writeln!(
            yaml,
            "    - type: {}\n      value: {value}\n      name: {}",
            quoted(name),
            quoted(&metric_title(name))
        );
    }
    yaml.push_str("---\n");
    yaml
}

/// `macro_f1` → `Macro F1`, `ndcg@10` → `Ndcg@10`.
fn metric_title(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The per-epoch table of `state`: the last training loss logged by each
/// epoch's end, then its validation metrics.
fn results_table(state: &TrainerState) -> String {
    let evals: Vec<&Map<String, Value>> = state
        .log_history
        .iter()
        .filter(|entry| entry.keys().any(|k| k.starts_with("eval_")))
        .collect();
    let Some(first) = evals.first() else {
        return String::new();
    };
    // The validation loss first, as `Trainer`'s table has it.
    let mut columns: Vec<&String> = first.keys().filter(|k| k.starts_with("eval_")).collect();
    columns.sort_by_key(|key| *key != "eval_loss");
    let mut table = String::from("| Training Loss | Epoch | Step |");
    for column in &columns {
        let title = match column.as_str() {
            "eval_loss" => "Validation Loss".to_string(),
            other => metric_title(other.trim_start_matches("eval_")),
        };
        let _ = write!(table, " {title} |");
    }
    table.push_str("\n|---|---|---|");
    table.push_str(&"---|".repeat(columns.len()));
    table.push('\n');
    for eval in evals {
        let step = eval.get("step").and_then(Value::as_u64).unwrap_or(0);
        let loss = state
            .log_history
            .iter()
            .rfind(|entry| {
                entry.contains_key("loss")
                    && entry.get("step").and_then(Value::as_u64).unwrap_or(0) <= step
            })
            .and_then(|entry| entry["loss"].as_f64())
            .map_or("No log".to_string(), |loss| format!("{loss:.4}"));
        let epoch = eval.get("epoch").and_then(Value::as_f64).unwrap_or(0.0);
        let _ = write!(table, "| {loss} | {epoch:.1} | {step} |");
        for column in &columns {
            let value = eval.get(*column).and_then(Value::as_f64);
            let _ = write!(
                table,
                " {} |",
                value.map_or("-".into(), |v| format!("{v:.4}"))
            );
        }
        table.push('\n');
    }
    table
}

/// How to load the run, in Python.
fn usage(files: &RunFiles) -> String {
    let task = files.task();
    let name = &files.name;
    let mut text = String::from("## How to use\n\n```python\n");
    if task == "reranking" {
        let _ = writeln!(
            text,
            "from sentence_transformers import CrossEncoder\n\nmodel = CrossEncoder(\"{name}\")\nscores = model.predict([(\"a query\", \"a passage\"), (\"a query\", \"another\")])"
        );
    } else if task == "sentence-embedding" {
        let _ = writeln!(
            text,
            "from sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer(\"{name}\")\nembeddings = model.encode([\"A first sentence.\", \"Another one.\"])"
        );
    } else {
        let class = auto_class(&task);
        let _ = writeln!(
            text,
            "from transformers import AutoTokenizer, {class}\n\ntokenizer = AutoTokenizer.from_pretrained(\"{name}\")\nmodel = {class}.from_pretrained(\"{name}\")"
        );
    }
    text.push_str("```\n\nWith bert-burn: `bert-train predict --run ");
    let _ = writeln!(
        text,
        "{name} --input FILE` (or `eval --run {name}`; `embed --run {name}` for embeddings)."
    );
    text
}

/// The training settings, as `Trainer`'s card lists them.
fn hyperparameters(files: &RunFiles) -> String {
    let mut text = String::from("### Training hyperparameters\n\n");
    let rows = [
        ("learning_rate", "lr"),
        ("train_batch_size", "batch_size"),
        ("gradient_accumulation_steps", "grad_accumulation"),
        ("total_train_batch_size", "global_batch_size"),
        ("seed", "seed"),
        ("num_epochs", "epochs"),
        ("lr_scheduler_warmup_ratio", "warmup_ratio"),
        ("weight_decay", "weight_decay"),
        ("max_grad_norm", "max_grad_norm"),
        ("max_seq_length", "max_len"),
        ("precision", "precision"),
        ("lora_rank", "lora_rank"),
        ("loss", "loss"),
    ];
    for (shown, key) in rows {
        if key == "loss" && files.task() != "sentence-embedding" {
            continue;
        }
        let value = files.arg(key);
        if !value.is_empty() && value != "null" {
            let _ = writeln!(text, "- {shown}: {value}");
        }
    }
    let _ = writeln!(
        text,
        "- optimizer: AdamW with betas=(0.9,0.999) and epsilon={}",
        files.arg("adam_epsilon")
    );
    text.push_str("- lr_scheduler_type: linear\n");
    text
}

/// The card of the run in `run` (which has its report and arguments).
pub fn model_card(run: &RunDir) -> Result<String> {
    let files = RunFiles::read(run)?;
    let metrics = report_metrics(&files.report);
    let mut card = metadata(&files, &metrics);
    let (dataset, _) = files.dataset();
    let base = base_model(&files.arg("model")).unwrap_or_else(|| files.arg("model"));
    let _ = write!(
        card,
        "\n# {}\n\nThis model is {base} fine-tuned with [bert-burn](https://burn.dev) for {} on {dataset}. On the test split it achieves:\n\n",
        files.name,
        files.task()
    );
    for (name, value) in &metrics {
        let _ = writeln!(card, "- {}: {value:.4}", metric_title(name));
    }
    let _ = write!(
        card,
        "\n## Training procedure\n\n{}",
        hyperparameters(&files)
    );
    if let Some(state) = &files.state {
        let table = results_table(state);
        if !table.is_empty() {
            let _ = write!(card, "\n### Training results\n\n{table}");
        }
    }
    let _ = write!(
        card,
        "\n{}\n### Framework versions\n\n- bert-burn {}\n- burn 0.22.1\n",
        usage(&files),
        env!("CARGO_PKG_VERSION")
    );
    Ok(card)
}

/// The card of a LoRA run's adapter folder, as peft writes one.
pub fn adapter_card(run: &RunDir) -> Result<String> {
    let files = RunFiles::read(run)?;
    let base = base_model(&files.arg("model")).unwrap_or_else(|| files.arg("model"));
    let class = auto_class(&files.task());
    Ok(format!(
        "---\nlibrary_name: peft\nbase_model: {}\ntags:\n- bert-burn\n- lora\n---\n\n# LoRA adapter of {}\n\nTrained with bert-burn (rank {}, alpha {}). Load it with peft:\n\n```python\nfrom peft import PeftModel\nfrom transformers import {class}\n\nbase = {class}.from_pretrained(\"{base}\")\nmodel = PeftModel.from_pretrained(base, \"{}/adapter\")\n```\n",
        quoted(&base),
        files.name,
        files.arg("lora_rank"),
        files.arg("lora_alpha"),
        files.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sections_give_named_metrics() {
        let report: Map<String, Value> = serde_json::from_str(
            r#"{"task": "sentence-embedding", "examples": 3, "accuracy": 0.5,
                "similarity": {"pearson": 0.8, "spearman": 0.7}, "retrieval": null}"#,
        )
        .unwrap();
        let metrics = report_metrics(&report);
        assert_eq!(
            metrics,
            [
                ("accuracy".to_string(), 0.5),
                ("similarity_pearson".to_string(), 0.8),
                ("similarity_spearman".to_string(), 0.7)
            ]
        );
        assert_eq!(metric_title("similarity_spearman"), "Similarity Spearman");
        assert_eq!(
            base_model("minilm").as_deref(),
            Some("sentence-transformers/all-MiniLM-L6-v2")
        );
        assert_eq!(
            base_model("bert-base-uncased").as_deref(),
            Some("bert-base-uncased")
        );
        assert_eq!(base_model("/tmp"), None, "a local directory is no hub id");
    }
}
