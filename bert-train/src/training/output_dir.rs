//! Choosing the run directory so that no earlier run is ever replaced
//! silently: an explicit `--output-dir` holding a run needs `--resume` or
//! `--overwrite`; the default directory moves on to a fresh name.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tracing::info;

use super::args::TrainingArgs;
use crate::run::RunDir;

/// Settles `args.output_dir` for a new run (a resumed run keeps its directory).
pub fn claim_run_dir(args: &mut TrainingArgs, resume: bool) -> Result<()> {
    let run = args.run_dir();
    if resume {
        return Ok(());
    }
    let Some(content) = RunContent::of(&run) else {
        return Ok(());
    };
    let root = run.root();
    if content == RunContent::Other {
        bail!(
            "{} is not empty and holds no run: choose another --output-dir",
            root.display()
        );
    }
    if args.overwrite {
        std::fs::remove_dir_all(root)
            .with_context(|| format!("cannot remove {}", root.display()))?;
        info!(
            "--overwrite: removed {} from {}",
            content.describe(),
            root.display()
        );
    } else if args.output_dir.is_some() {
        bail!(
            "{} holds {}: continue it with --resume, replace it with --overwrite, or choose another --output-dir",
            root.display(),
            content.describe()
        );
    } else {
        let fresh = fresh_name(root);
        info!(
            "{} holds {}; this run goes to {} (--output-dir chooses the directory)",
            root.display(),
            content.describe(),
            fresh.display()
        );
        args.output_dir = Some(fresh);
    }
    Ok(())
}

/// What a non-empty run directory holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RunContent {
    /// A saved model: training ended.
    Finished,
    /// A run that started; with the last complete checkpoint, if any.
    Started(Option<usize>),
    /// Files that are not a run's.
    Other,
}

impl RunContent {
    /// `None` for a missing or empty directory.
    fn of(run: &RunDir) -> Option<Self> {
        std::fs::read_dir(run.root()).ok()?.next()?.ok()?;
        Some(if run.file("model.safetensors").is_file() {
            Self::Finished
        } else if run.file("training_args.json").is_file() || run.checkpoint_dir().is_dir() {
            Self::Started(run.last_checkpoint())
        } else {
            Self::Other
        })
    }

    fn describe(&self) -> String {
        match self {
            Self::Finished => "a finished run".into(),
            Self::Started(Some(epoch)) => format!("a started run (checkpoint of epoch {epoch})"),
            Self::Started(None) => "a started run (no checkpoint yet)".into(),
            Self::Other => "other files".into(),
        }
    }
}

/// `ROOT-2`, `ROOT-3`, ...: the first that is missing or empty.
fn fresh_name(root: &Path) -> PathBuf {
    (2..)
        .map(|n| PathBuf::from(format!("{}-{n}", root.display())))
        .find(|candidate| RunContent::of(&RunDir::new(candidate)).is_none())
        .expect("some numbered name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(output_dir: Option<PathBuf>, overwrite: bool) -> TrainingArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            args: TrainingArgs,
        }
        let mut args = Cli::try_parse_from(["test", "--dataset", "rotten_tomatoes"])
            .unwrap()
            .args;
        args.output_dir = output_dir;
        args.overwrite = overwrite;
        args
    }

    fn finished_run(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("model.safetensors"), b"weights").unwrap();
    }

    #[test]
    fn an_explicit_directory_with_a_run_needs_resume_or_overwrite() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("run");
        finished_run(&dir);
        let err = claim_run_dir(&mut args(Some(dir.clone()), false), false).unwrap_err();
        assert!(err.to_string().contains("holds a finished run"), "{err}");
        assert!(dir.join("model.safetensors").is_file());

        claim_run_dir(&mut args(Some(dir.clone()), false), true).unwrap();
        assert!(dir.join("model.safetensors").is_file());

        claim_run_dir(&mut args(Some(dir.clone()), true), false).unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn a_started_run_is_named_with_its_checkpoint() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("run");
        std::fs::create_dir_all(dir.join("checkpoint")).unwrap();
        for name in ["model", "optim", "scheduler"] {
            std::fs::write(dir.join(format!("checkpoint/{name}-2.bpk")), b"x").unwrap();
        }
        std::fs::write(dir.join("checkpoint/model-3.bpk"), b"x").unwrap();
        let err = claim_run_dir(&mut args(Some(dir), false), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("a started run (checkpoint of epoch 2)"),
            "{err}"
        );
    }

    #[test]
    fn a_fresh_name_skips_runs_but_takes_an_empty_directory() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("runs/rotten_tomatoes");
        finished_run(&root);
        finished_run(&scratch.path().join("runs/rotten_tomatoes-2"));
        std::fs::create_dir_all(scratch.path().join("runs/rotten_tomatoes-3")).unwrap();
        assert_eq!(
            fresh_name(&root),
            scratch.path().join("runs/rotten_tomatoes-3")
        );
    }

    #[test]
    fn a_directory_of_other_files_is_refused_even_with_overwrite() {
        let scratch = tempfile::tempdir().unwrap();
        std::fs::write(scratch.path().join("notes.txt"), b"mine").unwrap();
        let dir = scratch.path().to_path_buf();
        let err = claim_run_dir(&mut args(Some(dir.clone()), true), false).unwrap_err();
        assert!(err.to_string().contains("holds no run"), "{err}");
        assert!(dir.join("notes.txt").is_file());
    }
}
