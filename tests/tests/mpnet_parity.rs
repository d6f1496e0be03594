//! The real all-mpnet-base-v2 (MPNet, 110 M parameters) against transformers:
//! token ids, hidden states and sentence embeddings (mean pooling, L2 norm,
//! truncation at its 384 tokens), fixtures from
//! `tests/reference/make_fixtures.py MPNET_DIR tests/fixtures/mpnet_reference.json 384`.

use bert_burn_tests::{
    ReferenceCase, TOLERANCE, assert_close, device, encode_case, matrix_row, mpnet_dir,
    mpnet_reference, token_state,
};
use bert_data::assets::{Checksum, MPNET, sha256_file};
use bert_data::{BertTokenizer, PaddedBatch, SpecialToken};
use bert_model::{ModelFamily, Pooling, pretrained};
use bert_train::embed::SentenceEmbedder;

/// all-mpnet-base-v2's length, from its `sentence_bert_config.json`.
const MAX_SEQ_LENGTH: usize = 384;

#[test]
fn fixture_was_made_from_the_installed_checkpoint() {
    let sha = sha256_file(&mpnet_dir().join("model.safetensors")).unwrap();
    assert!(matches!(MPNET.checksum, Checksum::File { sha256, .. } if sha256 == sha));
    assert_eq!(mpnet_reference().model_sha256, sha);
    let config = pretrained::load_config(mpnet_dir()).unwrap();
    assert_eq!(config.model_type, ModelFamily::MpNet);
    assert_eq!(config.relative_attention_num_buckets, Some(32));
    assert_eq!(config.type_vocab_size, 0);
}

#[test]
fn tokenizer_gives_transformers_ids() {
    let tokenizer = BertTokenizer::from_dir(mpnet_dir()).unwrap();
    for case in mpnet_reference().cases {
        let encoding = encode_case(&tokenizer, &case);
        assert_eq!(encoding.input_ids, case.input_ids, "{}", case.name);
    }
}

/// The special tokens are the ones the model's own `special_tokens_map.json`
/// names (its vocabulary also holds BERT's `[CLS]`, `[SEP]`, `[PAD]` and
/// `[MASK]`), in our ids and in the tokenizer files a run saves.
#[test]
fn special_tokens_are_the_models_own() {
    let tokenizer = BertTokenizer::from_dir(mpnet_dir()).unwrap();
    let read = |path: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let theirs = read(mpnet_dir().join("special_tokens_map.json"));
    let scratch = bert_burn_tests::scratch_dir();
    tokenizer
        .save_pretrained(scratch.path(), "MPNetTokenizer")
        .unwrap();
    let saved = read(scratch.path().join("special_tokens_map.json"));
    let roles = [
        ("cls_token", SpecialToken::Cls),
        ("sep_token", SpecialToken::Sep),
        ("pad_token", SpecialToken::Pad),
        ("unk_token", SpecialToken::Unk),
        ("mask_token", SpecialToken::Mask),
    ];
    for (role, token) in roles {
        let expected = theirs[role]
            .as_str()
            .or_else(|| theirs[role]["content"].as_str())
            .unwrap();
        assert_eq!(tokenizer.special_token(token), Some(expected), "{role}");
        let id = tokenizer.token_to_id(expected).unwrap();
        assert_eq!(tokenizer.special_id(token).unwrap(), id, "{role}");
        assert_eq!(saved[role], expected, "{role} saved");
    }
    assert_eq!(
        tokenizer.pad_id(),
        1,
        "transformers pads MPNet with <pad>, id 1"
    );
}

#[test]
fn hidden_states_match_transformers() {
    let device = device();
    let (_, model) = pretrained::load_encoder(mpnet_dir(), &device).unwrap();
    let bert_model::Encoder::Bert(bert) = &model else {
        panic!("MPNet runs on BERT's layers");
    };
    assert!(bert.pooler.is_none(), "MPNet's heads read no pooler");
    let tokenizer = BertTokenizer::from_dir(mpnet_dir()).unwrap();
    for case in mpnet_reference().cases {
        let encoding = encode_case(&tokenizer, &case);
        let input =
            PaddedBatch::pad([&encoding], tokenizer.pad_id(), 1, case.max_len).to_input(&device);
        let mask = input.attention_mask.clone();
        let output = model.forward(input);
        let last = encoding.len() - 1;
        let hidden = &output.last_hidden_state;
        let name = &case.name;
        let first_state = token_state(hidden, 0, 0);
        assert_close(
            &format!("{name}: first"),
            &first_state,
            &case.last_hidden_first,
        );
        let last_state = token_state(hidden, 0, last);
        assert_close(
            &format!("{name}: last"),
            &last_state,
            &case.last_hidden_last,
        );
        let embedding = Pooling::Mean.embed(&output, mask);
        let pooled = matrix_row(&embedding, 0);
        assert_close(&format!("{name}: mean pooled"), &pooled, &case.mean_pooled);
    }
}

#[test]
fn padded_batch_matches_transformers() {
    let device = device();
    let (_, model) = pretrained::load_encoder(mpnet_dir(), &device).unwrap();
    let batch = mpnet_reference().batch;
    assert!(batch.token_type_ids.is_empty(), "MPNet has no token types");
    let input = batch.input(&device);
    let mask = input.attention_mask.clone();
    let output = model.forward(input);
    let embeddings = Pooling::Mean.embed(&output, mask);
    for (i, row_mask) in batch.attention_mask.iter().enumerate() {
        let real = row_mask.iter().filter(|&&m| m == 1).count();
        let hidden = &output.last_hidden_state;
        let first = token_state(hidden, i, 0);
        assert_close(
            &format!("row {i}: first"),
            &first,
            &batch.last_hidden_first[i],
        );
        let last = token_state(hidden, i, real - 1);
        let expected = &batch.last_hidden_last_real[i];
        assert_close(&format!("row {i}: last real"), &last, expected);
        let pooled = matrix_row(&embeddings, i);
        assert_close(&format!("row {i}: mean"), &pooled, &batch.mean_pooled[i]);
    }
}

#[test]
fn sentence_embeddings_match_transformers_at_384_tokens() {
    let embedder = SentenceEmbedder::load(&mpnet_dir(), (None, None), None, device()).unwrap();
    assert_eq!(embedder.tokenizer.max_len(), MAX_SEQ_LENGTH);
    let reference = mpnet_reference();
    let singles: Vec<&ReferenceCase> = reference
        .cases
        .iter()
        .filter(|case| case.text_pair.is_none() && case.max_len == MAX_SEQ_LENGTH)
        .collect();
    // The text of over 512 tokens is among them: truncated at 384 on both sides.
    assert!(
        singles
            .iter()
            .any(|case| case.input_ids.len() == MAX_SEQ_LENGTH)
    );
    let texts: Vec<String> = singles.iter().map(|case| case.text.clone()).collect();
    let embeddings = embedder.embed(&texts).unwrap();
    for (case, ours) in singles.iter().zip(&embeddings) {
        assert_close(&case.name, ours, &case.mean_pooled);
    }
    let similarity = reference.similarity;
    let pair = embedder.embed(&[similarity.a, similarity.b]).unwrap();
    let cosine: f32 = pair[0].iter().zip(&pair[1]).map(|(a, b)| a * b).sum();
    assert!(
        (cosine - similarity.cosine).abs() <= TOLERANCE,
        "cosine {cosine} against transformers' {}",
        similarity.cosine
    );
}
