//! `cargo xtask COMMAND [--backend ndarray|flex|wgpu|cuda] [ARGS...]`
//!
//! Builds `bert-train` in release mode with the chosen backend feature and
//! runs `COMMAND ARGS...` with it. `--backend` defaults to `flex`.

use std::process::{Command, ExitCode};

const BACKENDS: &[&str] = &["ndarray", "flex", "wgpu", "cuda"];
/// burn's successor CPU backend: 1.7x ndarray's training throughput here (see README).
const DEFAULT_BACKEND: &str = "flex";

/// Splits `--backend B` / `--backend=B` out of the arguments.
fn take_backend(args: Vec<String>) -> Result<(String, Vec<String>), String> {
    let mut backend = DEFAULT_BACKEND.to_string();
    let mut rest = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--backend" {
            backend = args.next().ok_or("--backend needs a value")?;
        } else if let Some(value) = arg.strip_prefix("--backend=") {
            backend = value.to_string();
        } else {
            rest.push(arg);
        }
    }
    if !BACKENDS.contains(&backend.as_str()) {
        return Err(format!(
            "unknown backend {backend:?}: expected one of {}",
            BACKENDS.join(", ")
        ));
    }
    Ok((backend, rest))
}

/// The command that runs bert-train with `backend` through xtask.
fn invocation(backend: &str) -> String {
    if backend == DEFAULT_BACKEND {
        "cargo xtask".into()
    } else {
        format!("cargo xtask --backend {backend}")
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() || args[0] == "--help" || args[0] == "-h" {
        eprintln!(
            "usage: cargo xtask COMMAND [--backend {}] [ARGS...]\n\
             commands are bert-train's: run `cargo xtask help` for the list",
            BACKENDS.join("|")
        );
        return ExitCode::from(2);
    }
    let (backend, rest) = match take_backend(args) {
        Ok(split) => split,
        Err(message) => {
            eprintln!("xtask: {message}");
            return ExitCode::from(2);
        }
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        // How bert-train names itself in the commands it suggests.
        .env("BERT_BURN_COMMAND", invocation(&backend))
        .args([
            "run",
            "--release",
            "--package",
            "bert-train",
            "--no-default-features",
            "--features",
        ])
        .arg(&backend)
        .arg("--")
        .args(&rest)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("xtask: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_flag_is_taken_out_and_the_rest_kept_in_order() {
        let (backend, rest) = take_backend(
            ["embed", "--backend", "wgpu", "--input", "x.txt"]
                .map(String::from)
                .to_vec(),
        )
        .unwrap();
        assert_eq!(backend, "wgpu");
        assert_eq!(
            rest,
            ["embed", "--input", "x.txt"].map(String::from).to_vec()
        );
    }

    #[test]
    fn default_backend_is_flex_and_equals_form_works() {
        assert_eq!(
            take_backend(["fetch", "minilm"].map(String::from).to_vec())
                .unwrap()
                .0,
            "flex"
        );
        assert_eq!(
            take_backend(["--backend=ndarray", "embed"].map(String::from).to_vec())
                .unwrap()
                .0,
            "ndarray"
        );
    }

    #[test]
    fn unknown_backend_is_an_error() {
        let err =
            take_backend(["train", "--backend", "tpu"].map(String::from).to_vec()).unwrap_err();
        assert!(
            err.contains("expected one of ndarray, flex, wgpu, cuda"),
            "{err}"
        );
    }
}
