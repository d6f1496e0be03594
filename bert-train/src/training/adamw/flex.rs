//! AdamW's update on flex: one pass over each parameter's weights, gradient
//! and moments, split over rayon's threads, with burn's AdamW arithmetic.

use std::mem::MaybeUninit;

use burn::optim::{AdamWState, AdaptiveMomentumState, LearningRate};
use burn::tensor::{Bytes, DType, Tensor};
use burn_flex::{Flex, FlexTensor, Layout};
use rayon::prelude::*;

use super::AdamWSettings;
use crate::training::flex::{CHUNK, contiguous, on_flex, values, values_mut};

/// Whether the fused pass takes this parameter: f32 tensors on flex, and
/// no AMSGrad moment in the state.
pub(super) fn takes<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    state: Option<&AdamWState<D>>,
) -> bool {
    on_flex(tensor)
        && on_flex(grad)
        && state.is_none_or(|state| {
            let momentum = &state.momentum;
            momentum.max_moment_2.is_none()
                && on_flex(&momentum.moment_1)
                && on_flex(&momentum.moment_2)
        })
}

/// One AdamW step of a parameter [`takes`] accepted: the new weights and state.
pub(super) fn step<const D: usize>(
    settings: &AdamWSettings,
    lr: LearningRate,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    state: Option<AdamWState<D>>,
) -> (Tensor<D>, AdamWState<D>) {
    let (time, moment_1, moment_2) = match state {
        Some(AdamWState { momentum }) => (momentum.time, momentum.moment_1, momentum.moment_2),
        None => (0, tensor.zeros_like(), tensor.zeros_like()),
    };
    let time = time + 1;
    let coefficients = Coefficients::new(settings, lr, time);
    let grad = contiguous(grad);
    let mut moment_1 = contiguous(moment_1);
    let mut moment_2 = contiguous(moment_2);
    let (grad, moment_1_values, moment_2_values) = (
        values(&grad),
        values_mut(&mut moment_1),
        values_mut(&mut moment_2),
    );
    let mut weights = contiguous(tensor);
    let len = grad.len();
    assert!(
        [
            values(&weights).len(),
            moment_1_values.len(),
            moment_2_values.len()
        ] == [len; 3],
        "AdamW: a parameter, its gradient and its moments differ in size"
    );
    // The learner still holds the old weights: write the new ones to a
    // fresh buffer rather than copying them first.
    let weights = if weights.is_unique() {
        coefficients.update_in_place(
            values_mut(&mut weights),
            grad,
            moment_1_values,
            moment_2_values,
        );
        weights
    } else {
        let mut updated = Vec::with_capacity(len);
        coefficients.update_into(
            values(&weights),
            &mut updated.spare_capacity_mut()[..len],
            grad,
            moment_1_values,
            moment_2_values,
        );
        // SAFETY: `update_into` wrote each of the first `len` elements (all
        // five slices are `len` long, checked above).
        unsafe { updated.set_len(len) };
        FlexTensor::new(
            Bytes::from_elems(updated),
            Layout::contiguous(weights.layout().shape().clone()),
            DType::F32,
        )
    };
    let momentum = AdaptiveMomentumState::new(
        time,
        Tensor::from_primitive::<Flex>(moment_1),
        Tensor::from_primitive::<Flex>(moment_2),
    );
    (
        Tensor::from_primitive::<Flex>(weights),
        AdamWState::new(momentum),
    )
}

/// Step `time`'s constants, rounded as burn's AdamW rounds them.
struct Coefficients {
    beta_1: f32,
    beta_2: f32,
    /// `1 - beta_1`, the new gradient's share of the first moment.
    gain_1: f32,
    /// `1 - beta_2`, the squared gradient's share of the second moment.
    gain_2: f32,
    /// `1 - beta_1^time`, the first moment's bias correction.
    correction_1: f32,
    /// `1 - beta_2^time`, the second moment's bias correction.
    correction_2: f32,
    epsilon: f32,
    /// `1 - lr * weight_decay`: the decoupled decay of the weights.
    decay: f32,
    lr: f32,
}

impl Coefficients {
    fn new(settings: &AdamWSettings, lr: LearningRate, time: usize) -> Self {
        let time = time as i32;
        Self {
            beta_1: settings.beta_1,
            beta_2: settings.beta_2,
            gain_1: 1.0 - settings.beta_1,
            gain_2: 1.0 - settings.beta_2,
            correction_1: 1.0 - settings.beta_1.powi(time),
            correction_2: 1.0 - settings.beta_2.powi(time),
            epsilon: settings.epsilon,
            decay: (1.0 - lr * settings.weight_decay as f64) as f32,
            lr: lr as f32,
        }
    }

    /// The new value of one weight, updating its moments.
    #[inline(always)]
    fn element(&self, weight: f32, grad: f32, m: &mut f32, v: &mut f32) -> f32 {
        *m = *m * self.beta_1 + grad * self.gain_1;
        *v = *v * self.beta_2 + grad * grad * self.gain_2;
        let step = (*m / self.correction_1) / ((*v / self.correction_2).sqrt() + self.epsilon);
        weight * self.decay - step * self.lr
    }

    /// Updates the weights and moments in place, chunk by chunk in parallel.
    fn update_in_place(
        &self,
        weights: &mut [f32],
        grad: &[f32],
        moment_1: &mut [f32],
        moment_2: &mut [f32],
    ) {
        weights
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(moment_1.par_chunks_mut(CHUNK))
            .zip(moment_2.par_chunks_mut(CHUNK))
            .for_each(|(((weights, grad), moment_1), moment_2)| {
                let elements = weights.iter_mut().zip(grad).zip(moment_1).zip(moment_2);
                for (((weight, &grad), m), v) in elements {
                    *weight = self.element(*weight, grad, m, v);
                }
            });
    }

    /// Writes the updated `weights` into `updated`, updating the moments in place.
    fn update_into(
        &self,
        weights: &[f32],
        updated: &mut [MaybeUninit<f32>],
        grad: &[f32],
        moment_1: &mut [f32],
        moment_2: &mut [f32],
    ) {
        updated
            .par_chunks_mut(CHUNK)
            .zip(weights.par_chunks(CHUNK))
            .zip(grad.par_chunks(CHUNK))
            .zip(moment_1.par_chunks_mut(CHUNK))
            .zip(moment_2.par_chunks_mut(CHUNK))
            .for_each(|((((updated, weights), grad), moment_1), moment_2)| {
                let elements = updated
                    .iter_mut()
                    .zip(weights)
                    .zip(grad)
                    .zip(moment_1)
                    .zip(moment_2);
                for ((((updated, &weight), &grad), m), v) in elements {
                    updated.write(self.element(weight, grad, m, v));
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::Optimizer;
    use burn::tensor::{Device, Distribution, Tolerance};

    use super::*;

    const SETTINGS: AdamWSettings = AdamWSettings {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.01,
    };

    fn random(shape: [usize; 2]) -> Tensor<2> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Device::flex())
    }

    fn assert_close(actual: &Tensor<2>, expected: &Tensor<2>) {
        actual
            .to_data()
            .assert_approx_eq::<f32>(&expected.to_data(), Tolerance::absolute(1e-6));
    }

    /// Several steps over chunks of every size, a transposed (strided)
    /// gradient included, give burn's AdamW weights and moments.
    #[test]
    fn matches_burn_adamw_step_by_step() {
        let reference = super::super::AdamW::new(SETTINGS).reference();
        let start = random([37, 1001]);
        let (mut fused, mut fused_state) = (start.clone(), None);
        let (mut expected, mut expected_state) = (start, None);
        for step_number in 0..4 {
            let grad = if step_number % 2 == 0 {
                random([37, 1001])
            } else {
                random([1001, 37]).transpose()
            };
            let lr = 1e-3 * (step_number + 1) as f64;
            assert!(takes(&fused, &grad, fused_state.as_ref()));
            let (weights, state) = step(&SETTINGS, lr, fused, grad.clone(), fused_state);
            (fused, fused_state) = (weights, Some(state));
            (expected, expected_state) = reference.step(lr, expected, grad, expected_state);
        }
        assert_close(&fused, &expected);
        let (fused_state, expected_state) = (fused_state.unwrap(), expected_state.unwrap());
        assert_eq!(fused_state.momentum.time, expected_state.momentum.time);
        assert_close(
            &fused_state.momentum.moment_1,
            &expected_state.momentum.moment_1,
        );
        assert_close(
            &fused_state.momentum.moment_2,
            &expected_state.momentum.moment_2,
        );
    }

    /// Weights another tensor shares are written to a new buffer, never
    /// through the shared one, with the same result as burn's AdamW.
    #[test]
    fn shared_weights_are_left_untouched() {
        let reference = super::super::AdamW::new(SETTINGS).reference();
        let (weights, grad) = (random([300, 70]), random([300, 70]));
        let before = weights.to_data();
        let (updated, _) = step(&SETTINGS, 0.1, weights.clone(), grad.clone(), None);
        weights.to_data().assert_eq(&before, true);
        let (expected, _) = reference.step(0.1, weights, grad, None);
        assert_close(&updated, &expected);
    }
}
