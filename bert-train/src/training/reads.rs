//! Device-to-host reads in the training loop, counted: the loop reads its
//! device once per logging step (the loss sum and gradient norm), once per
//! batch of deferred metric updates, and under f16 loss scaling once per
//! step (whether the gradients are finite decides whether the step is
//! taken). A GPU queue never waits for the host otherwise.
//!
//! On flex a tensor is host memory: the clipping factor is read there (a
//! memory load, no wait) to scale the gradients by a number.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::Tensor;

static READS: AtomicU64 = AtomicU64::new(0);

/// Reads the values of `tensor` to the host, counted.
pub fn read(tensor: Tensor<1>) -> Vec<f32> {
    count();
    tensor.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// Counts a read made elsewhere (burn-train's metrics reading a batch of
/// outputs: the first waits for the device, the others find it idle).
pub fn count() {
    READS.fetch_add(1, Ordering::Relaxed);
}

/// Reads counted since the process started.
pub fn reads() -> u64 {
    READS.load(Ordering::Relaxed)
}
