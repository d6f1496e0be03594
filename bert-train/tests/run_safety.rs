//! No run lost: a kill while a checkpoint or the final model is written, and
//! a stop signal part-way through an epoch, both end in a run that
//! `--resume` finishes; an existing run is never replaced silently.
//!
//! Trains the tiny random BERT of `tests/fixtures/tiny-bert-base` on a
//! rotten_tomatoes subset with the `bert-train` binary. The kills are
//! injected with `BERT_BURN_ABORT_WHILE_WRITING`, which aborts the process
//! half-way through writing the named file, as `kill -9` would.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bert_model::files::{ABORT_WHILE_WRITING_VAR, temporary_path};

fn tiny_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny-bert-base")
}

/// `bert-train train` of the tiny model into `run` for `epochs` epochs.
fn train_command(run: &Path, epochs: usize, train_samples: usize, extra: &[&str]) -> Command {
    let mut command = tiny_model_command(run, epochs, extra);
    command
        .args(["--dataset", "rotten_tomatoes", "--max-eval-samples", "16"])
        .args(["--max-train-samples", &train_samples.to_string()]);
    command
}

/// `bert-train train` of the tiny model into `run` for `epochs` epochs, data not given.
fn tiny_model_command(run: &Path, epochs: usize, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bert-train"));
    command
        .arg("train")
        .arg("--model")
        .arg(tiny_model())
        .arg("--output-dir")
        .arg(run)
        .args(["--max-len", "32", "--batch-size", "8"])
        .args(["--epochs", &epochs.to_string()])
        .args(extra)
        .env_remove(ABORT_WHILE_WRITING_VAR);
    command
}

fn output_text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command` and asserts it succeeds; returns stdout and stderr.
fn succeed(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let text = output_text(&output);
    assert!(output.status.success(), "{text}");
    text
}

/// Runs `command` with a kill injected while `file` is written.
fn killed_while_writing(command: &mut Command, file: &str) -> String {
    let output = command.env(ABORT_WHILE_WRITING_VAR, file).output().unwrap();
    let text = output_text(&output);
    assert!(!output.status.success(), "the run was not killed:\n{text}");
    assert!(text.contains("aborting while writing"), "{text}");
    text
}

/// The bytes of the run's saved model.
fn weights_of(run: &Path) -> Vec<u8> {
    std::fs::read(run.join("model.safetensors")).unwrap()
}

fn checkpoint(run: &Path, name: &str, epoch: usize) -> PathBuf {
    run.join(format!("checkpoint/{name}-{epoch}.bpk"))
}

#[test]
fn a_kill_while_a_checkpoint_is_written_is_resumed() {
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    killed_while_writing(&mut train_command(&run, 3, 64, &[]), "optim-2.bpk");

    let half_written = checkpoint(&run, "optim", 2);
    assert!(!half_written.exists());
    assert!(temporary_path(&half_written).exists());
    for name in ["model", "optim", "scheduler"] {
        assert!(checkpoint(&run, name, 1).is_file(), "{name}-1 must survive");
    }
    assert!(!run.join("model.safetensors").exists());

    let resumed = succeed(&mut train_command(&run, 3, 64, &["--resume"]));
    assert!(
        resumed.contains(&format!("resuming {} after epoch 1", run.display())),
        "{resumed}"
    );
    assert!(run.join("model.safetensors").is_file());
    for epoch in 1..=3 {
        assert!(
            run.join(format!("train/epoch-{epoch}")).is_dir(),
            "epoch {epoch}"
        );
    }
}

#[test]
fn a_kill_while_the_model_is_saved_is_resumed() {
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    killed_while_writing(&mut train_command(&run, 2, 32, &[]), "model.safetensors");
    assert!(!run.join("model.safetensors").exists());
    assert!(temporary_path(&run.join("model.safetensors")).exists());

    let resumed = succeed(&mut train_command(&run, 2, 32, &["--resume"]));
    assert!(resumed.contains("after epoch 2"), "{resumed}");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(config.contains("BertForSequenceClassification"), "{config}");
    assert!(run.join("model.safetensors").is_file());
}

#[test]
fn a_stop_signal_saves_a_checkpoint_within_the_epoch_and_resume_finishes() {
    stop_and_resume(&[], 500);
}

#[test]
fn two_replicas_stop_within_the_epoch_and_resume_per_shard() {
    // Each replica's shard holds half the 500 batches.
    stop_and_resume(&["--devices", "2"], 250);
}

/// Stops a run of `extra` flags (whose epochs have `steps` steps) with
/// SIGINT as training starts, then resumes it to the end.
fn stop_and_resume(extra: &[&str], steps: u64) {
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    let mut child = train_command(&run, 2, 4000, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 && !line.starts_with("training ") {
        line.clear();
    }
    assert!(line.starts_with("training "), "training never started");
    let signal = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // Named as the program was run (here the binary itself).
    let resume_hint = format!(
        "continue with: {} train --resume --output-dir {}",
        env!("CARGO_BIN_EXE_bert-train"),
        run.display()
    );
    assert!(stderr.contains(&resume_hint), "{stderr}");

    let progress: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoint/progress.json")).unwrap(),
    )
    .unwrap();
    let steps_done = progress["steps_done"].as_u64().unwrap();
    let epoch = progress["epoch"].as_u64().unwrap();
    assert!(
        steps_done < steps,
        "the epoch of {steps} steps was cut short: {progress}"
    );
    for name in ["model", "optim", "scheduler"] {
        assert!(checkpoint(&run, name, epoch as usize).is_file(), "{name}");
    }

    let resumed = succeed(&mut train_command(&run, 2, 4000, &["--resume"]));
    assert!(
        resumed.contains(&format!("in epoch {epoch} after step {steps_done}")),
        "{resumed}"
    );
    let state = trainer_state(&run);
    assert_eq!(state["global_step"], 2 * steps, "{state}");
    assert!(run.join("model.safetensors").is_file());
    assert!(!run.join("checkpoint/progress.json").exists());
}

#[test]
fn a_finished_run_is_kept_unless_overwrite_is_given() {
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    succeed(&mut train_command(&run, 1, 16, &[]));
    let weights = weights_of(&run);

    let output = train_command(&run, 1, 16, &["--seed", "7"])
        .output()
        .unwrap();
    let text = output_text(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains(
            "holds a finished run: continue it with --resume, replace it with --overwrite"
        ),
        "{text}"
    );
    assert_eq!(weights_of(&run), weights);

    let replaced = succeed(&mut train_command(
        &run,
        1,
        16,
        &["--seed", "7", "--overwrite"],
    ));
    assert!(
        replaced.contains("--overwrite: removed a finished run"),
        "{replaced}"
    );
    assert_ne!(weights_of(&run), weights);
}

/// `trainer_state.json` of `run`.
fn trainer_state(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("trainer_state.json")).unwrap()).unwrap()
}

/// The validation losses logged per epoch in `state`.
fn validation_losses(state: &serde_json::Value) -> Vec<f64> {
    state["log_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|entry| entry["eval_loss"].as_f64())
        .collect()
}

/// Training and validation CSV files of the same 32 real sentences, the
/// validation labels flipped: each epoch that fits the training labels
/// raises the validation loss, so epoch 1 is the best and later ones worse.
fn flipped_validation(dir: &Path) -> (PathBuf, PathBuf) {
    let cache = bert_data::assets::AssetCache::from_env();
    let sentences = bert_data::dataset::BuiltinDataset::find("rotten_tomatoes")
        .unwrap()
        .load(&cache)
        .unwrap()
        .train;
    let csv = |flip: bool| {
        let mut text = String::from("text,label\n");
        for example in &sentences[..32] {
            let label = match (example.label.as_str(), flip) {
                ("positive", true) => "negative",
                ("negative", true) => "positive",
                (label, _) => label,
            };
            text.push_str(&format!(
                "\"{}\",{label}\n",
                example.text.replace('"', "\"\"")
            ));
        }
        text
    };
    let (train, valid) = (dir.join("train.csv"), dir.join("valid.csv"));
    std::fs::write(&train, csv(false)).unwrap();
    std::fs::write(&valid, csv(true)).unwrap();
    (train, valid)
}

#[test]
fn a_run_killed_after_its_best_epoch_resumes_to_that_epoch() {
    killed_after_best_epoch(&[]);
}

#[test]
fn two_replicas_keep_the_best_epoch_across_a_kill() {
    killed_after_best_epoch(&["--devices", "2"]);
}

/// A run of `extra` flags whose validation loss rises after epoch 1,
/// killed while epoch 4's checkpoint is written, resumed: epoch 1 is kept.
fn killed_after_best_epoch(extra: &[&str]) {
    let scratch = tempfile::tempdir().unwrap();
    let (train, valid) = flipped_validation(scratch.path());
    let run = scratch.path().join("run");
    let files = [
        &[
            "--train-file",
            train.to_str().unwrap(),
            "--validation-file",
            valid.to_str().unwrap(),
            "--best-metric",
            "loss",
            "--lr",
            "1e-3",
            "--warmup-ratio",
            "0",
        ][..],
        extra,
    ]
    .concat();
    // Killed while the last epoch's checkpoint is written: epoch 4 is
    // trained but not recorded.
    killed_while_writing(&mut tiny_model_command(&run, 4, &files), "model-4.bpk");
    let before = trainer_state(&run);
    assert_eq!(before["epoch"], 3.0, "{before}");
    let losses = validation_losses(&before);
    assert!(
        losses.windows(2).all(|pair| pair[0] < pair[1]),
        "the flipped validation loss rises: {losses:?}"
    );
    assert_eq!(before["best_epoch"], 1, "{before}");
    let best_weights = std::fs::read(checkpoint(&run, "best-model", 1)).unwrap();

    let resumed = succeed(&mut tiny_model_command(
        &run,
        4,
        &[&files[..], &["--resume"]].concat(),
    ));
    assert!(resumed.contains("after epoch 3"), "{resumed}");
    let after = trainer_state(&run);
    let losses = validation_losses(&after);
    assert_eq!(losses.len(), 4, "{after}");
    assert!(losses[3] > losses[0], "{losses:?}");
    assert_eq!(
        (after["best_epoch"].clone(), after["best_metric"].clone()),
        (1.into(), losses[0].into())
    );
    assert_eq!(
        std::fs::read(checkpoint(&run, "best-model", 1)).unwrap(),
        best_weights
    );

    // The saved model is epoch 1's: its loss on the validation file is the
    // one logged for epoch 1 (the test split is the validation file).
    let kept = bert_train::run::RunDir::new(&run);
    let loss = validation_loss(&kept, &valid);
    assert!(
        (loss - losses[0]).abs() < 1e-5,
        "kept model's loss {loss}, logged {losses:?}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert!(report["accuracy"].is_number(), "{report}");

    // Resuming again changes nothing: the run is finished.
    let weights = weights_of(&run);
    let again = succeed(&mut tiny_model_command(
        &run,
        4,
        &[&files[..], &["--resume"]].concat(),
    ));
    assert!(
        again.contains("is finished: 4 epochs trained, epoch 1 kept"),
        "{again}"
    );
    assert_eq!(weights_of(&run), weights);
    assert_eq!(trainer_state(&run), after);
}

/// Mean cross-entropy of the run's classifier on the labelled CSV `file`.
fn validation_loss(run: &bert_train::run::RunDir, file: &Path) -> f64 {
    let device = burn::tensor::Device::flex();
    let classifier = run.load_classifier(32, &device).unwrap();
    let examples = bert_data::dataset::read_file(file, &Default::default()).unwrap();
    let items = bert_data::classification::tokenize_examples(
        &classifier.tokenizer,
        &examples,
        &classifier.labels,
    )
    .unwrap();
    let batcher = bert_data::TextBatcher::for_tokenizer(&classifier.tokenizer);
    let batches = bert_train::inference::Batches::new(&batcher, 8, &device);
    let probabilities = bert_train::tasks::classification::predict_probabilities(
        &classifier.model,
        &items,
        &batches,
    )
    .unwrap();
    let total: f64 = items
        .iter()
        .zip(&probabilities)
        .map(|(item, probs)| -f64::from(probs[item.label]).ln())
        .sum();
    total / items.len() as f64
}
