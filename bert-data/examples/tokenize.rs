//! Using bert-data as a library: tokenize a sentence pair as BERT reads it
//! (`[CLS] A [SEP] B [SEP]` with segment ids) and pad a batch.
//!
//! ```text
//! cargo run -p bert-data --example tokenize -- MODEL_DIR
//! ```
//! `MODEL_DIR` holds `tokenizer.json` or `vocab.txt` (e.g. the directory
//! `cargo xtask fetch minilm` prints).

use bert_data::{BertTokenizer, PaddedBatch};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: tokenize MODEL_DIR")?;
    let tokenizer = BertTokenizer::from_dir(&dir)?.with_max_len(32)?;
    let pair = tokenizer.encode_pair("A man is eating food.", "A man eats.")?;
    let single = tokenizer.encode("A dog runs.")?;
    println!(
        "ids {:?}\nsegments {:?}",
        pair.input_ids, pair.token_type_ids
    );
    let batch = PaddedBatch::pad([&pair, &single], tokenizer.pad_id(), 8, tokenizer.max_len());
    println!(
        "batch [{}, {}], mask {:?}",
        batch.batch, batch.seq_len, batch.attention_mask
    );
    Ok(())
}
