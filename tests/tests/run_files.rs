//! The run files other tools read: `trainer_state.json` as transformers'
//! `Trainer` writes it (one reader for its file and ours), the model card
//! the hub parses (`huggingface_hub.ModelCard`), TensorBoard event files
//! (TensorBoard's own reader), files with the umask's mode, and runs that
//! would train nothing refused. `tests/reference/make_run_file_fixtures.py`
//! wrote the references; `BERT_BURN_WRITE_FIXTURES=1` makes these tests
//! write the card and the event file it checks.

use std::collections::BTreeMap;
use std::path::Path;

use bert_burn_tests::{fixture, read_json, scratch_dir, train_args, two_label_csv};
use bert_data::assets::AssetCache;
use bert_train::run::RunDir;
use bert_train::run::model_card::model_card;
use bert_train::run::tensorboard::EventWriter;
use bert_train::tasks::{Start, train};
use bert_train::training::TrainerState;
use serde::Deserialize;
use serde_json::Value;

/// Whether the tests write the fixtures they compare with.
fn writing_fixtures() -> bool {
    std::env::var_os("BERT_BURN_WRITE_FIXTURES").is_some()
}

#[derive(Deserialize)]
struct Expected {
    model_card: BTreeMap<String, Value>,
    tensorboard: BTreeMap<String, Vec<(u64, f64, f64)>>,
}

fn expected() -> Expected {
    read_json("run-files/expected.json")
}

#[test]
fn one_reader_reads_trainers_state_and_ours() {
    let dir = scratch_dir();
    std::fs::copy(
        fixture("run-files/trainer_state_transformers.json"),
        dir.path().join(TrainerState::FILE),
    )
    .unwrap();
    let theirs = TrainerState::read(dir.path()).unwrap().unwrap();
    assert_eq!(theirs.epochs_done(), 2);
    assert_eq!((theirs.logging_steps, theirs.train_batch_size), (2, 8));
    assert_eq!(theirs.max_steps, theirs.global_step);
    let accuracy = theirs.best_metric.unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "a fraction: {accuracy}");
    assert!(
        theirs
            .best_model_checkpoint
            .unwrap()
            .contains("checkpoint-")
    );
    let keys: Vec<&str> = theirs
        .log_history
        .iter()
        .flat_map(|e| e.keys())
        .map(String::as_str)
        .collect();
    for key in [
        "loss",
        "learning_rate",
        "grad_norm",
        "eval_loss",
        "eval_accuracy",
        "eval_f1",
    ] {
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
    // Ours, from the card fixture's run, in the same reader and shape.
    let ours = TrainerState::read(&fixture("run-files/card"))
        .unwrap()
        .unwrap();
    assert_eq!(ours.metric_for_best_model.as_deref(), Some("eval_accuracy"));
    let ours_keys: Vec<&str> = ours
        .log_history
        .iter()
        .flat_map(|e| e.keys())
        .map(String::as_str)
        .collect();
    for key in [
        "loss",
        "learning_rate",
        "grad_norm",
        "eval_loss",
        "eval_accuracy",
        "eval_f1",
        "epoch",
        "step",
    ] {
        assert!(ours_keys.contains(&key), "{key} not in {ours_keys:?}");
    }
}

#[test]
fn the_model_card_is_what_the_hub_parses() {
    let run = RunDir::new(fixture("run-files/card"));
    let card = model_card(&run).unwrap();
    let committed = fixture("run-files/card/README.md");
    if writing_fixtures() {
        std::fs::write(&committed, &card).unwrap();
    }
    assert_eq!(card, std::fs::read_to_string(&committed).unwrap());
    let parsed = expected().model_card;
    assert_eq!(parsed["library_name"], "transformers");
    assert_eq!(
        parsed["base_model"],
        "sentence-transformers/all-MiniLM-L6-v2"
    );
    assert_eq!(parsed["pipeline_tag"], "text-classification");
    assert!(
        parsed["tags"]
            .as_array()
            .unwrap()
            .contains(&"bert-burn".into())
    );
    let report: Value = run.read_json("report.json").unwrap();
    let results = parsed["eval_results"].as_array().unwrap();
    for (metric, key) in [("accuracy", "accuracy"), ("macro_f1", "macro_f1")] {
        let result = results
            .iter()
            .find(|r| r["metric_type"] == metric)
            .unwrap_or_else(|| panic!("no {metric} in {results:?}"));
        assert_eq!(result["metric_value"], report[key], "{metric}");
        assert_eq!(result["dataset_split"], "test");
        assert_eq!(result["task_type"], "text-classification");
    }
}

/// The scalars of the event fixture: `(tag, step, value, wall time)`.
const SCALARS: [(&str, u64, f64, f64); 5] = [
    ("train/loss", 10, 0.693, 1_796_672_451.25),
    ("train/learning_rate", 10, 4.5e-5, 1_796_672_451.25),
    ("train/loss", 20, 0.5, 1_796_672_460.5),
    ("eval/accuracy", 20, 0.8535, 1_796_672_470.0),
    ("eval/ndcg@10", 20, 0.25, 1_796_672_470.0),
];

#[test]
fn tensorboard_reads_every_scalar_back() {
    let dir = scratch_dir();
    let mut writer = EventWriter::create(dir.path(), 1_796_672_450.0).unwrap();
    for (tag, step, value, wall_time) in SCALARS {
        writer.scalar(tag, value, step, wall_time).unwrap();
    }
    let written = std::fs::read(writer.path()).unwrap();
    let committed = fixture("run-files/events.out.tfevents.fixture");
    if writing_fixtures() {
        std::fs::write(&committed, &written).unwrap();
    }
    assert_eq!(
        written,
        std::fs::read(&committed).unwrap(),
        "the same bytes as the checked file"
    );
    let read = expected().tensorboard;
    for (tag, step, value, wall_time) in SCALARS {
        let events = &read[tag];
        let event = events
            .iter()
            .find(|e| e.0 == step)
            .unwrap_or_else(|| panic!("{tag} {events:?}"));
        assert_eq!(event.1, f64::from(value as f32), "{tag}");
        assert_eq!(event.2, wall_time, "{tag}");
    }
    assert_eq!(read.values().map(Vec::len).sum::<usize>(), SCALARS.len());
}

/// The permission bits a new file gets here (the umask's).
#[cfg(unix)]
fn default_mode(dir: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("probe");
    std::fs::write(&probe, b"").unwrap();
    std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777
}

/// A short run on the tiny model writes Trainer's keys and scales, a model
/// card, TensorBoard files, and files others can read.
#[test]
fn a_run_writes_files_that_travel() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let data = scratch.path().join("data.csv");
    std::fs::write(&data, two_label_csv(40)).unwrap();
    let run = scratch.path().join("run");
    let model = fixture("tiny-bert-base");
    let flags = [
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--output-dir",
        run.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--max-len",
        "32",
        "--logging-steps",
        "2",
    ];
    let started = std::time::Instant::now();
    train(
        train_args(&flags),
        Start::New,
        bert_burn_tests::device(),
        &cache,
    )
    .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let state = TrainerState::read(&run).unwrap().unwrap();
    assert_eq!(
        (state.logging_steps, state.train_batch_size, state.max_steps),
        (2, 8, 8)
    );
    // Timings: 8 steps in 2 epochs, the first step ended after the start
    // and before the loop did, all within the call's own time.
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("train_results.json")).unwrap())
            .unwrap();
    assert_eq!(results["global_step"], 8, "{results}");
    assert_eq!(results["epoch"], 2.0, "{results}");
    let runtime = results["train_runtime"].as_f64().unwrap();
    let first_step = results["seconds_to_first_step"].as_f64().unwrap();
    assert!(0.0 < runtime && runtime < wall, "{results}, {wall} s");
    assert!(0.0 < first_step && first_step < wall, "{results}, {wall} s");
    let steps_per_second = results["train_steps_per_second"].as_f64().unwrap();
    assert!((steps_per_second * runtime - 8.0).abs() < 1e-6, "{results}");
    assert_eq!(
        state.metric_for_best_model.as_deref(),
        Some("eval_accuracy")
    );
    assert!(
        state
            .best_metric
            .is_some_and(|accuracy| (0.0..=1.0).contains(&accuracy))
    );
    assert!(state.best_model_checkpoint.is_some());
    let steps: Vec<u64> = state
        .log_history
        .iter()
        .filter(|e| e.contains_key("loss"))
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [2, 4, 6, 8], "a training entry every 2 of 8 steps");
    let card = std::fs::read_to_string(run.join("README.md")).unwrap();
    assert!(
        card.starts_with("---\nlibrary_name: transformers\n") && card.contains("model-index:"),
        "{card}"
    );
    let events: Vec<_> = walk(&run.join("runs"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("tfevents"))
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(std::fs::metadata(&events[0]).unwrap().len() > 100);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = default_mode(scratch.path());
        for file in walk(&run) {
            let bits = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(bits, mode, "{}", file.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A plan without an optimiser step, and a non-positive LoRA alpha, are
/// errors before the run directory is made.
#[test]
fn runs_that_would_train_nothing_are_refused() {
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let data = scratch.path().join("data.csv");
    std::fs::write(
        &data,
        "text,label\n".to_string() + &"a b,1\nc d,0\n".repeat(10),
    )
    .unwrap();
    let run = scratch.path().join("run");
    let model = fixture("tiny-bert-base");
    let base = [
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--output-dir",
        run.to_str().unwrap(),
        "--max-len",
        "16",
    ];
    let cases: [(&[&str], &str); 2] = [
        (
            &["--devices", "4", "--batch-size", "32"],
            "the training data makes 1 batches, fewer than the 4 devices",
        ),
        (
            &["--lora-rank", "4", "--lora-alpha=-8"],
            "LoRA alpha must be a positive number",
        ),
    ];
    for (extra, expected) in cases {
        let flags: Vec<&str> = base.iter().chain(extra).copied().collect();
        let error = match train(
            train_args(&flags),
            Start::New,
            bert_burn_tests::device(),
            &cache,
        ) {
            Ok(_) => panic!("{extra:?} trained"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains(expected), "{extra:?}: {error}");
        assert!(!run.exists(), "{extra:?}: the run directory was made");
    }
}
