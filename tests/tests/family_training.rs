//! Every task fine-tunes every encoder family: one short epoch of each
//! task on each tiny family checkpoint (`tests/fixtures/families/`), through
//! `train`'s task dispatch; the run saves under the family's own names and
//! class, reloads, evaluates to the same report and predicts.

use std::path::Path;
use std::sync::Mutex;

use bert_burn_tests::{device, fixture, scratch_dir};
use bert_data::assets::AssetCache;
use bert_model::pretrained;
use bert_train::run::RunDir;
use bert_train::tasks::{Start, TrainArgs, evaluate_run, predict_run, train};
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

/// burn's seed is global: the runs take turns.
static SEEDED: Mutex<()> = Mutex::new(());

/// `(task, data arguments, transformers class after the family prefix, a predict input)`.
const TASKS: [(&str, &[&str], &str, &str); 5] = [
    (
        "classification",
        &[],
        "ForSequenceClassification",
        r#"{"text": "a witty movie"}"#,
    ),
    (
        "token-classification",
        &[],
        "ForTokenClassification",
        r#"{"text": "Empire State Building"}"#,
    ),
    (
        "question-answering",
        &["--train-file", "SQUAD", "--validation-file", "SQUAD"],
        "ForQuestionAnswering",
        r#"{"question": "Who won?", "context": "The Broncos won the game."}"#,
    ),
    // STS-B: sentence pairs.
    ("regression", &[], "ForSequenceClassification", ""),
    ("mlm", &[], "ForMaskedLM", ""),
];

fn args(family: &str, task: &str, data: &[&str], run: &Path, extra: &[&str]) -> TrainArgs {
    let model = fixture(&format!("families/{family}")).display().to_string();
    let squad = fixture("squad_sample.json").display().to_string();
    let run = run.display().to_string();
    let mut argv = vec![
        "test",
        "--task",
        task,
        "--model",
        &model,
        "--output-dir",
        &run,
        "--max-train-samples",
        "16",
        "--max-eval-samples",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--max-len",
        "32",
    ];
    argv.extend(
        data.iter()
            .map(|arg| if *arg == "SQUAD" { squad.as_str() } else { arg }),
    );
    argv.extend(extra);
    Cli::try_parse_from(argv).unwrap().args
}

/// Every task fine-tunes `family` (with `extra` flags), then reloads for
/// `eval` and `predict`.
fn check_family(family: &str, class_prefix: &str, extra: &[&str]) {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    for (task, data, class, input) in TASKS {
        if family == "electra" && task == "mlm" {
            let err = train(
                args(family, task, data, &scratch.path().join("x"), extra),
                Start::New,
                device(),
                &cache,
            )
            .unwrap_err();
            assert!(err.to_string().contains("no masked-LM head"), "{err}");
            continue;
        }
        let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
        let root = scratch.path().join(task);
        let report = train(
            args(family, task, data, &root, extra),
            Start::New,
            device(),
            &cache,
        )
        .unwrap_or_else(|e| panic!("{family} {task}: {e:#}"));
        let run = RunDir::new(&root);
        let config = pretrained::load_config(&root).unwrap();
        assert_eq!(
            config.architectures,
            [format!("{class_prefix}{class}")],
            "{family} {task}"
        );
        let names = tensor_names(&run.file("model.safetensors"));
        let encoder_prefix = format!("{}.", config.model_type.weight_prefix());
        // Our `head.` field never reaches the file; ModernBERT's own `head`
        // (dense, norm) does.
        let ours = |name: &&String| {
            name.starts_with("head.")
                && !(family == "modernbert"
                    && (name.starts_with("head.dense.") || name.starts_with("head.norm.")))
        };
        assert!(
            names.iter().any(|name| name.starts_with(&encoder_prefix))
                && !names.iter().any(|name| ours(&name)),
            "{family} {task}: {names:?}"
        );
        let lora = extra.contains(&"--lora-rank");
        assert_eq!(
            run.adapter_dir()
                .join("adapter_model.safetensors")
                .is_file(),
            lora,
            "{family} {task}: peft adapter"
        );
        // The same test split; only its name in the report differs.
        let scores = |mut report: serde_json::Value| {
            report.as_object_mut().unwrap().remove("split");
            report
        };
        let again = evaluate_run(&run, None, None, &device(), &cache).unwrap();
        assert_eq!(
            scores(again.report),
            scores(report.report),
            "{family} {task}: eval after reload"
        );
        if !input.is_empty() {
            let mut out = Vec::new();
            let count = predict_run(&run, input.as_bytes(), &mut out, 8, &device()).unwrap();
            assert_eq!(count, 1, "{family} {task}");
        }
    }
}

fn tensor_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.names().into_iter().map(str::to_string).collect()
}

#[test]
fn every_task_fine_tunes_roberta() {
    check_family("roberta", "Roberta", &[]);
}

#[test]
fn every_task_fine_tunes_xlm_roberta() {
    check_family("xlm-roberta", "XLMRoberta", &[]);
}

#[test]
fn every_task_fine_tunes_distilbert() {
    check_family("distilbert", "DistilBert", &[]);
}

#[test]
fn every_task_fine_tunes_electra() {
    check_family("electra", "Electra", &[]);
}

#[test]
fn every_task_fine_tunes_mpnet() {
    check_family("mpnet", "MPNet", &[]);
}

#[test]
fn every_task_fine_tunes_modernbert() {
    check_family("modernbert", "ModernBert", &[]);
}

#[test]
fn every_task_fine_tunes_deberta_v2() {
    check_family("deberta-v2", "DebertaV2", &[]);
}

#[test]
fn every_task_fine_tunes_with_lora() {
    check_family("distilbert", "DistilBert", &["--lora-rank", "4"]);
}
