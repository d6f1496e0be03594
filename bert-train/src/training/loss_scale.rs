//! Dynamic loss scaling for f16 training (PyTorch's `GradScaler`): the loss
//! is multiplied by a large factor before the backward pass so that small
//! gradients survive f16's narrow range. A step whose gradients overflowed
//! is skipped and the factor halved; after 2000 good steps it is doubled.
//! bf16 and f32 have f32's range and need none of this.

use std::sync::{Arc, Mutex};

use bert_model::Precision;

/// The factor the first step starts with (`GradScaler`'s `init_scale`).
const INITIAL_FACTOR: f64 = 65_536.0;
/// Good steps before the factor doubles (`growth_interval`).
const GROWTH_INTERVAL: usize = 2_000;

/// The loss scale, shared by the training step (which multiplies the loss)
/// and the training loop (which checks the gradients). Off: a factor of 1.
#[derive(Clone, Debug, Default)]
pub struct LossScale {
    state: Option<Arc<Mutex<ScaleState>>>,
}

#[derive(Debug)]
struct ScaleState {
    factor: f64,
    good_steps: usize,
    /// Steps skipped for overflow, and steps checked, since the start.
    skipped: usize,
    checked: usize,
}

impl LossScale {
    /// Dynamic scaling for f16 products, none otherwise.
    pub fn for_precision(precision: Precision) -> Self {
        match precision {
            Precision::F16 => Self {
                state: Some(Arc::new(Mutex::new(ScaleState {
                    factor: INITIAL_FACTOR,
                    good_steps: 0,
                    skipped: 0,
                    checked: 0,
                }))),
            },
            Precision::F32 | Precision::Bf16 => Self::default(),
        }
    }

    /// Whether the loss is scaled (and the gradients must be checked).
    pub fn is_dynamic(&self) -> bool {
        self.state.is_some()
    }

    /// What the loss is multiplied by now.
    pub fn factor(&self) -> f64 {
        self.state
            .as_ref()
            .map_or(1.0, |state| state.lock().expect("not poisoned").factor)
    }

    /// Records whether this step's gradients were all finite; returns
    /// whether the optimiser may apply them.
    pub fn update(&self, finite: bool) -> bool {
        let Some(state) = &self.state else {
            return true;
        };
        let mut state = state.lock().expect("not poisoned");
        state.checked += 1;
        if !finite {
            state.factor /= 2.0;
            state.good_steps = 0;
            state.skipped += 1;
            return false;
        }
        state.good_steps += 1;
        if state.good_steps == GROWTH_INTERVAL {
            state.factor *= 2.0;
            state.good_steps = 0;
        }
        true
    }

    /// With scaling on, what it did: steps skipped and the factor reached.
    pub fn summary(&self) -> Option<String> {
        let state = self.state.as_ref()?.lock().expect("not poisoned");
        Some(format!(
            "f16 loss scaling: {} of {} optimiser steps skipped (gradients overflowed), scale now {}",
            state.skipped, state.checked, state.factor
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_f16_scales_the_loss() {
        assert_eq!(LossScale::for_precision(Precision::F32).factor(), 1.0);
        assert_eq!(LossScale::for_precision(Precision::Bf16).factor(), 1.0);
        assert!(!LossScale::for_precision(Precision::Bf16).is_dynamic());
        assert!(LossScale::for_precision(Precision::F32).update(false));
        assert_eq!(
            LossScale::for_precision(Precision::F16).factor(),
            INITIAL_FACTOR
        );
    }

    #[test]
    fn overflow_halves_the_factor_and_skips_the_step() {
        let scale = LossScale::for_precision(Precision::F16);
        let shared = scale.clone();
        assert!(!scale.update(false));
        assert_eq!(shared.factor(), INITIAL_FACTOR / 2.0);
        for _ in 0..GROWTH_INTERVAL - 1 {
            assert!(scale.update(true));
        }
        assert_eq!(shared.factor(), INITIAL_FACTOR / 2.0);
        assert!(scale.update(true));
        assert_eq!(shared.factor(), INITIAL_FACTOR);
        assert_eq!(
            shared.summary().unwrap(),
            "f16 loss scaling: 1 of 2001 optimiser steps skipped (gradients overflowed), scale now 65536"
        );
        assert_eq!(LossScale::for_precision(Precision::Bf16).summary(), None);
    }
}
