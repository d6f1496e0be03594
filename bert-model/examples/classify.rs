//! Using bert-model as a library: load a Hugging Face checkpoint, put a
//! classification head on it and run a batch.
//!
//! ```text
//! cargo run -p bert-model --features burn/ndarray --example classify -- MODEL_DIR
//! ```
//! `MODEL_DIR` is a Hugging Face BERT directory, e.g. the one
//! `cargo xtask fetch minilm` prints. Without it, a tiny random model is used.

use bert_model::heads::ClassifierHeadConfig;
use bert_model::pretrained::{self, HeadStatus};
use bert_model::{BertConfig, BertForSequenceClassification, BertInput, Encoder};
use burn::tensor::Device;
use burn::tensor::activation::softmax;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    #[allow(deprecated)]
    let device = Device::ndarray();
    let labels = ["negative", "positive"];

    let model = match std::env::args().nth(1) {
        Some(dir) => {
            let config = pretrained::load_config(&dir)?;
            let head = ClassifierHeadConfig::for_model(&config, labels.len()).init(&device);
            let (_, model, status) = pretrained::load_for_task(&dir, head, &device)?;
            if let HeadStatus::Initialised { missing } = status {
                println!(
                    "new classifier head ({} tensors not in the checkpoint)",
                    missing.len()
                );
            }
            model
        }
        None => {
            let config = BertConfig {
                hidden_size: 32,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                intermediate_size: 64,
                ..BertConfig::default()
            };
            BertForSequenceClassification {
                bert: Encoder::new(&config, &device),
                head: ClassifierHeadConfig::for_model(&config, labels.len()).init(&device),
            }
        }
    };

    // Two sequences: "[CLS] hello world [SEP]" and a shorter one padded with 0.
    let input = BertInput::from_rows(
        vec![101, 7592, 2088, 102, 101, 7592, 102, 0],
        vec![0; 8],
        vec![1, 1, 1, 1, 1, 1, 1, 0],
        [2, 4],
        &device,
    );
    let probabilities = softmax(model.forward(input), 1);
    let values: Vec<f32> = probabilities
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    for (row, probs) in values.chunks(labels.len()).enumerate() {
        println!("sequence {row}: {labels:?} = {probs:?}");
    }
    Ok(())
}
