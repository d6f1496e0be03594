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
            let squares = grad.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// Multiplies every gradient by a scalar tensor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let factor = self.factor.clone().to_device(&grad.device());
            self.grads
                .register(param.id, grad * factor.unsqueeze::<D>());
        }
    }
}

/// Turns gradients summed over `micro_batches` into their mean and, if
/// `max_norm` is set, scales them so that their global L2 norm is at most `max_norm`.
pub fn average_and_clip<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    micro_batches: usize,
    max_norm: Option<f64>,
) -> GradientsParams {
    if max_norm.is_none() && micro_batches <= 1 {
        return grads;
    }
    let mean = 1.0 / micro_batches.max(1) as f64;
    let mut squared = SquaredNorm {
        grads: &grads,
        total: None,
    };
    module.visit(&mut squared);
    let Some(total) = squared.total else {
        return grads;
    };
    let factor = match max_norm {
        Some(max_norm) => {
            let norm = total.sqrt() * mean;
            let clip = (norm + 1e-6).recip() * max_norm;
            clip.clamp_max(1.0) * mean
        }
        None => total.zeros_like() + mean,
    };
    module.visit(&mut Scale {
        grads: &mut grads,
        factor,
    });
    grads
}
