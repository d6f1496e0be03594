//! Behaviour of the model on tiny random configurations: shapes, padding
//! masks, activations and swappable heads.

use bert_model::heads::{ClassifierHeadConfig, TaskHead};
use bert_model::{
    BertConfig, BertForTask, BertInput, BertModel, BertModelOutput, Encoder, HiddenAct,
    ModelFamily, ModernBertSettings,
};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// ndarray is burn's deprecated CPU backend, kept here as the project's reference CPU path.
#[allow(deprecated)]
fn device() -> Device {
    Device::ndarray()
}

fn tiny_config() -> BertConfig {
    BertConfig {
        vocab_size: 50,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 32,
        max_position_embeddings: 24,
        ..BertConfig::default()
    }
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn input(ids: &[i64], mask: &[i64], device: &Device) -> BertInput {
    BertInput::from_rows(
        ids.to_vec(),
        vec![0; ids.len()],
        mask.to_vec(),
        [1, ids.len()],
        device,
    )
}

/// Hidden states of the first `n` tokens, row 0.
fn first_tokens(output: &BertModelOutput, n: usize) -> Vec<f32> {
    let [_, _, width] = output.last_hidden_state.dims();
    values(
        output
            .last_hidden_state
            .clone()
            .slice([0..1, 0..n])
            .reshape([n * width]),
    )
}

#[test]
fn forward_gives_documented_shapes() {
    let device = device();
    let model = BertModel::new(&tiny_config(), &device);
    let batch = BertInput::from_rows(vec![2; 3 * 7], vec![0; 21], vec![1; 21], [3, 7], &device);
    let output = model.forward(batch);
    assert_eq!(output.last_hidden_state.dims(), [3, 7, 16]);
    assert_eq!(output.pooled_output.unwrap().dims(), [3, 16]);
}

#[test]
fn padding_does_not_change_real_tokens_whatever_the_pad_ids() {
    let device = device();
    let model = BertModel::new(&tiny_config(), &device);
    let alone = model.forward(input(&[1, 7, 8, 9, 2], &[1; 5], &device));
    for padding in [[0, 0, 0], [13, 44, 5]] {
        let ids = [1, 7, 8, 9, 2, padding[0], padding[1], padding[2]];
        let padded = model.forward(input(&ids, &[1, 1, 1, 1, 1, 0, 0, 0], &device));
        let diff = max_abs_diff(&first_tokens(&alone, 5), &first_tokens(&padded, 5));
        assert!(
            diff < 1e-5,
            "padding {padding:?} changed real tokens by {diff}"
        );
        let pooled_diff = max_abs_diff(
            &values(alone.pooled_output.clone().unwrap()),
            &values(padded.pooled_output.unwrap()),
        );
        assert!(pooled_diff < 1e-5, "pooled output changed by {pooled_diff}");
    }
}

#[test]
fn unmasked_tokens_do_change_the_output() {
    let device = device();
    let model = BertModel::new(&tiny_config(), &device);
    let a = model.forward(input(&[1, 7, 8, 2], &[1; 4], &device));
    let b = model.forward(input(&[1, 7, 9, 2], &[1; 4], &device));
    assert!(max_abs_diff(&first_tokens(&a, 1), &first_tokens(&b, 1)) > 1e-4);
}

#[test]
fn inference_is_deterministic_without_autodiff() {
    let device = device();
    let model = BertModel::new(&tiny_config(), &device);
    let a = model.forward(input(&[1, 7, 8, 2], &[1; 4], &device));
    let b = model.forward(input(&[1, 7, 8, 2], &[1; 4], &device));
    assert_eq!(values(a.last_hidden_state), values(b.last_hidden_state));
}

#[test]
fn every_activation_runs_and_they_differ() {
    let device = device();
    device.seed(7);
    let outputs: Vec<Vec<f32>> = [HiddenAct::Gelu, HiddenAct::GeluTanh, HiddenAct::Relu]
        .into_iter()
        .map(|act| {
            device.seed(7);
            let config = BertConfig {
                hidden_act: act,
                ..tiny_config()
            };
            values(
                BertModel::new(&config, &device)
                    .forward(input(&[1, 5, 2], &[1; 3], &device))
                    .pooled_output
                    .unwrap(),
            )
        })
        .collect();
    assert!(outputs.iter().all(|o| o.iter().all(|v| v.is_finite())));
    assert!(
        max_abs_diff(&outputs[0], &outputs[2]) > 1e-6,
        "gelu and relu gave the same output"
    );
}

#[test]
#[should_panic(expected = "longer than the model's 24 positions")]
fn sequences_longer_than_the_positions_are_refused() {
    let device = device();
    let model = BertModel::new(&tiny_config(), &device);
    model.forward(input(&[1; 25], &[1; 25], &device));
}

#[test]
fn classification_head_gives_one_logit_per_label() {
    let device = device();
    let config = tiny_config();
    let model = BertForTask {
        bert: Encoder::new(&config, &device),
        head: ClassifierHeadConfig::for_model(&config, 3).init(&device),
    };
    assert_eq!(model.head.num_labels(), 3);
    let logits = model.forward(BertInput::from_rows(
        vec![1; 10],
        vec![0; 10],
        vec![1; 10],
        [2, 5],
        &device,
    ));
    assert_eq!(logits.dims(), [2, 3]);
}

/// A head defined outside the crate: one score per token.
#[derive(Module, Debug)]
struct TokenScorer {
    scorer: Linear,
}

impl TaskHead for TokenScorer {
    type Output = Tensor<3>;
    const CHECKPOINT_PREFIXES: &'static [&'static str] = &["scorer"];
    // No transformers class has this head: it opens the encoder.
    const TASK: Option<&'static str> = None;

    fn for_config(config: &BertConfig, device: &Device) -> Self {
        Self {
            scorer: LinearConfig::new(config.hidden_size, 1).init(device),
        }
    }

    fn forward(&self, encoded: BertModelOutput) -> Tensor<3> {
        self.scorer.forward(encoded.last_hidden_state)
    }
}

#[test]
fn heads_are_swappable_over_the_same_encoder() {
    let device = device();
    let config = tiny_config();
    let bert = Encoder::new(&config, &device);
    let batch = || BertInput::from_rows(vec![1; 10], vec![0; 10], vec![1; 10], [2, 5], &device);

    let classifier = BertForTask {
        bert: bert.clone(),
        head: ClassifierHeadConfig::for_model(&config, 4).init(&device),
    };
    let tagger = BertForTask {
        bert,
        head: TokenScorer {
            scorer: LinearConfig::new(16, 2).init(&device),
        },
    };
    assert_eq!(classifier.forward(batch()).dims(), [2, 4]);
    assert_eq!(tagger.forward(batch()).dims(), [2, 5, 2]);
    // Same encoder weights under both heads.
    let a = values(classifier.bert.word_embeddings());
    let b = values(tagger.bert.word_embeddings());
    assert_eq!(a, b);
}

/// A tiny ModernBERT whose two layers both attend through a window reaching
/// `reach` tokens either side (`local_attention` = 2 · reach).
fn tiny_modernbert(reach: usize) -> BertConfig {
    BertConfig {
        model_type: ModelFamily::ModernBert,
        type_vocab_size: 0,
        layer_norm_eps: 1e-5,
        // Wide weights: a token two layers away moves the output visibly.
        initializer_range: 0.5,
        modernbert: Some(ModernBertSettings {
            local_attention: 2 * reach,
            layer_types: Some(vec!["sliding_attention".into(); 2]),
            ..ModernBertSettings::default()
        }),
        ..tiny_config()
    }
}

#[test]
fn modernbert_padding_does_not_change_real_tokens() {
    let device = device();
    device.seed(3);
    let model = Encoder::new(&tiny_modernbert(64), &device);
    let alone = model.forward(input(&[1, 7, 8, 9, 2], &[1; 5], &device));
    let padded = model.forward(input(
        &[1, 7, 8, 9, 2, 0, 0],
        &[1, 1, 1, 1, 1, 0, 0],
        &device,
    ));
    let diff = max_abs_diff(&first_tokens(&alone, 5), &first_tokens(&padded, 5));
    assert!(diff < 1e-5, "padding changed real tokens by {diff}");
    assert!(alone.pooled_output.is_none(), "ModernBERT has no pooler");
}

#[test]
fn modernbert_sliding_window_hides_tokens_beyond_its_reach() {
    let device = device();
    device.seed(3);
    // Two layers reaching one token each: token 0 sees tokens 0..=2, no further.
    let model = Encoder::new(&tiny_modernbert(1), &device);
    let first = |ids: &[i64]| first_tokens(&model.forward(input(ids, &[1; 6], &device)), 1);
    let base = first(&[1, 7, 8, 9, 10, 2]);
    assert!(max_abs_diff(&base, &first(&[1, 7, 8, 9, 11, 3])) < 1e-6);
    assert!(max_abs_diff(&base, &first(&[1, 7, 12, 9, 10, 2])) > 1e-4);
}

/// A v3-style DeBERTa: log buckets (4, so 12 tokens leave the exact range),
/// c2p and p2c, shared keys, normalised relative embeddings, no absolute
/// positions or token types.
fn tiny_deberta() -> BertConfig {
    let json = r#"{
        "model_type": "deberta-v2", "vocab_size": 50, "hidden_size": 16,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
        "max_position_embeddings": 24, "relative_attention": true, "position_buckets": 4,
        "max_relative_positions": 24, "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": false, "norm_rel_ebd": "layer_norm", "share_att_key": true,
        "initializer_range": 0.5
    }"#;
    BertConfig::from_json(json, "tiny deberta").unwrap()
}

#[test]
fn deberta_padding_does_not_change_real_tokens() {
    let device = device();
    device.seed(3);
    let model = Encoder::new(&tiny_deberta(), &device);
    let ids = [1, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 2];
    let alone = model.forward(input(&ids, &[1; 12], &device));
    let mut padded_ids = ids.to_vec();
    padded_ids.extend([0, 0, 0]);
    let mut mask = vec![1; 12];
    mask.extend([0, 0, 0]);
    let padded = model.forward(input(&padded_ids, &mask, &device));
    let diff = max_abs_diff(&first_tokens(&alone, 12), &first_tokens(&padded, 12));
    assert!(diff < 1e-5, "padding changed real tokens by {diff}");
    assert!(
        alone.pooled_output.is_none(),
        "DeBERTa's encoder has no pooler"
    );
}

#[test]
fn deberta_relative_attention_sees_order_without_absolute_positions() {
    let device = device();
    device.seed(3);
    let model = Encoder::new(&tiny_deberta(), &device);
    // Without absolute positions, only the relative terms tell the order.
    let first = |ids: &[i64]| first_tokens(&model.forward(input(ids, &[1; 5], &device)), 1);
    assert!(max_abs_diff(&first(&[1, 7, 8, 9, 2]), &first(&[1, 9, 8, 7, 2])) > 1e-4);
}

#[test]
fn deberta_dropout_runs_in_training_only() {
    let device = device().autodiff();
    device.seed(3);
    let model = Encoder::new(&tiny_deberta(), &device);
    let ids = [1, 7, 8, 9, 2];
    let run = |model: &Encoder| {
        values(
            model
                .forward(input(&ids, &[1; 5], &device))
                .last_hidden_state,
        )
    };
    let (first, second) = (run(&model), run(&model));
    assert!(
        max_abs_diff(&first, &second) > 1e-4,
        "dropout drew no masks"
    );
    let frozen = model.valid();
    let eval = values(
        frozen
            .forward(input(&ids, &[1; 5], &device.clone().without_autodiff()))
            .last_hidden_state,
    );
    assert!(
        max_abs_diff(&first, &eval) > 1e-4,
        "training equals evaluation"
    );
}

#[test]
fn deberta_refuses_the_conv_layer_by_name() {
    let json = r#"{"model_type": "deberta-v2", "conv_kernel_size": 3}"#;
    let err = BertConfig::from_json(json, "c.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ConvLayer") && err.contains("conv_kernel_size 3"),
        "{err}"
    );
}
