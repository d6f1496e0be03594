//! The elements of flex tensors, for the training passes that run fused on
//! flex (AdamW's update, the gradients' norm): burn's extension API gives
//! the backend's own tensor, and these give its f32 values.

use burn::tensor::{DType, Device, Tensor};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

/// Elements per parallel task: enough that rayon's hand-off is negligible.
pub const CHUNK: usize = 1 << 14;

/// Whether `tensor` is an f32 tensor on flex.
pub fn on_flex<const D: usize>(tensor: &Tensor<D>) -> bool {
    tensor.device() == Device::flex() && tensor.dtype() == DType::F32
}

/// The flex tensor behind `tensor` (which [`on_flex`] accepted), laid out contiguously.
pub fn contiguous<const D: usize>(tensor: Tensor<D>) -> FlexTensor {
    let tensor = tensor
        .try_into_primitive::<Flex>()
        .expect("a flex float tensor");
    if tensor.is_contiguous() {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

/// The elements of a contiguous f32 tensor.
pub fn values(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice().expect("a contiguous f32 tensor")
}

/// The elements of a contiguous f32 tensor, copied first if its buffer is shared.
pub fn values_mut(tensor: &mut FlexTensor) -> &mut [f32] {
    let (start, end) = tensor
        .layout()
        .contiguous_offsets()
        .expect("a contiguous tensor");
    &mut tensor.storage_mut::<f32>()[start..end]
}

/// The sum of the squares of `tensor`'s elements (which [`on_flex`]
/// accepted), in one parallel pass that allocates nothing.
pub fn sum_of_squares<const D: usize>(tensor: Tensor<D>) -> f32 {
    let tensor = contiguous(tensor);
    values(&tensor)
        .par_chunks(CHUNK)
        .map(|chunk| chunk.iter().map(|value| value * value).sum::<f32>())
        .sum()
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    /// Over several chunks and a strided view, the fused sum equals burn's
    /// `square().sum()`.
    #[test]
    fn sum_of_squares_matches_square_then_sum() {
        let tensor =
            Tensor::<2>::random([301, 257], Distribution::Normal(0.0, 1.0), &Device::flex())
                .transpose();
        let expected = tensor.clone().square().sum().into_scalar::<f32>();
        let fused = sum_of_squares(tensor);
        assert!(
            (fused - expected).abs() <= 1e-5 * expected,
            "{fused} against {expected}"
        );
    }
}
