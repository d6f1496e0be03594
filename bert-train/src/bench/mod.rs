//! `bench`: training and inference speed and memory on synthetic batches of
//! a fixed shape, for comparison with `bench/pytorch_peer.py` (same JSON keys).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use bert_data::TargetBatch;
use bert_data::assets::AssetCache;
use bert_data::classification::ClassificationBatch;
use bert_model::heads::ClassifierHeadConfig;
use bert_model::{
    BertConfig, BertForSequenceClassification, BertInput, Encoder, ModelFamily, Precision,
    pretrained,
};
use burn::module::Module;
use burn::tensor::{Device, Distribution, FloatDType, Int, Tensor};
use burn::train::TrainStep;
use serde::Serialize;
use tracing::info;

mod layer_profile;
mod machine;

use crate::polling::Polling;
use crate::task::TaskModel;
use crate::tasks::classification::Classification;
use crate::training::{LossScale, adamw};
use layer_profile::profile_layer;

/// The model that `bert-base` names: its geometry with random weights.
const BERT_BASE: &str = "bert-base";

/// The model that `deberta-v3-base` names: microsoft/deberta-v3-base's
/// geometry (its `config.json`) with random weights.
const DEBERTA_V3_BASE: &str = "deberta-v3-base";

/// microsoft/deberta-v3-base's `config.json`.
const DEBERTA_V3_BASE_CONFIG: &str = r#"{
    "model_type": "deberta-v2", "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
    "intermediate_size": 3072, "max_position_embeddings": 512, "relative_attention": true,
    "position_buckets": 256, "norm_rel_ebd": "layer_norm", "share_att_key": true,
    "pos_att_type": "p2c|c2p", "layer_norm_eps": 1e-7, "max_relative_positions": -1,
    "position_biased_input": false, "num_attention_heads": 12, "num_hidden_layers": 12,
    "type_vocab_size": 0, "vocab_size": 128100
}"#;

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BenchMode {
    /// Forward + backward + AdamW step, dropout on.
    Train,
    /// Forward only.
    Infer,
    /// The model's feed-forward matrix product alone, `[batch x seq, H] x
    /// [H, intermediate]`: how fast the backend's matmul is on this machine.
    Matmul,
    /// Forward time of one encoder layer, part by part, beside its bare
    /// matrix products (a table; no JSON line).
    Profile,
}

/// Float type of parameters and activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BenchDtype {
    /// 32-bit float.
    F32,
    /// bfloat16 everywhere (burn has no autocast: parameters are bf16 too).
    Bf16,
    /// IEEE half everywhere.
    F16,
}

impl BenchDtype {
    fn float_dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::Bf16 => FloatDType::BF16,
            Self::F16 => FloatDType::F16,
        }
    }
}

/// Settings of a benchmark.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Model to time: `minilm` or `mpnet` (real weights), `bert-base` (L12 H768,
    /// random weights), `deberta-v3-base` (its geometry, random weights), or
    /// any model `train --model` takes (a directory, a Hugging Face id).
    #[arg(long, default_value = "minilm")]
    pub model: String,
    /// Step kind.
    #[arg(long, value_enum, default_value = "train")]
    pub mode: BenchMode,
    /// Sequences per step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Tokens per sequence (no padding).
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Float type of everything, parameters included ("pure"; bf16/f16
    /// need `--random-init`: the checkpoints are stored in f32).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: BenchDtype,
    /// Mixed precision, as `train --precision`: f32, bf16 or f16 matrix
    /// products with f32 parameters (PyTorch's peer: `--dtype bf16`, autocast).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// Random weights in the model's geometry instead of its pretrained ones
    /// (same speed; needs no download, e.g. on an offline GPU machine).
    #[arg(long)]
    pub random_init: bool,
    /// JSON-lines file the result is appended to.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// One benchmark result; the keys match `bench/pytorch_peer.py`.
#[derive(Debug, Serialize)]
pub struct BenchResult {
    /// `burn-<backend>` or `pytorch`.
    pub framework: String,
    /// Model name.
    pub model: String,
    /// Step kind.
    pub mode: BenchMode,
    /// Float type.
    pub dtype: BenchDtype,
    /// Float type of the encoder's matrix products (mixed precision).
    pub precision: Precision,
    /// Sequences per step.
    pub batch_size: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Timed steps.
    pub steps: usize,
    /// Sequences per second (median step).
    pub samples_per_s: f64,
    /// Tokens per second (median step).
    pub tokens_per_s: f64,
    /// Arithmetic rate of the median step: the encoder's matrix products
    /// (see [`step_flop`]), or the one product in `matmul` mode.
    pub gflop_per_s: f64,
    /// The feed-forward product's rate alone on this machine (`matmul`
    /// mode's), timed before training or inference steps.
    pub gemm_gflop_per_s: Option<f64>,
    /// `gflop_per_s` over `gemm_gflop_per_s`: the step's share of the
    /// machine's own gemm peak.
    pub gemm_peak_share: Option<f64>,
    /// Median step time.
    pub ms_per_step_median: f64,
    /// Fastest step.
    pub ms_per_step_min: f64,
    /// Slowest step.
    pub ms_per_step_max: f64,
    /// Peak resident memory of the process.
    pub peak_rss_mib: f64,
    /// Largest device memory the backend's pool had reserved after a step
    /// (GPU backends; absent where the backend reports none).
    pub peak_device_mib: Option<f64>,
    /// CPU model, family and model numbers, cores and vector features.
    pub machine: String,
}

/// Whether the bench uses random weights (no checkpoint is read).
fn random_weights(args: &BenchArgs) -> bool {
    args.random_init || [BERT_BASE, DEBERTA_V3_BASE].contains(&args.model.as_str())
}

/// The bench model's geometry, without building the model.
fn geometry(args: &BenchArgs) -> Result<BertConfig> {
    Ok(match args.model.as_str() {
        BERT_BASE => BertConfig::default(),
        DEBERTA_V3_BASE => BertConfig::from_json(DEBERTA_V3_BASE_CONFIG, DEBERTA_V3_BASE)?,
        "minilm" if args.random_init => minilm_geometry(),
        name => pretrained::load_config(AssetCache::from_env().resolve_model(name)?)?,
    })
}

/// The bench's classifier: `config`'s geometry, with random or pretrained weights.
fn model(
    args: &BenchArgs,
    config: &BertConfig,
    device: &Device,
) -> Result<BertForSequenceClassification> {
    let head = ClassifierHeadConfig::for_model(config, 2).init(device);
    if random_weights(args) {
        return Ok(bert_model::BertForTask {
            bert: Encoder::new(config, device),
            head,
        }
        .with_precision(args.precision));
    }
    let dir = AssetCache::from_env().resolve_model(&args.model)?;
    Ok(pretrained::load_for_task(&dir, head, device)?
        .1
        .with_precision(args.precision))
}

/// Floating-point operations of one step's encoder matrix products: per token
/// and layer, `8 H^2` (query, key, value, output), `4 H I` (feed-forward;
/// ModernBERT's gated one `6 H I`) and `4 T H` (scores and context), each a
/// multiply and an add; training counts three times the forward (the
/// backward needs two products per forward one).
/// Embeddings, pooler, head, softmax and normalisation are left out.
pub fn step_flop(config: &BertConfig, mode: BenchMode, batch: usize, seq_len: usize) -> f64 {
    let (h, i, t) = (
        config.hidden_size as f64,
        config.intermediate_size as f64,
        seq_len as f64,
    );
    let tokens = (batch * seq_len) as f64;
    // ModernBERT's GeGLU expands to 2 x intermediate: 6hi, not 4hi.
    let feed_forward = match config.model_type {
        ModelFamily::ModernBert => 6.0 * h * i,
        _ => 4.0 * h * i,
    };
    let forward =
        tokens * config.num_hidden_layers as f64 * (8.0 * h * h + feed_forward + 4.0 * t * h);
    match mode {
        BenchMode::Train => 3.0 * forward,
        BenchMode::Infer => forward,
        BenchMode::Matmul => 2.0 * tokens * h * i,
        BenchMode::Profile => forward / config.num_hidden_layers as f64,
    }
}

/// all-MiniLM-L6-v2's shape (its `config.json`), for `--random-init`.
fn minilm_geometry() -> BertConfig {
    BertConfig {
        num_hidden_layers: 6,
        hidden_size: 384,
        intermediate_size: 1536,
        ..BertConfig::default()
    }
}

/// Random token ids from the upper 29/30 of a vocabulary of `vocab_size`
/// (clear of BERT's special and unused tokens).
fn batch(args: &BenchArgs, vocab_size: usize, device: &Device) -> ClassificationBatch {
    let shape = [args.batch_size, args.seq_len];
    let vocab = vocab_size as f64;
    let ids = Tensor::<2, Int>::random(shape, Distribution::Uniform(vocab / 30.0, vocab), device);
    TargetBatch {
        input: BertInput {
            input_ids: ids,
            token_type_ids: Tensor::zeros(shape, device),
            attention_mask: Tensor::ones(shape, device),
        },
        targets: Tensor::<1, Int>::random(
            [args.batch_size],
            Distribution::Uniform(0.0, 2.0),
            device,
        ),
    }
}

/// The command-line spelling of a value (`bert-base`, `train`).
fn value_name(value: &impl clap::ValueEnum) -> String {
    value
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}

/// `f32`, `bf16` (pure) or `f32+bf16` (f32 parameters, bf16 products).
fn float_label(dtype: BenchDtype, precision: Precision) -> String {
    match precision {
        Precision::F32 => value_name(&dtype),
        mixed => format!("{}+{mixed}", value_name(&dtype)),
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The largest device memory the backend's pool reserved after a step.
#[derive(Default)]
struct PeakDeviceMemory(Option<f64>);

impl PeakDeviceMemory {
    fn record(&mut self, device: &Device) {
        if let Some(usage) = device.memory_pool_usage() {
            let mib = usage.bytes_reserved as f64 / (1024.0 * 1024.0);
            self.0 = Some(self.0.map_or(mib, |peak| peak.max(mib)));
        }
    }
}

/// Times `args.warmup + args.steps` runs of `step` on what `prepare` gives
/// (untimed), keeping the last `args.steps`, in seconds; `step` returns once
/// the device is done.
fn time_steps<T>(
    args: &BenchArgs,
    device: &Device,
    memory: &mut PeakDeviceMemory,
    mut prepare: impl FnMut() -> T,
    mut step: impl FnMut(T) -> Result<()>,
) -> Result<Vec<f64>> {
    let mut times = Vec::with_capacity(args.steps);
    for index in 0..args.warmup + args.steps {
        let input = prepare();
        device.sync()?;
        let _polling = Polling::start(device);
        let started = Instant::now();
        step(input)?;
        memory.record(device);
        if index >= args.warmup {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// Training steps: forward, backward and AdamW on random batches.
fn train_times(
    args: &BenchArgs,
    config: &BertConfig,
    device: &Device,
    memory: &mut PeakDeviceMemory,
) -> Result<Vec<f64>> {
    let device = device.clone().autodiff();
    let mut classifier = Some(TaskModel {
        model: model(args, config, &device)?,
        task: Classification::new(false, Default::default()),
        loss_scale: LossScale::default(),
    });
    let mut optimizer = adamw(0.01, 1e-8);
    let vocab_size = config.vocab_size;
    let prepare = || batch(args, vocab_size, &device);
    time_steps(args, &device, memory, prepare, |batch| {
        let model = classifier
            .take()
            .expect("the model is back after each step");
        let output = TrainStep::step(&model, batch);
        classifier = Some(optimizer.step(1e-5, model, output.grads));
        Ok(device.sync()?)
    })
}

/// Inference steps: the classifier's forward, logits read back.
fn infer_times(
    args: &BenchArgs,
    config: &BertConfig,
    device: &Device,
    memory: &mut PeakDeviceMemory,
) -> Result<Vec<f64>> {
    let model = model(args, config, device)?.valid();
    let vocab_size = config.vocab_size;
    let prepare = || batch(args, vocab_size, device);
    time_steps(args, device, memory, prepare, |batch| {
        let _ = model.forward(batch.input).into_data();
        Ok(())
    })
}

/// The feed-forward product `[batch x seq, H] x [H, intermediate]` alone.
fn matmul_times(
    args: &BenchArgs,
    config: &BertConfig,
    device: &Device,
    memory: &mut PeakDeviceMemory,
) -> Result<Vec<f64>> {
    let rows = args.batch_size * args.seq_len;
    let dist = Distribution::Normal(0.0, 1.0);
    let a = Tensor::<2>::random([rows, config.hidden_size], dist, device);
    let b = Tensor::<2>::random([config.hidden_size, config.intermediate_size], dist, device);
    time_steps(
        args,
        device,
        memory,
        || (),
        |()| {
            let _ = a.clone().matmul(b.clone()).sum().into_data();
            Ok(())
        },
    )
}

/// One encoder layer's forward, part by part (a table in the log); the
/// whole layer's time.
fn profile_times(
    args: &BenchArgs,
    config: &BertConfig,
    backend: &str,
    device: &Device,
) -> Result<Vec<f64>> {
    let parts = profile_layer(
        config,
        args.batch_size,
        args.seq_len,
        args.steps,
        args.precision,
        device,
    )?;
    info!(
        "{backend}, one {} layer, batch {} seq {}, forward:",
        args.model, args.batch_size, args.seq_len
    );
    info!("{:<32} {:>9} {:>14}", "part", "ms", "its matmuls ms");
    for part in &parts {
        info!(
            "{:<32} {:>9.2} {:>14.2}",
            part.name, part.ms, part.matmul_ms
        );
    }
    Ok(vec![parts.iter().map(|part| part.ms / 1e3).sum()])
}

/// The median step's rate, in GFLOP/s, of `times` for `mode`.
fn gflop_per_s(args: &BenchArgs, config: &BertConfig, mode: BenchMode, times: &[f64]) -> f64 {
    let flop = step_flop(config, mode, args.batch_size, args.seq_len);
    flop / median(&sorted(times)) / 1e9
}

/// `times` from fastest to slowest.
fn sorted(times: &[f64]) -> Vec<f64> {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The middle of `sorted` times.
fn median(sorted: &[f64]) -> f64 {
    sorted[sorted.len() / 2]
}

/// Checks the arguments and configures the device's float type.
fn prepared_device(args: &BenchArgs, backend: &str, mut device: Device) -> Result<Device> {
    if args.steps == 0 || args.batch_size == 0 || args.seq_len == 0 {
        bail!("--steps, --batch-size and --seq-len must be at least 1");
    }
    if args.dtype != BenchDtype::F32 && !random_weights(args) {
        bail!(
            "--dtype {:?} needs --random-init: the checkpoint is stored in f32",
            args.dtype
        );
    }
    if args.dtype != BenchDtype::F32 {
        device
            .configure(args.dtype.float_dtype())
            .map_err(|e| anyhow::anyhow!("backend {backend} cannot run {:?}: {e:?}", args.dtype))?;
    }
    crate::backend::check_precision(args.precision)?;
    crate::backend::seed(&device, 0)?;
    Ok(device)
}

/// Runs the benchmark on `device`, prints a table row and appends a JSON line.
/// Training and inference also time the feed-forward product alone (first),
/// and report the step's rate as a share of it (the machine's own gemm peak).
pub fn bench(args: &BenchArgs, backend: &str, device: Device) -> Result<BenchResult> {
    let device = prepared_device(args, backend, device)?;
    let config = geometry(args)?;
    // Timed first, on a fresh process: after a model's steps it ran up to
    // a third slower (bert-base).
    let gemm_gflop_per_s = match args.mode {
        BenchMode::Train | BenchMode::Infer => {
            let gemm = matmul_times(args, &config, &device, &mut PeakDeviceMemory::default())?;
            Some(gflop_per_s(args, &config, BenchMode::Matmul, &gemm))
        }
        BenchMode::Profile | BenchMode::Matmul => None,
    };
    let mut memory = PeakDeviceMemory::default();
    let times = match args.mode {
        BenchMode::Profile => profile_times(args, &config, backend, &device)?,
        BenchMode::Train => train_times(args, &config, &device, &mut memory)?,
        BenchMode::Infer => infer_times(args, &config, &device, &mut memory)?,
        BenchMode::Matmul => matmul_times(args, &config, &device, &mut memory)?,
    };
    let sorted = sorted(&times);
    let median = median(&sorted);
    let gflop = gflop_per_s(args, &config, args.mode, &times);
    let result = BenchResult {
        framework: format!("burn-{backend}"),
        model: args.model.clone(),
        mode: args.mode,
        dtype: args.dtype,
        precision: args.precision,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        steps: args.steps,
        samples_per_s: args.batch_size as f64 / median,
        tokens_per_s: (args.batch_size * args.seq_len) as f64 / median,
        gflop_per_s: gflop,
        gemm_gflop_per_s,
        gemm_peak_share: gemm_gflop_per_s.map(|gemm| gflop / gemm),
        ms_per_step_median: median * 1e3,
        ms_per_step_min: sorted[0] * 1e3,
        ms_per_step_max: sorted[sorted.len() - 1] * 1e3,
        peak_rss_mib: peak_rss_mib(),
        peak_device_mib: memory.0,
        machine: machine::describe_cpu(),
    };
    info!("{}", result.row());
    if let Some(path) = &args.output {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{}", serde_json::to_string(&result)?)?;
    }
    Ok(result)
}

impl BenchResult {
    /// The result as one line of the printed table, the CPU named.
    fn row(&self) -> String {
        let share = self.gemm_peak_share.map_or_else(String::new, |share| {
            format!(" ({:.0}% of the gemm's)", share * 100.0)
        });
        format!(
            "{:<14} {:<9} {:<6} {:<8} batch {:>3} seq {:>4}: {:>8.2} samples/s {:>10.0} tokens/s {:>8.1} GFLOP/s{share}  {:>8.1} ms/step (min {:.1}, max {:.1})  peak RSS {:.0} MiB{}  [{}]",
            self.framework,
            self.model,
            value_name(&self.mode),
            float_label(self.dtype, self.precision),
            self.batch_size,
            self.seq_len,
            self.samples_per_s,
            self.tokens_per_s,
            self.gflop_per_s,
            self.ms_per_step_median,
            self.ms_per_step_min,
            self.ms_per_step_max,
            self.peak_rss_mib,
            self.peak_device_mib
                .map_or_else(String::new, |mib| format!(", device {mib:.0} MiB")),
            self.machine,
        )
    }
}
