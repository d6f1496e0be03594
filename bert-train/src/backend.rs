//! The compute device, chosen among the backends the binary was built with.
//!
//! A binary usually carries one backend feature. One built with several
//! (e.g. `--features wgpu,cuda`) uses the first of cuda, wgpu, flex, ndarray,
//! unless the `BERT_BURN_BACKEND` environment variable names another.

use std::path::Path;

use anyhow::{Result, bail};
use bert_data::BertTokenizer;
use bert_model::{BertConfig, Precision};
use burn::tensor::Device;
use tracing::warn;

#[cfg(not(any(
    feature = "cuda",
    feature = "wgpu",
    feature = "flex",
    feature = "ndarray"
)))]
compile_error!("bert-train needs a backend feature: ndarray, flex, wgpu or cuda");

/// Environment variable that picks one of several compiled-in backends.
pub const BACKEND_VAR: &str = "BERT_BURN_BACKEND";

/// Backends compiled into this binary, in order of preference.
pub fn compiled() -> Vec<&'static str> {
    [
        ("cuda", cfg!(feature = "cuda")),
        ("wgpu", cfg!(feature = "wgpu")),
        ("flex", cfg!(feature = "flex")),
        ("ndarray", cfg!(feature = "ndarray")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// Name of the backend in use: `$BERT_BURN_BACKEND` if set, else the first compiled in.
pub fn name() -> Result<&'static str> {
    let compiled = compiled();
    match std::env::var(BACKEND_VAR) {
        Ok(wanted) => match compiled.iter().find(|name| **name == wanted) {
            Some(name) => Ok(name),
            None => bail!(
                "{BACKEND_VAR}={wanted:?} is not compiled into this binary (it has: {})",
                compiled.join(", ")
            ),
        },
        Err(_) => Ok(compiled[0]),
    }
}

/// The device of the backend in use, built explicitly (never `Device::default()`).
pub fn device() -> Result<Device> {
    Ok(device_of(name()?))
}

/// The multiple batch lengths are padded to on GPU backends: kernels are
/// compiled (and autotuned) per shape, so lengths come in steps of 32, at
/// most `max_len / 32` of them.
pub const GPU_PAD_MULTIPLE: usize = 32;

/// The multiple batch lengths are padded to on the backend in use:
/// [`GPU_PAD_MULTIPLE`] where kernels are compiled and tuned per shape
/// (wgpu, cuda); 1 (the longest item, as transformers pads) on the CPU
/// backends, where every padding token costs time and no shape is compiled.
pub fn pad_multiple() -> Result<usize> {
    Ok(match fixed_shapes()? {
        true => GPU_PAD_MULTIPLE,
        false => 1,
    })
}

/// The tokenizer of the model in `dir` (whose config is `config`),
/// truncating to `max_len` tokens, never past the model's positions (a
/// warning says so), batches padded as this backend pads them.
pub fn model_tokenizer(dir: &Path, config: &BertConfig, max_len: usize) -> Result<BertTokenizer> {
    let limit = config.max_input_len();
    if max_len > limit {
        warn!(
            "a maximum length of {max_len} tokens is more than {} can take; using {limit} (its positions)",
            dir.display()
        );
    }
    Ok(BertTokenizer::from_dir(dir)?
        .with_max_len(max_len.min(limit))?
        .with_pad_multiple(pad_multiple()?))
}

/// Whether the backend in use compiles a kernel per tensor shape (wgpu,
/// cuda): training then keeps only full batches, so that an epoch has one
/// batch size and at most `max_len / 32` lengths.
pub fn fixed_shapes() -> Result<bool> {
    Ok(!matches!(name()?, "flex" | "ndarray"))
}

/// Checks that the backend in use can run `precision`'s products (wgpu's
/// lack of bf16 was measured on an H200; its f16 is not measured).
pub fn check_precision(precision: Precision) -> Result<()> {
    let backend = name()?;
    match (precision, backend) {
        (Precision::Bf16 | Precision::F16, "ndarray") => {
            bail!(
                "--precision {precision}: ndarray has no bf16 or f16; use a build with the flex or cuda backend (cargo xtask --backend flex, or --features flex)"
            )
        }
        (Precision::Bf16, "wgpu") => {
            bail!(
                "--precision bf16: wgpu has no bf16; use --precision f16, or a build with the cuda backend"
            )
        }
        _ => Ok(()),
    }
}

/// Seeds `device`'s generator and the dropout masks. The CPU backends get
/// their masks from [`bert_model::dropout::use_host_masks`] (parallel, about
/// 10% of a training step less); the GPU backends draw them on the device.
pub fn seed(device: &Device, seed: u64) -> Result<()> {
    device.seed(seed);
    if matches!(name()?, "flex" | "ndarray") {
        bert_model::dropout::use_host_masks(seed);
    }
    Ok(())
}

/// The `index`-th device of the backend in use; the CPU backends have one
/// device, `main`, which all their replicas share.
#[cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(unused_variables))]
pub fn nth_device(index: usize, main: &Device) -> Result<Device> {
    Ok(match name()? {
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(index),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index)),
        _ => main.clone(),
    })
}

fn device_of(name: &str) -> Device {
    match name {
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0usize),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        "ndarray" => Device::ndarray(),
        other => unreachable!("backend {other} is not compiled in"),
    }
}
