//! Our tokenizer and model against Hugging Face on all-MiniLM-L6-v2
//! (fixtures from `tests/reference/make_fixtures.py`).

use bert_burn_tests::{
    TOLERANCE, assert_close, cpu_devices, device, encode_case, matrix_row, max_abs_diff,
    minilm_dir, reference, token_state,
};
use bert_data::assets::{Checksum, MINILM, sha256_file};
use bert_data::{BertTokenizer, PaddedBatch};
use bert_model::{BertInput, BertModelOutput, Encoder, Pooling, Precision, pretrained};
use burn::tensor::Device;

fn assert_ids_match(tokenizer: &BertTokenizer, source: &str) {
    for case in reference().cases {
        let encoding = encode_case(tokenizer, &case);
        assert_eq!(
            encoding.input_ids, case.input_ids,
            "{source}, {}: input_ids",
            case.name
        );
        assert_eq!(
            encoding.token_type_ids, case.token_type_ids,
            "{source}, {}: token_type_ids",
            case.name
        );
    }
}

fn load_minilm() -> Encoder {
    pretrained::load_encoder(minilm_dir(), &device()).unwrap().1
}

#[test]
fn fixture_was_made_from_this_checkpoint() {
    let sha = sha256_file(&minilm_dir().join("model.safetensors")).unwrap();
    assert!(matches!(MINILM.checksum, Checksum::File { sha256, .. } if sha256 == sha));
    assert_eq!(reference().model_sha256, sha);
}

#[test]
fn tokenizer_json_gives_hugging_face_ids() {
    let tokenizer = BertTokenizer::from_dir(minilm_dir()).unwrap();
    assert_ids_match(&tokenizer, "tokenizer.json");
}

#[test]
fn vocab_txt_tokenizer_gives_hugging_face_ids() {
    let dir = minilm_dir();
    let tokenizer = BertTokenizer::from_vocab(
        dir.join("vocab.txt"),
        Some(dir.join("tokenizer_config.json")),
    )
    .unwrap();
    assert_ids_match(&tokenizer, "vocab.txt");
}

#[test]
fn tokenizer_json_preset_truncation_to_128_is_cleared() {
    let tokenizer = BertTokenizer::from_dir(minilm_dir()).unwrap();
    let over_512 = reference()
        .cases
        .into_iter()
        .find(|case| case.name == "over_512")
        .unwrap();
    assert_eq!(tokenizer.encode(&over_512.text).unwrap().len(), 512);
    assert_eq!(
        tokenizer.encode("Hello world!").unwrap().len(),
        5,
        "no padding preset"
    );
}

#[test]
fn hidden_states_and_pooled_output_match_hugging_face_on_every_cpu_backend() {
    for (backend, device) in cpu_devices() {
        assert_cases_match(backend, &device);
    }
}

fn assert_cases_match(backend: &str, device: &Device) {
    let bert = pretrained::load_encoder(minilm_dir(), device).unwrap().1;
    let tokenizer = BertTokenizer::from_dir(minilm_dir()).unwrap();
    for case in reference().cases {
        let encoding = encode_case(&tokenizer, &case);
        let input = PaddedBatch::pad([&encoding], 0, 1, case.max_len).to_input(device);
        let mask = input.attention_mask.clone();
        let output = bert.forward(input);
        let last = encoding.len() - 1;
        let name = format!("{backend}, {}", case.name);
        assert_close(
            &format!("{name}: first token"),
            &token_state(&output.last_hidden_state, 0, 0),
            &case.last_hidden_first,
        );
        assert_close(
            &format!("{name}: last token"),
            &token_state(&output.last_hidden_state, 0, last),
            &case.last_hidden_last,
        );
        assert_close(
            &format!("{name}: pooled"),
            &matrix_row(output.pooled_output.as_ref().unwrap(), 0),
            &case.pooled,
        );
        let embedding = Pooling::Mean.embed(&output, mask);
        assert_close(
            &format!("{name}: mean pooled"),
            &matrix_row(&embedding, 0),
            &case.mean_pooled,
        );
    }
}

#[test]
fn padded_batch_matches_hugging_face_and_padding_changes_no_real_token() {
    let device = device();
    let bert = load_minilm();
    let batch = reference().batch;
    assert!(
        !batch.token_type_ids.is_empty(),
        "BERT's tokenizer gives segment ids"
    );
    let input = batch.input(&device);
    let mask = input.attention_mask.clone();
    let output = bert.forward(input);
    let embeddings = Pooling::Mean.embed(&output, mask);

    let tokenizer = BertTokenizer::from_dir(minilm_dir()).unwrap();
    for (i, text) in batch.texts.iter().enumerate() {
        let real = batch.attention_mask[i].iter().filter(|&&m| m == 1).count();
        let first = token_state(&output.last_hidden_state, i, 0);
        let last = token_state(&output.last_hidden_state, i, real - 1);
        assert_close(
            &format!("row {i}: first token"),
            &first,
            &batch.last_hidden_first[i],
        );
        assert_close(
            &format!("row {i}: last real token"),
            &last,
            &batch.last_hidden_last_real[i],
        );
        assert_close(
            &format!("row {i}: pooled"),
            &matrix_row(output.pooled_output.as_ref().unwrap(), i),
            &batch.pooled[i],
        );
        assert_close(
            &format!("row {i}: mean pooled"),
            &matrix_row(&embeddings, i),
            &batch.mean_pooled[i],
        );

        // The same text alone, without padding, gives the same real-token states.
        let alone = tokenizer.encode(text).unwrap();
        assert_eq!(alone.len(), real, "row {i}: token count");
        let single = bert.forward(PaddedBatch::pad([&alone], 0, 1, 512).to_input(&device));
        for position in [0, real / 2, real - 1] {
            let diff = max_abs_diff(
                &token_state(&output.last_hidden_state, i, position),
                &token_state(&single.last_hidden_state, 0, position),
            );
            assert!(
                diff <= 1e-5,
                "row {i}, token {position}: padding changed it by {diff:e}"
            );
        }
    }
}

/// Mixed precision (`--precision bf16|f16`) on the padded batch: over every
/// real token, our hidden states drift from f32 (ours and transformers')
/// no more than transformers' own autocast does on the same batch
/// (`tests/reference/autocast_drift.py`: bf16 1.944e-2, f16 2.492e-3).
#[test]
fn mixed_precision_drifts_no_more_than_transformers_autocast() {
    let device = device();
    let batch = reference().batch;
    let shape = [batch.input_ids.len(), batch.input_ids[0].len()];
    let input = || {
        BertInput::from_rows(
            batch.input_ids.concat(),
            batch.token_type_ids.concat(),
            batch.attention_mask.concat(),
            shape,
            &device,
        )
    };
    let exact = load_minilm().forward(input());
    for (precision, autocast_drift) in [(Precision::Bf16, 1.944e-2), (Precision::F16, 2.492e-3)] {
        let mixed = load_minilm().with_precision(precision).forward(input());
        let mut largest = 0.0f32;
        for i in 0..shape[0] {
            let real = batch.attention_mask[i].iter().filter(|&&m| m == 1).count();
            let state = |output: &BertModelOutput, position| {
                token_state(&output.last_hidden_state, i, position)
            };
            assert!(
                max_abs_diff(&state(&exact, 0), &batch.last_hidden_first[i]) <= TOLERANCE,
                "the f32 model itself drifted"
            );
            for (position, reference) in [
                (0, &batch.last_hidden_first[i]),
                (real - 1, &batch.last_hidden_last_real[i]),
            ] {
                largest = largest.max(max_abs_diff(&state(&mixed, position), reference));
            }
            for position in 0..real {
                let diff = max_abs_diff(&state(&mixed, position), &state(&exact, position));
                largest = largest.max(diff);
            }
        }
        eprintln!("{precision}: max |diff| = {largest:e}");
        assert!(largest > 0.0, "{precision}: products were not narrowed");
        assert!(
            largest <= autocast_drift,
            "{precision}: max |diff| = {largest:e} > transformers' {autocast_drift:e}"
        );
    }
}

#[test]
fn sentence_transformers_similarity_example_gives_0_7553() {
    let device = device();
    let bert = load_minilm();
    let tokenizer = BertTokenizer::from_dir(minilm_dir()).unwrap();
    let similarity = reference().similarity;
    let encodings = [&similarity.a, &similarity.b].map(|text| tokenizer.encode(text).unwrap());
    let input = PaddedBatch::pad(&encodings, 0, 8, 512).to_input(&device);
    let mask = input.attention_mask.clone();
    let embeddings = Pooling::Mean.embed(&bert.forward(input), mask);
    let cosine: f32 = matrix_row(&embeddings, 0)
        .iter()
        .zip(matrix_row(&embeddings, 1))
        .map(|(a, b)| a * b)
        .sum();
    assert!(
        (cosine - similarity.cosine).abs() <= 1e-4,
        "cosine {cosine} vs reference {}",
        similarity.cosine
    );
    assert_eq!(format!("{cosine:.4}"), "0.7553");
}
