//! Fine-tuning end to end on a tiny random BERT and real rotten_tomatoes
//! sentences: learning, the kept epoch, saving, reloading, a finished run
//! left alone, one report path, and input errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use bert_burn_tests::{assert_png, device, minilm_dir, scratch_dir};
use bert_data::BertTokenizer;
use bert_data::TextBatcher;
use bert_data::assets::AssetCache;
use bert_data::classification::tokenize_examples;
use bert_data::dataset::{BuiltinDataset, Example, LabelVocab};
use bert_model::heads::ClassifierHeadConfig;
use bert_model::{BertConfig, BertForTask, Encoder, pretrained};
use bert_train::inference::Batches;
use bert_train::run::RunDir;
use bert_train::tasks::classification::{ClassificationReport, predict_probabilities};
use bert_train::tasks::{RunReport, Start, TrainArgs, evaluate_run, train};
use clap::Parser;
use tempfile::TempDir;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

/// The seed of burn's random generator is global: tests that build or
/// train models take turns so that each run is reproducible.
static SEEDED: Mutex<()> = Mutex::new(());

/// A 2-layer, 32-wide random BERT with MiniLM's (real) uncased tokenizer.
fn tiny_model_dir(root: &Path) -> PathBuf {
    let dir = root.join("tiny-model");
    let config = BertConfig {
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 128,
        // Wider than BERT's 0.02 so that a few steps break the symmetry of a random model.
        initializer_range: 0.2,
        ..BertConfig::default()
    }
    .with_labels(&["negative".to_string(), "positive".to_string()]);
    let device = device();
    device.seed(3);
    let model = BertForTask {
        bert: Encoder::new(&config, &device),
        head: ClassifierHeadConfig::for_model(&config, 2).init(&device),
    };
    pretrained::save_for_task(&model, &config, &dir).unwrap();
    std::fs::copy(
        minilm_dir().join("tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
    dir
}

/// The first `n` training sentences of rotten_tomatoes as a CSV file.
fn rotten_tomatoes_csv(root: &Path, n: usize) -> (PathBuf, Vec<Example>) {
    let splits = BuiltinDataset::find("rotten_tomatoes")
        .unwrap()
        .load(&AssetCache::from_env())
        .unwrap();
    let examples: Vec<Example> = splits.train.into_iter().take(n).collect();
    let mut csv = String::from("text,label\n");
    for example in &examples {
        csv.push_str(&format!(
            "\"{}\",{}\n",
            example.text.replace('"', "\"\""),
            example.label
        ));
    }
    let path = root.join("train.csv");
    std::fs::write(&path, csv).unwrap();
    (path, examples)
}

/// A tiny model and the first `n` rotten_tomatoes sentences in a fresh
/// directory, built while holding the turn on burn's global seed.
struct Fixture {
    _turn: MutexGuard<'static, ()>,
    /// Removes `root` when the test ends.
    _scratch: TempDir,
    root: PathBuf,
    model: PathBuf,
    data: PathBuf,
    examples: Vec<Example>,
}

fn fixture(n: usize) -> Fixture {
    let turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = scratch_dir();
    let root = scratch.path().to_path_buf();
    let model = tiny_model_dir(&root);
    let (data, examples) = rotten_tomatoes_csv(&root, n);
    Fixture {
        _turn: turn,
        _scratch: scratch,
        root,
        model,
        data,
        examples,
    }
}

/// The command-line arguments of a quick run; `extra` flags replace the defaults here.
fn args(model: &Path, data: &Path, run: &Path, extra: &[&str]) -> TrainArgs {
    let mut argv: Vec<String> = ["test", "--model", &model.display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (flag, value) in [
        ("--train-file", data.display().to_string()),
        ("--validation-file", data.display().to_string()),
        ("--output-dir", run.display().to_string()),
        ("--lr", "3e-3".into()),
        ("--batch-size", "8".into()),
        ("--max-len", "32".into()),
        ("--warmup-ratio", "0".into()),
    ] {
        if !extra.contains(&flag) {
            argv.push(flag.into());
            argv.push(value);
        }
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(argv).unwrap().args
}

/// The classification report of a run that must have succeeded.
fn classification<E: std::fmt::Debug>(report: Result<RunReport, E>) -> ClassificationReport {
    report.unwrap().get().unwrap()
}

/// Mean cross-entropy of `model_dir`'s classifier on `examples`.
fn mean_loss(model_dir: &Path, examples: &[Example]) -> f64 {
    let device = device();
    let run = RunDir::new(model_dir);
    let classifier = run.load_classifier(32, &device).unwrap();
    let labels = LabelVocab::from_names(vec!["negative".into(), "positive".into()]);
    let items = tokenize_examples(&classifier.tokenizer, examples, &labels).unwrap();
    let batcher = TextBatcher::for_tokenizer(&classifier.tokenizer);
    let batches = Batches::new(&batcher, 16, &device);
    let probabilities = predict_probabilities(&classifier.model, &items, &batches).unwrap();
    let total: f64 = items
        .iter()
        .zip(&probabilities)
        .map(|(item, probs)| -(probs[item.label] as f64).ln())
        .sum();
    total / items.len() as f64
}

/// Every file of `dir` with its bytes, to compare before and after.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The share of the most frequent label: what always predicting it scores.
fn majority_share(examples: &[Example]) -> f64 {
    let positive = examples.iter().filter(|e| e.label == "positive").count();
    positive.max(examples.len() - positive) as f64 / examples.len() as f64
}

#[test]
fn fine_tunes_saves_reloads_and_leaves_a_finished_run_alone() {
    let Fixture {
        root,
        model,
        data,
        examples,
        ..
    } = &fixture(64);
    let run = root.join("run");
    let cache = AssetCache::from_env();
    let report = classification(train(
        args(model, data, &run, &["--epochs", "12"]),
        Start::New,
        device(),
        &cache,
    ));

    // Memorising 64 sentences: the loss falls and accuracy beats always
    // answering the majority label by a margin.
    let before = mean_loss(model, examples);
    let after = mean_loss(&run, examples);
    assert!(after < before * 0.8, "loss {before:.4} -> {after:.4}");
    let baseline = majority_share(examples);
    assert!(
        report.accuracy > baseline + 0.15,
        "accuracy {} after 12 epochs, majority label {baseline}",
        report.accuracy
    );

    // The epoch kept is the first with the best validation accuracy.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("trainer_state.json")).unwrap())
            .unwrap();
    let accuracies: Vec<f64> = state["log_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["eval_accuracy"].as_f64())
        .collect();
    assert_eq!(accuracies.len(), 12, "{state}");
    let best = accuracies.iter().cloned().fold(f64::MIN, f64::max);
    let first_best = accuracies.iter().position(|&a| a == best).unwrap() + 1;
    assert_eq!(state["best_epoch"], first_best, "{state}");
    assert_eq!(state["best_metric"], best);
    assert_eq!(
        (state["epoch"].as_f64(), state["global_step"].as_u64()),
        (Some(12.0), Some(96))
    );

    // Asked to resume, a finished run answers with its report and changes
    // no byte; more epochs are refused with the reason.
    let files = snapshot(&run);
    let again = classification(train(
        args(model, data, &run, &[]),
        Start::Resume { flags: Vec::new() },
        device(),
        &cache,
    ));
    assert_eq!(again, report);
    let longer = train(
        args(model, data, &run, &["--epochs", "20"]),
        Start::Resume {
            flags: vec!["epochs".into()],
        },
        device(),
        &cache,
    )
    .unwrap_err();
    assert!(
        longer.to_string().contains("was started for 12 epochs"),
        "{longer}"
    );
    assert_eq!(snapshot(&run), files, "resuming a finished run changed it");

    // `eval` reloads the saved run and reports what `train` reported.
    let reloaded = classification(evaluate_run(
        &RunDir::new(&run),
        None,
        None,
        &device(),
        &cache,
    ));
    assert_eq!(reloaded, report);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        written["labels"],
        serde_json::json!(["negative", "positive"])
    );
    for image in ["confusion_matrix.png", "curves.png"] {
        assert_png(&run.join(image));
    }
    // The run is a Hugging Face directory with the label map in config.json.
    let config = pretrained::load_config(&run).unwrap();
    assert_eq!(config.labels(), ["negative", "positive"]);
    assert!(BertTokenizer::from_dir(&run).is_ok());
}

/// Trains the 64-example fixture for 8 epochs with `flags` added: the
/// training loss falls by a fifth and the accuracy passes 60%.
fn assert_learns(flags: &[&str]) {
    let Fixture {
        root,
        model,
        data,
        examples,
        ..
    } = &fixture(64);
    let run = root.join("run");
    let report = classification(train(
        args(model, data, &run, &[&["--epochs", "8"], flags].concat()),
        Start::New,
        device(),
        &AssetCache::from_env(),
    ));
    let before = mean_loss(model, examples);
    let after = mean_loss(&run, examples);
    assert!(
        after < before * 0.8,
        "{flags:?}: loss {before:.4} -> {after:.4}"
    );
    let baseline = majority_share(examples);
    assert!(
        report.accuracy > baseline + 0.1,
        "{flags:?}: accuracy {}, majority label {baseline}",
        report.accuracy
    );
    // One report path: `eval` of the saved run gives `train`'s numbers,
    // whatever precision trained it.
    let reloaded = classification(evaluate_run(
        &RunDir::new(&run),
        None,
        None,
        &device(),
        &AssetCache::from_env(),
    ));
    assert_eq!(reloaded, report, "{flags:?}");
}

/// `--group-by-length false`: random batches (grouping is the default).
#[test]
fn random_batches_learn_the_same_data() {
    assert_learns(&["--group-by-length", "false"]);
}

/// `--precision bf16` and `f16` (with its loss scaling) train as f32 does.
#[test]
fn mixed_precision_learns_the_same_data() {
    assert_learns(&["--precision", "bf16"]);
    assert_learns(&["--precision", "f16"]);
}

#[test]
fn unknown_label_in_validation_names_file_and_line() {
    let Fixture {
        root,
        model,
        data: train_file,
        ..
    } = &fixture(16);
    let validation = root.join("validation.csv");
    std::fs::write(&validation, "text,label\ngreat,positive\nmeh,neutral\n").unwrap();
    let mut args = args(model, train_file, &root.join("run"), &[]);
    args.training.data.validation_file = Some(validation.clone());
    let error = train(args, Start::New, device(), &AssetCache::from_env()).unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains(&format!(
            "{}:3: unknown label \"neutral\"",
            validation.display()
        )),
        "{message}"
    );
}

#[test]
fn bad_settings_and_missing_runs_are_reported() {
    let Fixture {
        root, model, data, ..
    } = &fixture(8);
    let cache = AssetCache::from_env();
    let resume = Start::Resume { flags: Vec::new() };
    let cases: [(&[&str], Start, &str); 4] = [
        (
            &["--epochs", "0"],
            Start::New,
            "--epochs, --batch-size, --grad-accumulation and --logging-steps must be at least 1",
        ),
        (
            &["--warmup-ratio", "1.5"],
            Start::New,
            "--warmup-ratio must be in [0, 1)",
        ),
        (
            &["--best-metric", "pearson"],
            Start::New,
            "--best-metric pearson does not apply to this task: choose loss, accuracy, macro-f1",
        ),
        (&[], resume, "--resume needs a run started before"),
    ];
    for (extra, start, expected) in cases {
        let run = root.join("never-trained");
        let error = train(args(model, data, &run, extra), start, device(), &cache).unwrap_err();
        assert!(
            format!("{error:#}").contains(expected),
            "{extra:?}: {error:#}"
        );
    }
    let mut unknown = args(model, data, &root.join("run"), &[]);
    unknown.training.data.train_file = None;
    unknown.training.data.dataset = Some("no_such_dataset".into());
    let error = train(unknown, Start::New, device(), &cache).unwrap_err();
    assert!(
        format!("{error:#}").contains("unknown dataset \"no_such_dataset\""),
        "{error:#}"
    );
}

#[test]
fn pair_classification_trains_on_sentence_pairs_and_needs_them() {
    let Fixture { root, model, .. } = &fixture(0);
    // STS-B pairs labelled by their score: a real pair task.
    let pairs = BuiltinDataset::find("sts_b")
        .unwrap()
        .load(&AssetCache::from_env())
        .unwrap()
        .train;
    let mut csv = String::from("first\tsecond\tlabel\n");
    let unquoted = pairs.iter().filter(|p| {
        !p.text.contains('"') && !p.text_pair.as_deref().unwrap_or_default().contains('"')
    });
    for pair in unquoted.take(48) {
        let score: f64 = pair.label.parse().unwrap();
        let label = if score >= 2.5 { "similar" } else { "different" };
        let second = pair.text_pair.as_deref().unwrap();
        csv.push_str(&format!("{}\t{second}\t{label}\n", pair.text));
    }
    let data = root.join("pairs.tsv");
    std::fs::write(&data, csv).unwrap();
    let columns = [
        "--task",
        "pair-classification",
        "--text-column",
        "first",
        "--text-pair-column",
        "second",
        "--epochs",
        "2",
    ];
    let report = classification(train(
        args(model, &data, &root.join("run"), &columns),
        Start::New,
        device(),
        &AssetCache::from_env(),
    ));
    assert_eq!(report.labels, ["different", "similar"]);
    assert_eq!(report.confusion_matrix.iter().flatten().sum::<usize>(), 48);

    let single = args(model, &data, &root.join("run-single"), &columns[..4]);
    let error = train(single, Start::New, device(), &AssetCache::from_env()).unwrap_err();
    assert!(
        format!("{error:#}")
            .contains("pair classification needs a second text (--text-pair-column)"),
        "{error:#}"
    );
}
