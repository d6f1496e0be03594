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
    let mut command = Command::new(env!("CARGO_BIN_EXE_bert-train"));
    command
        .arg("train")
        .arg("--model")
        .arg(tiny_model())
        .arg("--output-dir")
        .arg(run)
        .args([
            "--dataset",
            "rotten_tomatoes",
            "--max-len",
            "32",
            "--batch-size",
            "8",
        ])
        .args(["--max-eval-samples", "16", "--epochs", &epochs.to_string()])
        .args(["--max-train-samples", &train_samples.to_string()])
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
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    let mut child = train_command(&run, 2, 4000, &[])
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
    let resume_hint = format!(
        "continue with: cargo xtask train --resume --output-dir {}",
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
        steps_done < 500,
        "the epoch of 500 steps was cut short: {progress}"
    );
    for name in ["model", "optim", "scheduler"] {
        assert!(checkpoint(&run, name, epoch as usize).is_file(), "{name}");
    }

    let resumed = succeed(&mut train_command(&run, 2, 4000, &["--resume"]));
    assert!(
        resumed.contains(&format!("in epoch {epoch} after step {steps_done}")),
        "{resumed}"
    );
    assert!(run.join("model.safetensors").is_file());
    assert!(!run.join("checkpoint/progress.json").exists());
}

#[test]
fn a_finished_run_is_kept_unless_overwrite_is_given() {
    let scratch = tempfile::tempdir().unwrap();
    let run = scratch.path().join("run");
    succeed(&mut train_command(&run, 1, 16, &[]));
    let weights = std::fs::read(run.join("model.safetensors")).unwrap();

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
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        weights
    );

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
    assert_ne!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        weights
    );
}
