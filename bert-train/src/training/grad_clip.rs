//! Scaling and clipping gradients by their global L2 norm over all
//! parameters (`torch.nn.utils.clip_grad_norm_`), on the device, without
//! reading anything back to the host. burn's own clipping is per tensor.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Sum of the squares of every gradient.
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = sum_of_squares(grad);
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// The sum of the squares of `grad`'s elements, as a one-element tensor.
fn sum_of_squares<const D: usize>(grad: Tensor<D>) -> Tensor<1> {
    #[cfg(feature = "flex")]
    if super::flex::on_flex(&grad) {
        let device = grad.device();
        return Tensor::from_floats([super::flex::sum_of_squares(grad)], &device);
    }
    grad.square().sum()
}

/// The factor as a number where reading it costs nothing: on flex, whose
/// tensors are in host memory.
fn on_host(factor: &Tensor<1>) -> Option<f32> {
    #[cfg(feature = "flex")]
    if super::flex::on_flex(factor) {
        return Some(factor.clone().into_scalar::<f32>());
    }
    let _ = factor;
    None
}

/// Multiplies every gradient by a factor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Tensor<1>,
    /// The factor, where [`on_host`] gave it.
    host: Option<f32>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let scaled = match self.host {
                Some(factor) => grad.mul_scalar(factor),
                None => {
                    let factor = self.factor.clone().to_device(&grad.device());
                    grad * factor.unsqueeze::<D>()
                }
            };
            self.grads.register(param.id, scaled);
        }
    }
}

/// The sum of the squares of every gradient; `None` without gradients.
fn squared_norm<M: Module>(module: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut squared = SquaredNorm { grads, total: None };
    module.visit(&mut squared);
    squared.total
}

/// The gradients of a step with the sum of their squares, computed once
/// for the finiteness check of f16 and for clipping.
pub struct StepGradients {
    grads: GradientsParams,
    total: Option<Tensor<1>>,
}

impl StepGradients {
    /// `grads` of `module`'s parameters.
    pub fn new<M: Module>(module: &M, grads: GradientsParams) -> Self {
        let total = squared_norm(module, &grads);
        Self { grads, total }
    }

    /// Whether every gradient is finite: reads one number back from the
    /// device (only f16's loss scaling asks).
    pub fn all_finite(&self) -> bool {
        let read = |total: &Tensor<1>| super::reads::read(total.clone());
        self.total
            .as_ref()
            .is_none_or(|total| read(total).iter().all(|v| v.is_finite()))
    }
}

/// Divides gradients by `divisor` (the micro-batches they were summed
/// over, times the loss scale) and, if `max_norm` is set, scales them so
/// that their global L2 norm is at most `max_norm`, all on the device.
/// Returns them with the global norm of the averaged gradients before
/// clipping (a tensor on the device, as `torch.nn.utils.clip_grad_norm_`
/// returns it) when clipping.
pub fn average_and_clip<M: Module>(
    module: &M,
    StepGradients { mut grads, total }: StepGradients,
    divisor: f64,
    max_norm: Option<f64>,
) -> (GradientsParams, Option<Tensor<1>>) {
    if max_norm.is_none() && divisor == 1.0 {
        return (grads, None);
    }
    let mean = 1.0 / divisor;
    let Some(total) = total else {
        return (grads, None);
    };
    let (factor, norm) = match max_norm {
        Some(max_norm) => {
            let norm = total.sqrt() * mean;
            let clip = (norm.clone() + 1e-6).recip() * max_norm;
            (clip.clamp_max(1.0) * mean, Some(norm))
        }
        None => (total.zeros_like() + mean, None),
    };
    let host = on_host(&factor);
    if host == Some(1.0) {
        return (grads, norm);
    }
    module.visit(&mut Scale {
        grads: &mut grads,
        factor,
        host,
    });
    (grads, norm)
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    use super::*;

    fn model() -> Linear {
        LinearConfig::new(3, 2).init(&Device::flex().autodiff())
    }

    /// Gradients of `sum(model(x * scale))`.
    fn grads_of(model: &Linear, scale: f32) -> GradientsParams {
        scaled_grads_of(model, scale, 1.0)
    }

    /// Gradients of `sum(model(x * scale)) * loss_scale`.
    fn scaled_grads_of(model: &Linear, scale: f32, loss_scale: f32) -> GradientsParams {
        let device = model.weight.val().device();
        let loss = model
            .forward(Tensor::<2>::ones([4, 3], &device) * scale)
            .sum();
        GradientsParams::from_grads((loss * loss_scale).backward(), model)
    }

    /// Every gradient value, weight first.
    fn values(model: &Linear, grads: &GradientsParams) -> Vec<f32> {
        let weight = grads.get::<2>(model.weight.id).unwrap();
        let bias = grads.get::<1>(model.bias.as_ref().unwrap().id).unwrap();
        let mut all = weight.into_data().try_to_vec::<f32>().unwrap();
        all.extend(bias.into_data().try_to_vec::<f32>().unwrap());
        all
    }

    fn norm(values: &[f32]) -> f32 {
        values.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    #[test]
    fn clips_the_global_norm_and_keeps_the_direction() {
        let model = model();
        let before = values(&model, &grads_of(&model, 10.0));
        let clipped = values(
            &model,
            &average_and_clip(
                &model,
                StepGradients::new(&model, grads_of(&model, 10.0)),
                1.0,
                Some(1.0),
            )
            .0,
        );
        assert!(norm(&before) > 10.0);
        assert!(
            (norm(&clipped) - 1.0).abs() < 1e-4,
            "norm {}",
            norm(&clipped)
        );
        let scale = norm(&before) / norm(&clipped);
        for (b, c) in before.iter().zip(&clipped) {
            assert!((b / scale - c).abs() < 1e-4);
        }
    }

    #[test]
    fn gradients_under_the_limit_are_not_changed() {
        let model = model();
        let before = values(&model, &grads_of(&model, 1.0));
        assert!(norm(&before) < 100.0);
        let after = values(
            &model,
            &average_and_clip(
                &model,
                StepGradients::new(&model, grads_of(&model, 1.0)),
                1.0,
                Some(100.0),
            )
            .0,
        );
        assert_eq!(before, after);
    }

    #[test]
    fn accumulated_micro_batches_are_averaged() {
        let model = model();
        let single = values(&model, &grads_of(&model, 1.0));
        let mut accumulator = burn::optim::GradientsAccumulator::<Linear>::new();
        accumulator.accumulate(&model, grads_of(&model, 1.0));
        accumulator.accumulate(&model, grads_of(&model, 1.0));
        let averaged = values(
            &model,
            &average_and_clip(
                &model,
                StepGradients::new(&model, accumulator.grads()),
                2.0,
                None,
            )
            .0,
        );
        for (s, a) in single.iter().zip(&averaged) {
            assert!((s - a).abs() < 1e-5, "{s} vs {a}");
        }
    }

    #[test]
    fn a_loss_scale_is_divided_out() {
        let model = model();
        let plain = values(&model, &grads_of(&model, 1.0));
        let scaled = scaled_grads_of(&model, 1.0, 65_536.0);
        let unscaled = values(
            &model,
            &average_and_clip(&model, StepGradients::new(&model, scaled), 65_536.0, None).0,
        );
        for (p, u) in plain.iter().zip(&unscaled) {
            assert!((p - u).abs() < 1e-5, "{p} vs {u}");
        }
    }

    #[test]
    fn overflowed_gradients_are_found() {
        let model = model();
        assert!(StepGradients::new(&model, grads_of(&model, 1.0)).all_finite());
        assert!(!StepGradients::new(&model, grads_of(&model, f32::INFINITY)).all_finite());
        assert!(!StepGradients::new(&model, scaled_grads_of(&model, 1.0, f32::NAN)).all_finite());
    }
}
