//! `bert-train embed --model org/name` finds the model in a Hugging Face
//! cache (`$HF_HOME/hub`) laid out as `huggingface_hub` writes it, offline,
//! and uses the model's own `max_seq_length`.
//!
//! In this package rather than the workspace `tests` crate: only a package's
//! own integration tests get the path of its binary.
#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bert_data::assets::{AssetCache, MINILM};

const ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// A Hugging Face cache under `hf_home` holding all-MiniLM-L6-v2 as [`ID`]:
/// `refs/main` naming a snapshot whose files and folders (the
/// sentence-transformers modules') are symlinks to the installed model,
/// whose directory is returned.
fn cache_minilm(hf_home: &Path) -> PathBuf {
    let minilm = AssetCache::from_env()
        .ensure(&MINILM)
        .unwrap_or_else(|e| panic!("cannot install all-MiniLM-L6-v2: {e}"));
    let repo = hf_home.join("hub/models--sentence-transformers--all-MiniLM-L6-v2");
    let snapshot = repo.join("snapshots/0123abcd");
    fs::create_dir_all(&snapshot).unwrap();
    fs::create_dir_all(repo.join("refs")).unwrap();
    fs::write(repo.join("refs/main"), "0123abcd").unwrap();
    for entry in fs::read_dir(&minilm).unwrap() {
        let path = entry.unwrap().path();
        std::os::unix::fs::symlink(&path, snapshot.join(path.file_name().unwrap())).unwrap();
    }
    minilm
}

/// Runs `bert-train embed --input texts.txt ARGS` in `dir` with `HF_HOME=dir`, offline.
fn embed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bert-train"))
        .args(["embed", "--input", "texts.txt"])
        .args(args)
        .current_dir(dir)
        .env("HF_HOME", dir)
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HUB_CACHE")
        .output()
        .expect("bert-train runs")
}

/// The embeddings of a successful run, checking its log names `max_len`.
fn embeddings(output: &Output, max_len: usize) -> Vec<Vec<f32>> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(", max length {max_len} tokens")),
        "{stderr}"
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            serde_json::from_value(value["embedding"].clone()).unwrap()
        })
        .collect()
}

#[test]
fn a_cached_hugging_face_id_embeds_like_its_directory_with_its_own_max_length() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let minilm = cache_minilm(dir);
    let long = "word ".repeat(400);
    fs::write(
        dir.join("texts.txt"),
        format!("A short sentence.\n{long}\n"),
    )
    .unwrap();

    // all-MiniLM-L6-v2's sentence_bert_config.json says 256.
    let by_id = embeddings(&embed(dir, &["--model", ID]), 256);
    let by_dir = embeddings(&embed(dir, &["--model", minilm.to_str().unwrap()]), 256);
    assert_eq!(by_id.len(), 2);
    assert_eq!(by_id, by_dir);

    // An explicit --max-len wins: the long text is truncated later.
    let longer = embeddings(&embed(dir, &["--model", ID, "--max-len", "512"]), 512);
    assert_eq!(longer[0], by_id[0]);
    assert_ne!(longer[1], by_id[1]);
}

#[test]
fn offline_an_uncached_id_fails_naming_where_it_looked() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    fs::write(dir.join("texts.txt"), "text\n").unwrap();
    let output = embed(dir, &["--model", "org/not-cached"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let looked_in = dir.join("hub/models--org--not-cached/snapshots");
    assert!(
        stderr.contains(&format!(
            "model `org/not-cached` is not a directory, not a built-in model (minilm, mpnet), and \
             not in the Hugging Face cache (looked in {}); not downloaded: HF_HUB_OFFLINE is set",
            looked_in.display()
        )),
        "{stderr}"
    );
}
