//! `bert-train`: fetch models, embed texts (and, later, train and evaluate).
//! Usually run through `cargo xtask`, which picks the backend feature.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bert_data::BertTokenizer;
use bert_data::assets::{AssetCache, MODELS};
use bert_model::{Pooling, pretrained};
use bert_train::backend;
use bert_train::embed::SentenceEmbedder;
use clap::{Parser, Subcommand};

/// Fine-tune and use BERT models with burn.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install a pretrained model into the cache ($BERT_BURN_HOME) and print its directory.
    Fetch {
        /// Model name (`minilm`).
        name: String,
    },
    /// Write sentence embeddings for a file with one text per line, as JSON lines.
    Embed {
        /// `minilm` or a Hugging Face model directory.
        #[arg(long, default_value = "minilm")]
        model: String,
        /// `mean` (sentence-transformers) or `cls`.
        #[arg(long, default_value = "mean")]
        pooling: Pooling,
        /// Input text file, one text per line.
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL file; standard output if absent.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Texts per forward pass.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Longest tokenized text; longer ones are truncated.
        #[arg(long, default_value_t = BertTokenizer::DEFAULT_MAX_LEN)]
        max_len: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let cache = AssetCache::from_env();
    match cli.command {
        Command::Fetch { name } => {
            let asset = MODELS.iter().find(|a| a.name == name).with_context(|| {
                let known: Vec<_> = MODELS.iter().map(|a| a.name).collect();
                format!(
                    "unknown model {name:?}: expected one of {}",
                    known.join(", ")
                )
            })?;
            println!("{}", cache.ensure(asset)?.display());
        }
        Command::Embed {
            model,
            pooling,
            input,
            output,
            batch_size,
            max_len,
        } => {
            let dir = cache.resolve_model(&model)?;
            let device = backend::device();
            eprintln!("loading {} on {}", dir.display(), backend::name());
            let (config, bert) = pretrained::load_bert(&dir, &device)?;
            let max_len = max_len.min(config.max_position_embeddings);
            let tokenizer = BertTokenizer::from_dir(&dir)?.with_max_len(max_len)?;
            let embedder = SentenceEmbedder {
                bert,
                tokenizer,
                pooling,
                device,
            };
            let reader = BufReader::new(
                File::open(&input).with_context(|| format!("cannot open {}", input.display()))?,
            );
            let writer: Box<dyn Write> = match &output {
                Some(path) => Box::new(BufWriter::new(
                    File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(BufWriter::new(std::io::stdout().lock())),
            };
            let count = embedder.embed_lines(reader, writer, batch_size)?;
            eprintln!("wrote {count} embeddings");
        }
    }
    Ok(())
}
