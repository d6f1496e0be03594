//! The optimiser as Hugging Face fine-tuning sets it up: AdamW with weight
//! decay on every weight except biases and LayerNorm, and a learning rate
//! that warms up linearly and then decays linearly to zero.

use burn::module::ParamGroup;
use burn::optim::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::{LearningRate, ModuleOptimizer};

use super::adamw::{AdamW, AdamWSettings};

/// Parameters whose path contains one of these get no weight decay.
pub const NO_DECAY: &[&str] = &["bias", "layer_norm"];

/// AdamW (betas 0.9/0.999) with `weight_decay` on all weights but [`NO_DECAY`] ones.
pub fn adamw(weight_decay: f64, epsilon: f64) -> ModuleOptimizer {
    // AdamW keeps them as f32, as PyTorch does.
    let decayed = AdamW::new(AdamWSettings::new(epsilon as f32, weight_decay as f32));
    let not_decayed = AdamW::new(AdamWSettings::new(epsilon as f32, 0.0));
    ModuleOptimizer::from(decayed).with_group(
        ParamGroup::from_any_predicates(NO_DECAY.to_vec()),
        not_decayed,
        None,
    )
}

/// `transformers.get_linear_schedule_with_warmup`: from 0 up to `peak` over
/// `warmup_steps`, then down to 0 at `total_steps`.
#[derive(Clone, Debug)]
pub struct WarmupLinearDecay {
    peak: LearningRate,
    warmup_steps: usize,
    total_steps: usize,
    step: usize,
}

impl WarmupLinearDecay {
    /// A schedule over `total_steps` optimiser steps, `warmup_ratio` of them warming up.
    pub fn new(peak: LearningRate, total_steps: usize, warmup_ratio: f64) -> Self {
        Self {
            peak,
            warmup_steps: (total_steps as f64 * warmup_ratio).ceil() as usize,
            total_steps: total_steps.max(1),
            step: 0,
        }
    }

    /// The learning rate of optimiser step `step` (1-based).
    pub fn rate_at(&self, step: usize) -> LearningRate {
        if step < self.warmup_steps {
            self.peak * step as f64 / self.warmup_steps as f64
        } else {
            let remaining = self.total_steps.saturating_sub(step) as f64;
            let span = (self.total_steps - self.warmup_steps).max(1) as f64;
            self.peak * (remaining / span).max(0.0)
        }
    }
}

impl LrScheduler for WarmupLinearDecay {
    fn step(&mut self) -> LearningRate {
        self.step += 1;
        self.rate_at(self.step)
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar("step", self.step as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>("step") {
            self.step = step as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let schedule = WarmupLinearDecay::new(1e-4, 100, 0.1);
        assert_eq!(schedule.rate_at(0), 0.0);
        assert!((schedule.rate_at(5) - 5e-5).abs() < 1e-12);
        assert!((schedule.rate_at(10) - 1e-4).abs() < 1e-12);
        assert!((schedule.rate_at(55) - 5e-5).abs() < 1e-12);
        assert_eq!(schedule.rate_at(100), 0.0);
        assert_eq!(schedule.rate_at(120), 0.0);
    }

    #[test]
    fn record_restores_the_position() {
        let mut schedule = WarmupLinearDecay::new(1e-4, 100, 0.1);
        (0..30).for_each(|_| {
            schedule.step();
        });
        let mut resumed = WarmupLinearDecay::new(1e-4, 100, 0.1);
        resumed.load_record(schedule.to_record());
        assert_eq!(resumed.step(), schedule.step());
    }
}
