//! Sentence embeddings for a file of texts (`embed` command).

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result};
use bert_data::{BertTokenizer, PaddedBatch};
use bert_model::sentence_transformers::{SentenceTransformerConfig, sentence_max_seq_length};
use bert_model::{Encoder, Pooling, SentencePooling, pretrained};
use burn::tensor::Device;
use tracing::info;

/// Embeds texts in batches with a loaded encoder and tokenizer.
pub struct SentenceEmbedder {
    /// The encoder.
    pub bert: Encoder,
    /// Its tokenizer, with the truncation length to use.
    pub tokenizer: BertTokenizer,
    /// How token states become one vector.
    pub pooling: SentencePooling,
    /// Where the model lives.
    pub device: Device,
}

impl SentenceEmbedder {
    /// Loads the encoder and tokenizer of the model directory `dir` (a
    /// sentence-embedding run too). It embeds as its sentence-transformers
    /// files say (pooling, normalisation), else with mean pooling and no
    /// normalisation, unless `pooling` or `normalize` are given. Texts are
    /// truncated to `max_len` tokens when given, else to the model's own
    /// `max_seq_length` (`sentence_bert_config.json`), else to 512; never
    /// past the model's position embeddings.
    pub fn load(
        dir: &Path,
        (pooling, normalize): (Option<Pooling>, Option<bool>),
        max_len: Option<usize>,
        device: Device,
    ) -> Result<Self> {
        let (config, bert) = pretrained::load_encoder(dir, &device)?;
        let pooling = SentenceTransformerConfig::pooling_of(dir, pooling, normalize)?;
        let max_len = match max_len {
            Some(max_len) => max_len,
            None => sentence_max_seq_length(dir)?.unwrap_or(BertTokenizer::DEFAULT_MAX_LEN),
        };
        let tokenizer = crate::backend::model_tokenizer(dir, &config, max_len)?;
        Ok(Self {
            bert,
            tokenizer,
            pooling,
            device,
        })
    }

    /// The embeddings of `texts`, one `Vec` per text, in order.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let encodings = texts
            .iter()
            .map(|text| self.tokenizer.encode(text))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = PaddedBatch::pad(
            &encodings,
            self.tokenizer.pad_id(),
            self.tokenizer.pad_multiple(),
            self.tokenizer.max_len(),
        );
        let embeddings = self
            .pooling
            .embed(self.bert.forward(batch.to_input(&self.device)));
        let [rows, width] = embeddings.dims();
        let values: Vec<f32> = embeddings
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading embeddings back: {e:?}"))?;
        Ok((0..rows)
            .map(|row| values[row * width..(row + 1) * width].to_vec())
            .collect())
    }

    /// Reads one text per line from `input`, writes `{"text", "embedding"}`
    /// JSON lines to `output`, `batch_size` texts at a time, with progress on stderr.
    pub fn embed_lines(
        &self,
        input: impl BufRead,
        mut output: impl Write,
        batch_size: usize,
    ) -> Result<usize> {
        let texts = input
            .lines()
            .enumerate()
            .map(|(index, line)| {
                line.with_context(|| format!("line {}: not valid UTF-8 text", index + 1))
            })
            .collect::<Result<Vec<_>>>()?;
        for (chunk_index, chunk) in texts.chunks(batch_size.max(1)).enumerate() {
            for (text, embedding) in chunk.iter().zip(self.embed(chunk)?) {
                let line = serde_json::json!({ "text": text, "embedding": embedding });
                writeln!(output, "{line}")?;
            }
            let done = (chunk_index * batch_size.max(1) + chunk.len()).min(texts.len());
            info!("embedded {done}/{}", texts.len());
        }
        output.flush()?;
        Ok(texts.len())
    }
}
