//! What crosses between host and device, counted: a forward pass uploads
//! only its batch (the position tables of MPNet, DeBERTa and ModernBERT are
//! built once per device), and training reads the device once per logging
//! step, not once per step. The two tests take turns: the counters are the
//! process's.

use std::sync::Mutex;

use bert_burn_tests::{FAMILY_FIXTURES, fixture, scratch_dir, train_args, two_label_csv};
use bert_data::BertTokenizer;
use bert_data::assets::AssetCache;
use bert_model::pretrained;
use bert_model::transfers::uploads;
use bert_train::tasks::{Start, train};
use bert_train::training::reads::reads;
use burn::tensor::Device;

static TURN: Mutex<()> = Mutex::new(());

/// A padded batch of `texts` for the model in `dir`.
fn batch(dir: &std::path::Path, texts: &[&str], device: &Device) -> bert_model::BertInput {
    let tokenizer = BertTokenizer::from_dir(dir)
        .unwrap()
        .with_max_len(32)
        .unwrap();
    let encodings: Vec<_> = texts.iter().map(|t| tokenizer.encode(t).unwrap()).collect();
    bert_data::TextBatcher::for_tokenizer(&tokenizer.with_pad_multiple(1)).input(&encodings, device)
}

#[test]
fn a_forward_pass_uploads_nothing_but_its_batch() {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Device::flex();
    let families = FAMILY_FIXTURES
        .iter()
        .map(|family| fixture(&format!("families/{family}")))
        .chain([fixture("tiny-bert-base")]);
    for dir in families {
        let (_, encoder) = pretrained::load_encoder(&dir, &device).unwrap();
        let long = batch(
            &dir,
            &["a man is playing a guitar on the stage", "two dogs"],
            &device,
        );
        let short = batch(&dir, &["a cat", "it rains"], &device);
        // The first pass of each length may build its tables.
        encoder.forward(long.clone());
        let before = uploads();
        for input in [long.clone(), short.clone(), long, short] {
            encoder.forward(input);
        }
        assert_eq!(
            uploads(),
            before,
            "{}: the forward passes uploaded",
            dir.display()
        );
    }
}

#[test]
fn training_reads_the_device_once_per_logging_step() {
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = AssetCache::from_env();
    let scratch = scratch_dir();
    let data = scratch.path().join("data.csv");
    std::fs::write(&data, two_label_csv(80)).unwrap();
    let run = scratch.path().join("run");
    let model = fixture("tiny-bert-base");
    // 64 training examples in batches of 8: 8 steps an epoch, 16 in all.
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
        "16",
        "--logging-steps",
        "4",
        "--report-to",
        "none",
    ];
    let before = reads();
    // ndarray: on flex a tensor is host memory and the clipping factor is
    // read (a load, no wait); every other backend keeps it on the device.
    #[allow(deprecated)]
    let device = Device::ndarray();
    train(train_args(&flags), Start::New, device, &cache).unwrap();
    let counted = reads() - before;
    // 16 steps / 4 = 4 log reads, and per epoch one read of the validation
    // outputs and one of the last training batches: a read per step would be 16 or more.
    let steps: u64 = 16;
    assert!(
        counted <= steps / 4 + 2 * 2,
        "{counted} reads over {steps} steps"
    );
    assert!(
        counted >= steps / 4,
        "the log reads at every logging step: {counted}"
    );
}
