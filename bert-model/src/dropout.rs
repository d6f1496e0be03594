//! Dropout with a choice of where its masks come from.
//!
//! burn's [`Dropout::forward`] draws each mask with `Tensor::random`
//! (Bernoulli). The CPU backends sample that element by element on one
//! thread, which cost about 10% of a MiniLM training step (BENCHMARKS.md).
//! With [`use_host_masks`], masks are made on the host instead, in
//! parallel, from a counter-based hash of the seed: cheap where the
//! tensor lives in host memory anyway. A GPU backend keeps the default
//! (its own generator), so no mask crosses the bus.
//!
//! Either way, the layer applies one tracked product, `input * mask`, with
//! `mask` already holding `0` or `1 / (1 - prob)`.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use burn::nn::Dropout;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rayon::prelude::*;

static HOST_MASKS: AtomicBool = AtomicBool::new(false);
static HOST_SEED: AtomicU64 = AtomicU64::new(0);
/// Masks drawn since the last seeding: each mask hashes its own number.
static MASKS_DRAWN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// A stream of host masks that this thread draws from instead of the
    /// process's ([`with_masks_from`]): its seed and masks drawn.
    static REPLAYED: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// Elements per parallel task when making a host mask.
const CHUNK: usize = 1 << 16;

/// Makes every later dropout mask on the host, from `seed` (for backends
/// whose tensors live in host memory: flex, ndarray).
pub fn use_host_masks(seed: u64) {
    HOST_SEED.store(seed, Ordering::Relaxed);
    MASKS_DRAWN.store(0, Ordering::Relaxed);
    HOST_MASKS.store(true, Ordering::Relaxed);
}

/// Runs `forward` with dropout masks that depend only on `seed`: run again
/// with the same seed, the same layers draw the same masks (what
/// sentence-transformers' `RandContext` does for gradient caching, which
/// embeds every input twice). Host masks come from a stream of this
/// thread's, so replicas training on other threads are not disturbed; a
/// device's own generator is seeded (its later draws follow from `seed`).
pub fn with_masks_from<R>(device: &Device, seed: u64, forward: impl FnOnce() -> R) -> R {
    if !HOST_MASKS.load(Ordering::Relaxed) {
        device.seed(seed);
        return forward();
    }
    let outer = REPLAYED.replace(Some((seed, 0)));
    let output = forward();
    REPLAYED.set(outer);
    output
}

/// The key of the next host mask: from this thread's replayed stream if
/// one is set, else from the process's.
fn next_mask_key() -> u64 {
    let (seed, drawn) = match REPLAYED.get() {
        Some((seed, drawn)) => {
            REPLAYED.set(Some((seed, drawn + 1)));
            (seed, drawn)
        }
        None => (
            HOST_SEED.load(Ordering::Relaxed),
            MASKS_DRAWN.fetch_add(1, Ordering::Relaxed),
        ),
    };
    mix(seed ^ mix(drawn))
}

/// Applies `layer` to `input`: unchanged outside training (no autodiff
/// device, layer frozen, or `prob == 0`), else each element zeroed with
/// probability `prob` and the others scaled by `1 / (1 - prob)`.
pub fn apply_dropout<const D: usize>(layer: &Dropout, input: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !input.device().is_autodiff() || layer.prob == 0.0 {
        return input;
    }
    let keep = 1.0 - layer.prob;
    let mask = if HOST_MASKS.load(Ordering::Relaxed) {
        let values = host_mask(input.shape().num_elements(), keep, next_mask_key());
        crate::transfers::upload(TensorData::new(values, input.shape()), &input.device())
    } else {
        input.random_like(Distribution::Bernoulli(keep)) * (1.0 / keep)
    };
    input * mask
}

/// `len` mask values: `1 / keep` with probability `keep`, else `0`. Value
/// `i` depends only on `key` and `i`, so the mask is the same whatever the
/// number of threads.
fn host_mask(len: usize, keep: f64, key: u64) -> Vec<f32> {
    // Keep where 32 random bits fall below `keep * 2^32`.
    let threshold = (keep * 4_294_967_296.0) as u64;
    let scale = (1.0 / keep) as f32;
    let value = |bits: u64| if bits < threshold { scale } else { 0.0 };
    let mut mask = vec![0.0f32; len];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let first_pair = (chunk * CHUNK / 2) as u64;
            for (pair, out) in values.chunks_mut(2).enumerate() {
                // One 64-bit hash gives two elements their 32 bits each.
                let bits = mix(key.wrapping_add((first_pair + pair as u64).wrapping_mul(GOLDEN)));
                out[0] = value(bits & 0xffff_ffff);
                if let Some(second) = out.get_mut(1) {
                    *second = value(bits >> 32);
                }
            }
        });
    mask
}

/// The 64-bit golden ratio, SplitMix64's increment.
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finaliser: a bijective 64-bit hash with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    use super::*;

    /// ndarray: the project's reference CPU path (deprecated upstream).
    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    fn to_vec(tensor: Tensor<2>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn host_masks_keep_the_asked_share_and_scale_it() {
        let mask = host_mask(1_000_001, 0.9, 7);
        let kept = mask.iter().filter(|&&v| v != 0.0).count() as f64 / mask.len() as f64;
        assert!((kept - 0.9).abs() < 0.002, "kept share {kept}");
        assert!(mask.iter().all(|&v| v == 0.0 || v == (1.0 / 0.9) as f32));
        // The expected value of a masked element is the element itself.
        let mean = mask.iter().map(|&v| v as f64).sum::<f64>() / mask.len() as f64;
        assert!((mean - 1.0).abs() < 0.003, "mean {mean}");
    }

    #[test]
    fn host_masks_follow_the_key_only() {
        assert_eq!(host_mask(200_003, 0.5, 1), host_mask(200_003, 0.5, 1));
        let (a, b) = (host_mask(10_000, 0.5, 1), host_mask(10_000, 0.5, 2));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!((4_500..5_500).contains(&same), "{same} of 10000 agree");
        // Neighbouring elements are independent: both halves of a hash are used.
        let pairs_equal = a.chunks(2).filter(|p| p[0] == p[1]).count();
        assert!((2_250..2_750).contains(&pairs_equal), "{pairs_equal}");
    }

    /// Both mask sources: the forward is `input * mask` and the gradient
    /// flows through the same mask.
    fn dropout_multiplies_by_its_mask(host: bool) {
        if host {
            use_host_masks(3);
        }
        let device = device().autodiff();
        let layer = DropoutConfig::new(0.25).init();
        let input = Tensor::<2>::ones([64, 100], &device).require_grad();
        let output = apply_dropout(&layer, input.clone() * 2.0);
        let values = to_vec(output.clone());
        let grads = output.sum().backward();
        let grad = to_vec(input.grad(&grads).unwrap());
        let scale = (1.0 / 0.75) as f32;
        for (value, grad) in values.iter().zip(&grad) {
            assert!(
                *value == 0.0 || (*value - 2.0 * scale).abs() < 1e-6,
                "{value}"
            );
            // With ones in: d(2·x·mask)/dx = 2·mask = the output.
            assert!(
                (grad - value).abs() < 1e-6,
                "grad {grad} for output {value}"
            );
        }
        let dropped = values.iter().filter(|&&v| v == 0.0).count();
        assert!(
            (1_200..2_000).contains(&dropped),
            "{dropped} of 6400 dropped"
        );
    }

    /// A forward pass replayed from the same seed draws the same host masks;
    /// another seed, or no replay, draws others. (The device-generator path
    /// is left out: other tests of this binary draw from that generator
    /// between the seeding and the masks.)
    fn replayed_masks_repeat(device: &Device) {
        let layer = DropoutConfig::new(0.5).init();
        let input = Tensor::<2>::ones([16, 64], device);
        let forward = || to_vec(apply_dropout(&layer, apply_dropout(&layer, input.clone())));
        let first = with_masks_from(device, 11, forward);
        let unreplayed = forward();
        assert_eq!(with_masks_from(device, 11, forward), first);
        assert_ne!(with_masks_from(device, 12, forward), first);
        assert_ne!(unreplayed, first);
    }

    #[test]
    fn dropout_applies_the_mask_it_draws() {
        // One test: host masks, once chosen, stay on for the process.
        dropout_multiplies_by_its_mask(false);
        dropout_multiplies_by_its_mask(true);
        replayed_masks_repeat(&device().autodiff());
    }

    #[test]
    fn dropout_is_the_identity_outside_training() {
        let layer = DropoutConfig::new(0.5).init();
        let input = Tensor::<2>::ones([8, 8], &device());
        let output = apply_dropout(&layer, input.clone());
        output.into_data().assert_eq(&input.into_data(), true);
    }
}
