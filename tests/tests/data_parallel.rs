//! Data-parallel training (`--devices 2`) on CPU replicas: two replicas on
//! the two halves of a batch make the same parameter updates as one device
//! on the whole batch, with and without clipping and with accumulation.
//!
//! The tiny random BERT of `tests/fixtures/tiny-bert-base` (dropout turned
//! off) trains on 16 rotten_tomatoes sentences: one batch of 16 per epoch on
//! one device, or one batch of 8 per replica (the two shards of the length
//! groups are the two halves of the 16), each epoch one AdamW step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bert_burn_tests::{device, fixture, scratch_dir, train_args};
use bert_data::assets::AssetCache;
use bert_train::tasks::{Start, train};

/// burn's random generator is global: the runs take turns.
static SEEDED: Mutex<()> = Mutex::new(());

/// Largest difference allowed between the two ways of training (f32 sums in another order).
const SAME_UPDATE: f32 = 1e-5;

/// The tiny fixture model with every dropout off, so that a step is a function of its batch.
fn model_without_dropout(root: &Path) -> PathBuf {
    let dir = root.join("model");
    std::fs::create_dir_all(&dir).unwrap();
    let source = fixture("tiny-bert-base");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let config_path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    for key in [
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "classifier_dropout",
    ] {
        config[key] = 0.0.into();
    }
    std::fs::write(&config_path, config.to_string()).unwrap();
    dir
}

/// Every tensor of a safetensors file, by name, as f32.
fn tensors(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|bytes| f32::from_le_bytes(bytes.try_into().unwrap()))
                .collect();
            (name, values)
        })
        .collect()
}

/// The largest difference between same-named tensors of `a` and `b` (which hold the same names).
fn max_difference(a: &BTreeMap<String, Vec<f32>>, b: &BTreeMap<String, Vec<f32>>) -> f32 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .flat_map(|(name, values)| values.iter().zip(&b[name]))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Trains 3 epochs of the first `samples` sentences with `flags` into
/// `root/name`; returns the saved weights.
fn trained(
    root: &Path,
    model: &Path,
    name: &str,
    samples: &str,
    flags: &[&str],
) -> BTreeMap<String, Vec<f32>> {
    let run = root.join(name);
    let mut all = vec![
        "--model",
        model.to_str().unwrap(),
        "--dataset",
        "rotten_tomatoes",
        "--max-train-samples",
        samples,
        "--max-eval-samples",
        "16",
        "--output-dir",
        run.to_str().unwrap(),
        "--epochs",
        "3",
        "--max-len",
        "32",
        "--warmup-ratio",
        "0",
        "--best-metric",
        "loss",
    ];
    all.extend_from_slice(flags);
    train(
        train_args(&all),
        Start::New,
        device(),
        &AssetCache::from_env(),
    )
    .unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("trainer_state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["global_step"], 3,
        "{name}: one step per epoch: {state}"
    );
    tensors(&run.join("model.safetensors"))
}

/// Trains the three ways and a control with `optimizer` flags; compares the weights.
fn check_same_update(optimizer: &[&str]) {
    let _turn = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = scratch_dir();
    let root = scratch.path();
    let model = model_without_dropout(root);
    let run = |name, samples, flags: &[&str]| {
        trained(root, &model, name, samples, &[optimizer, flags].concat())
    };
    let one = run("one", "16", &["--batch-size", "16"]);
    let two = run("two", "16", &["--batch-size", "8", "--devices", "2"]);
    let accumulated = run(
        "two-accumulated",
        "16",
        &[
            "--batch-size",
            "4",
            "--devices",
            "cpu,cpu",
            "--grad-accumulation",
            "2",
        ],
    );
    let initial = tensors(&model.join("model.safetensors"));
    // A run saves the encoder under `bert.` (transformers' task-model names).
    let encoder = |weights: &BTreeMap<String, Vec<f32>>| {
        weights
            .iter()
            .filter_map(|(name, values)| {
                Some((name.strip_prefix("bert.")?.to_string(), values.clone()))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let moved = max_difference(&encoder(&one), &initial);
    assert!(moved > 1e-3, "training moved the weights by only {moved}");
    let difference = max_difference(&one, &two);
    assert!(
        difference <= SAME_UPDATE,
        "2 replicas x 8 vs 1 device x 16 ({optimizer:?}): {difference}"
    );
    let difference = max_difference(&one, &accumulated);
    assert!(
        difference <= SAME_UPDATE,
        "2 replicas x 4 x 2 accumulated vs 1 device x 16 ({optimizer:?}): {difference}"
    );
    // The tolerance tells updates apart: half the data is another update.
    let half = run("half", "8", &["--batch-size", "8"]);
    let difference = max_difference(&one, &half);
    assert!(
        difference > 100.0 * SAME_UPDATE,
        "one half alone: {difference}"
    );
}

#[test]
fn two_replicas_on_half_batches_update_as_one_device_on_the_batch() {
    // With an epsilon above the gradients, AdamW's step grows with them
    // (it is scale-free otherwise): gradients summed instead of averaged
    // would show.
    check_same_update(&["--max-grad-norm", "0", "--adam-epsilon", "1", "--lr", "1"]);
}

#[test]
fn two_replicas_clip_the_global_norm_of_their_averaged_gradients() {
    // 0.01 is below every gradient norm of these steps: each one is clipped,
    // by the norm of the gradients of the whole batch.
    check_same_update(&["--max-grad-norm", "0.01", "--lr", "1e-2"]);
}
