//! Tensors the host builds and uploads, counted: a forward pass uploads its
//! batch and nothing else. The tables a family needs beside the batch
//! (MPNet's and DeBERTa's relative positions, ModernBERT's rotary angles)
//! depend only on a length: each is built once per device at a length at
//! least the batch's ([`cached`]) and sliced on the device for each batch;
//! what is cheap to compute (ModernBERT's window bias) is made on the device
//! from `arange`. A GPU step then never waits on a host-built tensor.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use burn::tensor::kind::Basic;
use burn::tensor::{Device, Tensor, TensorData};

static UPLOADS: AtomicU64 = AtomicU64::new(0);

/// Host data made a tensor on `device`: the one way model and batch code
/// uploads, counted by [`uploads`].
pub fn upload<const D: usize, K: Basic>(data: TensorData, device: &Device) -> Tensor<D, K> {
    UPLOADS.fetch_add(1, Ordering::Relaxed);
    Tensor::from_data(data, device)
}

/// Uploads made through [`upload`] since the process started.
pub fn uploads() -> u64 {
    UPLOADS.load(Ordering::Relaxed)
}

/// A cached table: the length it was built for and the tensor(s).
type Entry = (usize, Arc<dyn Any + Send + Sync>);

static TABLES: Mutex<Option<HashMap<(String, String), Entry>>> = Mutex::new(None);

/// The table `what` of `device` for lengths up to at least `len`: built by
/// `build(size)` on first use, or when a longer one is asked for (at the
/// next power of two, so a run builds a handful at most), else the one
/// built before. The caller slices it to `len`.
pub(crate) fn cached<T: Clone + Send + Sync + 'static>(
    what: &str,
    device: &Device,
    len: usize,
    build: impl FnOnce(usize) -> T,
) -> T {
    let key = (what.to_string(), format!("{device:?}"));
    let mut tables = TABLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let tables = tables.get_or_insert_with(HashMap::new);
    if let Some((size, table)) = tables.get(&key)
        && *size >= len
        && let Some(table) = table.downcast_ref::<T>()
    {
        return table.clone();
    }
    let size = len.next_power_of_two().max(64);
    let table = build(size);
    tables.insert(key, (size, Arc::new(table.clone())));
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_built_once_per_device_until_a_longer_one_is_needed() {
        let device = Device::flex();
        let mut built = Vec::new();
        let mut get = |len: usize| {
            cached("test-table", &device, len, |size| {
                built.push(size);
                size
            })
        };
        assert_eq!(get(10), 64);
        assert_eq!(get(64), 64);
        assert_eq!(get(65), 128);
        assert_eq!(get(3), 128);
        assert_eq!(built, [64, 128]);
        let before = uploads();
        let _: Tensor<1> = upload(TensorData::new(vec![1.0f32], [1]), &device);
        assert!(uploads() > before);
    }
}
