//! Loading Hugging Face checkpoints: key layouts, heads, and the errors for
//! checkpoints that do not fit. Variants are written from the real
//! all-MiniLM-L6-v2 weights.

use bert_burn_tests::{assert_close, device, minilm_dir, scratch_dir, values};
use bert_model::heads::{ClassifierHeadConfig, SequenceClassificationHead};
use bert_model::pretrained::{self, HeadStatus, LoadError};
use bert_model::{BertConfig, BertInput};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tempfile::TempDir;

/// One checkpoint tensor: name, shape and little-endian f32 values.
struct Entry {
    name: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn f32_entry(name: &str, shape: &[usize], values: impl Iterator<Item = f32>) -> Entry {
    Entry {
        name: name.to_string(),
        shape: shape.to_vec(),
        data: values.flat_map(f32::to_le_bytes).collect(),
    }
}

/// Writes a copy of all-MiniLM-L6-v2 whose tensors went through `edit` into
/// a temporary directory, removed when the returned guard drops.
fn minilm_variant(edit: impl FnOnce(&mut Vec<Entry>)) -> TempDir {
    let source = minilm_dir();
    let scratch = scratch_dir();
    let dir = scratch.path();
    std::fs::copy(source.join("config.json"), dir.join("config.json")).unwrap();
    let bytes = std::fs::read(source.join("model.safetensors")).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let mut entries: Vec<Entry> = tensors
        .tensors()
        .into_iter()
        .filter(|(_, view)| view.dtype() == Dtype::F32)
        .map(|(name, view)| Entry {
            name,
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    edit(&mut entries);
    let views: Vec<(String, TensorView<'_>)> = entries
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                TensorView::new(Dtype::F32, e.shape.clone(), &e.data).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    scratch
}

fn classifier_head(num_labels: usize) -> SequenceClassificationHead {
    let config = BertConfig {
        hidden_size: 384,
        ..BertConfig::default()
    };
    ClassifierHeadConfig::for_model(&config, num_labels).init(&device())
}

fn load_error(dir: &TempDir) -> String {
    match pretrained::load_encoder(dir, &device()) {
        Ok(_) => panic!("{} loaded although it does not fit", dir.path().display()),
        Err(error) => error.to_string(),
    }
}

fn sample_input() -> BertInput {
    BertInput::from_rows(
        vec![101, 7592, 2088, 102],
        vec![0; 4],
        vec![1; 4],
        [1, 4],
        &device(),
    )
}

#[test]
fn bert_prefixed_checkpoint_with_classifier_loads_the_head() {
    let classifier: Vec<f32> = (0..2 * 384).map(|i| (i as f32 * 0.37).sin()).collect();
    let dir = minilm_variant(|entries| {
        for entry in entries.iter_mut() {
            entry.name = format!("bert.{}", entry.name);
        }
        entries.push(f32_entry(
            "classifier.weight",
            &[2, 384],
            classifier.iter().copied(),
        ));
        entries.push(f32_entry("classifier.bias", &[2], [0.5, -0.5].into_iter()));
    });
    let (_, model, status) =
        pretrained::load_for_task(&dir, classifier_head(2), &device()).unwrap();
    assert_eq!(status, HeadStatus::Loaded);

    // PyTorch stores [out, in]; burn's Linear holds [in, out].
    let weight = values(model.head.classifier.weight.val());
    for out in 0..2 {
        for input in 0..384 {
            assert_eq!(weight[input * 2 + out], classifier[out * 384 + input]);
        }
    }
    let bias = values(model.head.classifier.bias.as_ref().unwrap().val());
    assert_eq!(bias, [0.5, -0.5]);

    // The encoder is the same as from the unprefixed original.
    let (_, original) = pretrained::load_encoder(minilm_dir(), &device()).unwrap();
    let ours = values(model.bert.forward(sample_input()).pooled_output.unwrap());
    let theirs = values(original.forward(sample_input()).pooled_output.unwrap());
    assert_close("pooled output", &ours, &theirs);

    // The bare encoder loads from it too, ignoring the classifier.
    assert!(pretrained::load_encoder(&dir, &device()).is_ok());
}

#[test]
fn base_checkpoint_reports_the_head_as_initialised() {
    let (_, _, status) =
        pretrained::load_for_task(minilm_dir(), classifier_head(3), &device()).unwrap();
    match status {
        HeadStatus::Initialised { missing } => {
            assert!(
                missing.iter().any(|p| p == "head.classifier.weight"),
                "{missing:?}"
            );
            assert!(
                missing.iter().any(|p| p == "head.classifier.bias"),
                "{missing:?}"
            );
        }
        HeadStatus::Loaded => panic!("all-MiniLM-L6-v2 has no classifier"),
    }
}

#[test]
fn a_partly_present_head_is_an_error() {
    let dir = minilm_variant(|entries| {
        entries.push(f32_entry(
            "classifier.weight",
            &[2, 384],
            std::iter::repeat_n(0.1, 768),
        ));
    });
    let error = pretrained::load_for_task(&dir, classifier_head(2), &device())
        .expect_err("a classifier without bias must not load")
        .to_string();
    assert!(error.contains("missing: head.classifier.bias"), "{error}");
}

#[test]
fn missing_tensor_is_named() {
    let dir = minilm_variant(|entries| {
        entries.retain(|e| e.name != "encoder.layer.3.output.dense.bias");
    });
    let error = load_error(&dir);
    assert!(
        error.contains("missing: encoder.layer.3.output.dense.bias"),
        "{error}"
    );
    assert!(error.contains("model.safetensors"), "{error}");
}

#[test]
fn unexpected_tensor_is_named() {
    let dir = minilm_variant(|entries| {
        entries.push(f32_entry(
            "encoder.layer.0.attention.rotary.weight",
            &[4],
            [1.0; 4].into_iter(),
        ));
    });
    let error = load_error(&dir);
    assert!(
        error.contains("unexpected: encoder.layer.0.attention.rotary.weight"),
        "{error}"
    );
}

#[test]
fn wrongly_shaped_tensor_is_named_with_both_shapes() {
    let dir = minilm_variant(|entries| {
        let entry = entries
            .iter_mut()
            .find(|e| e.name == "embeddings.token_type_embeddings.weight")
            .unwrap();
        *entry = f32_entry(
            &entry.name.clone(),
            &[3, 384],
            std::iter::repeat_n(0.0, 3 * 384),
        );
    });
    let error = load_error(&dir);
    assert!(
        error.contains("embeddings.token_type_embeddings.weight"),
        "{error}"
    );
    assert!(
        error.contains("[3, 384]") && error.contains("[2, 384]"),
        "{error}"
    );
}

#[test]
fn directory_without_weights_is_reported() {
    let dir = scratch_dir();
    std::fs::copy(
        minilm_dir().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let error = pretrained::load_encoder(&dir, &device()).err().unwrap();
    assert!(matches!(error, LoadError::NoWeights { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("no model.safetensors or pytorch_model.bin")
    );
}

/// `tests/fixtures/tiny-bert-pt/expected.json`, from `tests/reference/make_tiny_checkpoint.py`.
#[derive(serde::Deserialize)]
struct TinyExpected {
    input_ids: Vec<Vec<i64>>,
    token_type_ids: Vec<Vec<i64>>,
    attention_mask: Vec<Vec<i64>>,
    last_hidden_state: Vec<Vec<Vec<f32>>>,
    pooled_output: Vec<Vec<f32>>,
    logits: Vec<Vec<f32>>,
}

#[test]
fn pytorch_bin_classifier_checkpoint_matches_hugging_face() {
    let dir = bert_burn_tests::fixture("tiny-bert-pt");
    let expected: TinyExpected = bert_burn_tests::read_json("tiny-bert-pt/expected.json");
    let config = pretrained::load_config(&dir).unwrap();
    assert_eq!(config.labels(), ["neg", "neu", "pos"]);
    let head = ClassifierHeadConfig::for_model(&config, config.labels().len()).init(&device());
    let (_, model, status) = pretrained::load_for_task(&dir, head, &device()).unwrap();
    assert_eq!(status, HeadStatus::Loaded);

    let shape = [expected.input_ids.len(), expected.input_ids[0].len()];
    let input = BertInput::from_rows(
        expected.input_ids.concat(),
        expected.token_type_ids.concat(),
        expected.attention_mask.concat(),
        shape,
        &device(),
    );
    let encoded = model.bert.forward(input.clone());
    // Row 0's last position is padding: Hugging Face computes it too, so compare it as well.
    assert_close(
        "last hidden state",
        &values(encoded.last_hidden_state),
        &expected.last_hidden_state.concat().concat(),
    );
    assert_close(
        "pooled output",
        &values(encoded.pooled_output.unwrap()),
        &expected.pooled_output.concat(),
    );
    assert_close(
        "logits",
        &values(model.forward(input)),
        &expected.logits.concat(),
    );
}

#[test]
fn saved_classifier_has_hugging_face_names_and_reloads_identically() {
    let device = device();
    let config = BertConfig {
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 32,
        vocab_size: 64,
        ..BertConfig::default()
    }
    .with_labels(&["a".to_string(), "b".to_string(), "c".to_string()]);
    let model = bert_model::BertForTask {
        bert: bert_model::Encoder::new(&config, &device),
        head: ClassifierHeadConfig::for_model(&config, 3).init(&device),
    };
    let dir = scratch_dir();
    pretrained::save_for_task(&model, &config, &dir).unwrap();

    let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let saved = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = saved.names().into_iter().map(str::to_string).collect();
    names.sort();
    for expected in [
        "bert.embeddings.LayerNorm.weight",
        "bert.encoder.layer.1.attention.self.query.weight",
        "bert.encoder.layer.0.output.LayerNorm.bias",
        "bert.pooler.dense.weight",
        "classifier.weight",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    assert_eq!(
        saved.tensor("classifier.weight").unwrap().shape(),
        [3, 16],
        "PyTorch layout [out, in]"
    );
    assert_eq!(
        names.len(),
        5 + 16 * 2 + 2 + 2,
        "only weights are saved: {names:?}"
    );

    let head = ClassifierHeadConfig::for_model(&config, 3).init(&device);
    let (loaded_config, loaded, status) = pretrained::load_for_task(&dir, head, &device).unwrap();
    assert_eq!(status, HeadStatus::Loaded);
    assert_eq!(loaded_config.labels(), ["a", "b", "c"]);
    let input = || BertInput::from_rows(vec![1, 5, 9, 2], vec![0; 4], vec![1; 4], [1, 4], &device);
    assert_eq!(
        values(model.forward(input())),
        values(loaded.forward(input()))
    );
}
