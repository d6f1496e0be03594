//! `exp` and the exact (erf) GELU with its derivative, in vectorisable f32
//! passes.
//!
//! bert-burn patch. Upstream evaluates `expf` and `libm::erff` one element at
//! a time: calls with branches, which no compiler vectorises, on one thread.
//! Here `exp` is branch-free (range reduction by ln 2, a degree-7
//! polynomial, the power of two put in the exponent bits) and the normal CDF
//! comes from a branch-free erfc (the Chebyshev fit of Numerical Recipes'
//! `erfcc`, fractional error below 1.2e-7), so the loops vectorise (AVX2 +
//! FMA when the CPU has them, detected at run time) and split across rayon's
//! threads on long tensors.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use burn_backend::DType;
use burn_std::Bytes;

use crate::{FlexTensor, Layout};

const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi).
const INV_SQRT_2PI: f32 = 0.398_942_3;

/// `e^x` for `x` in [-87.3, 88.7] (within 2 ulp of the exact value); larger
/// inputs give infinity, smaller ones zero, NaN stays NaN. No branches.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const LOWEST: f32 = -87.3;
    const HIGHEST: f32 = 88.7;
    let clamped = if x < LOWEST { LOWEST } else { x };
    let clamped = if clamped > HIGHEST { HIGHEST } else { clamped };
    let shifted = clamped * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    // e^r for |r| <= ln(2)/2: Taylor series to r^7 (truncation below 6e-9).
    let p = 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    // 2^n from the integer in `shifted`'s low bits, put into the exponent field.
    let n_bits = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((n_bits.wrapping_add(127) << 23) as u32);
    let value = p * scale;
    let value = if x < LOWEST { 0.0 } else { value };
    if x > HIGHEST { f32::INFINITY } else { value }
}

/// `erfc(z)` for `z >= 0` (Numerical Recipes' Chebyshev fit, fractional
/// error below 1.2e-7).
#[inline(always)]
fn erfc_non_negative(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = 0.170_872_77;
    let p = p * t - 0.822_152_23;
    let p = p * t + 1.488_515_9;
    let p = p * t - 1.135_203_9;
    let p = p * t + 0.278_868_07;
    let p = p * t - 0.186_288_06;
    let p = p * t + 0.096_784_18;
    let p = p * t + 0.374_091_96;
    let p = p * t + 1.000_023_7;
    let p = p * t - 1.265_512_2;
    t * exp_f32(p - z * z)
}

/// The standard normal CDF, `0.5 * (1 + erf(x / sqrt 2))`, computed from the
/// tail that does not cancel.
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let half_tail = 0.5 * erfc_non_negative(x.abs() * FRAC_1_SQRT_2);
    if x < 0.0 { half_tail } else { 1.0 - half_tail }
}

/// `x * Phi(x)`: GELU with the exact (erf) CDF.
#[inline(always)]
pub fn gelu_f32(x: f32) -> f32 {
    x * normal_cdf(x)
}

/// `grad * d/dx[x * Phi(x)] = grad * (Phi(x) + x * phi(x))`.
#[inline(always)]
pub fn gelu_backward_f32(x: f32, grad: f32) -> f32 {
    let pdf = INV_SQRT_2PI * exp_f32(-0.5 * x * x);
    grad * (normal_cdf(x) + x * pdf)
}

/// Defines a loop three times: as written, and compiled for AVX2 + FMA and
/// for AVX-512 (eight and sixteen lanes wide once its element function is
/// inlined), with a function that picks the widest the CPU has.
macro_rules! multiversioned {
    ($(#[$doc:meta])* $vis:vis fn $name:ident / $portable:ident / $avx2:ident / $avx512:ident
        $(<$op:ident: $bound:path>)?($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        #[inline(always)]
        fn $portable$(<$op: $bound>)?($($arg: $ty),*) $(-> $ret)? $body

        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        #[target_feature(enable = "avx2,fma")]
        fn $avx2$(<$op: $bound>)?($($arg: $ty),*) $(-> $ret)? {
            $portable($($arg),*)
        }

        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn $avx512$(<$op: $bound>)?($($arg: $ty),*) $(-> $ret)? {
            $portable($($arg),*)
        }

        $(#[$doc])*
        #[inline(always)]
        $vis fn $name$(<$op: $bound>)?($($arg: $ty),*) $(-> $ret)? {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the features the function enables.
                return unsafe { $avx512($($arg),*) };
            }
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function enables.
                return unsafe { $avx2($($arg),*) };
            }
            $portable($($arg),*)
        }
    };
}

/// `Fn(f32) -> f32`, for the macro's bounds.
trait UnaryF32: Fn(f32) -> f32 {}
impl<F: Fn(f32) -> f32> UnaryF32 for F {}

/// `Fn(f32, f32) -> f32`, for the macro's bounds.
trait BinaryF32: Fn(f32, f32) -> f32 {}
impl<F: Fn(f32, f32) -> f32> BinaryF32 for F {}

multiversioned! {
    /// `data[i] = op(data[i])`.
    fn map_in_place / map_in_place_portable / map_in_place_avx2 / map_in_place_avx512
    <Op: UnaryF32>(data: &mut [f32], op: Op) {
        for x in data.iter_mut() {
            *x = op(*x);
        }
    }
}

multiversioned! {
    /// `dst[i] = op(src[i])`.
    fn map_into / map_into_portable / map_into_avx2 / map_into_avx512
    <Op: UnaryF32>(src: &[f32], dst: &mut [MaybeUninit<f32>], op: Op) {
        for (d, &x) in dst.iter_mut().zip(src) {
            d.write(op(x));
        }
    }
}

multiversioned! {
    /// `rhs[i] = op(lhs[i], rhs[i])`.
    fn zip_in_place / zip_in_place_portable / zip_in_place_avx2 / zip_in_place_avx512
    <Op: BinaryF32>(lhs: &[f32], rhs: &mut [f32], op: Op) {
        for (r, &l) in rhs.iter_mut().zip(lhs) {
            *r = op(l, *r);
        }
    }
}

multiversioned! {
    /// `dst[i] = op(lhs[i], rhs[i])`.
    fn zip_into / zip_into_portable / zip_into_avx2 / zip_into_avx512
    <Op: BinaryF32>(lhs: &[f32], rhs: &[f32], dst: &mut [MaybeUninit<f32>], op: Op) {
        for ((d, &a), &b) in dst.iter_mut().zip(lhs).zip(rhs) {
            d.write(op(a, b));
        }
    }
}

/// Accumulators the row reductions below keep, so that they vectorise.
const LANES: usize = 8;

/// The largest of `values`, NaNs ignored (-inf when there is none).
#[inline(always)]
fn max_of(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x);
        }
    }
    rest.iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &x| m.max(x))
}

/// `values[i] = e^(values[i] - shift)`; returns their sum.
#[inline(always)]
fn exp_shifted_sum(values: &mut [f32], shift: f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = values.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *x = exp_f32(*x - shift);
            *lane += *x;
        }
    }
    let mut sum = 0.0;
    for x in chunks.into_remainder() {
        *x = exp_f32(*x - shift);
        sum += *x;
    }
    sum + lanes.iter().sum::<f32>()
}

multiversioned! {
    /// Softmax of each `row_len`-long row of `scores`, after adding `bias`
    /// (laid out like `scores`) when there is one; a row of -inf only
    /// becomes zeros.
    pub fn softmax_rows_f32 / softmax_rows_portable / softmax_rows_avx2 / softmax_rows_avx512
    (scores: &mut [f32], row_len: usize, bias: Option<&[f32]>) {
        if row_len == 0 {
            return;
        }
        for (index, row) in scores.chunks_exact_mut(row_len).enumerate() {
            if let Some(bias) = bias {
                let bias = &bias[index * row_len..(index + 1) * row_len];
                for (score, &b) in row.iter_mut().zip(bias) {
                    *score += b;
                }
            }
            let max = max_of(row);
            if max == f32::NEG_INFINITY {
                row.fill(0.0);
                continue;
            }
            let inv_sum = 1.0 / exp_shifted_sum(row, max);
            for score in row.iter_mut() {
                *score *= inv_sum;
            }
        }
    }
}

/// `op` on every element of a contiguous f32 tensor: in place when the
/// tensor is uniquely owned from offset 0, into a new tensor otherwise.
/// Returns the tensor untouched (`Err`) when it is not contiguous f32.
#[inline(always)]
pub fn map_f32<Op>(mut tensor: FlexTensor, op: Op) -> Result<FlexTensor, FlexTensor>
where
    Op: Fn(f32) -> f32 + Copy + Sync + Send,
{
    if tensor.dtype() != DType::F32 {
        return Err(tensor);
    }
    if tensor.is_unique()
        && let Some((0, end)) = tensor.layout().contiguous_offsets()
    {
        crate::ops::for_each_chunk(&mut tensor.storage_mut::<f32>()[..end], |chunk| {
            map_in_place(chunk, op)
        });
        return Ok(tensor);
    }
    let Some((start, end)) = tensor.layout().contiguous_offsets() else {
        return Err(tensor);
    };
    let src = &tensor.storage::<f32>()[start..end];
    let out = collect_f32(src.len(), |offset, dst| {
        map_into(&src[offset..offset + dst.len()], dst, op)
    });
    Ok(new_f32(out, &tensor))
}

/// `op(lhs, rhs)` element by element over two contiguous f32 tensors of one
/// shape, written into `rhs` when it is uniquely owned from offset 0, into a
/// new tensor otherwise. Returns both tensors untouched (`Err`) in any other
/// case.
#[inline(always)]
pub fn zip_f32<Op>(
    lhs: FlexTensor,
    mut rhs: FlexTensor,
    op: Op,
) -> Result<FlexTensor, (FlexTensor, FlexTensor)>
where
    Op: Fn(f32, f32) -> f32 + Copy + Sync + Send,
{
    let (Some((l_start, l_end)), Some((r_start, r_end))) = (
        lhs.layout().contiguous_offsets(),
        rhs.layout().contiguous_offsets(),
    ) else {
        return Err((lhs, rhs));
    };
    if lhs.dtype() != DType::F32
        || rhs.dtype() != DType::F32
        || lhs.layout().shape() != rhs.layout().shape()
    {
        return Err((lhs, rhs));
    }
    let l = &lhs.storage::<f32>()[l_start..l_end];
    if r_start == 0 && rhs.is_unique() {
        crate::ops::for_each_chunk_zip(&mut rhs.storage_mut::<f32>()[..r_end], l, |rs, ls| {
            zip_in_place(ls, rs, op)
        });
        return Ok(rhs);
    }
    let r = &rhs.storage::<f32>()[r_start..r_end];
    let out = collect_f32(l.len(), |offset, dst| {
        let range = offset..offset + dst.len();
        zip_into(&l[range.clone()], &r[range], dst, op)
    });
    Ok(new_f32(out, &rhs))
}

/// A vector of `len` values, each chunk written by `fill(offset, chunk)`.
#[inline(always)]
fn collect_f32<F>(len: usize, fill: F) -> Vec<f32>
where
    F: Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send,
{
    let mut out = Vec::with_capacity(len);
    crate::ops::for_each_chunk_at(&mut out.spare_capacity_mut()[..len], fill);
    // SAFETY: `fill` wrote every one of the `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// A contiguous f32 tensor of `values`, shaped like `like`.
fn new_f32(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    let layout = Layout::contiguous(like.layout().shape().clone());
    FlexTensor::new(Bytes::from_elems(values), layout, DType::F32)
}
