//! L-BFGS (Nocedal 1980) with a backtracking (Armijo) line search: the
//! minimiser of the few-shot head's smooth, convex objective.

use std::collections::VecDeque;

/// Corrections kept (scikit-learn's L-BFGS keeps 10 as well).
const MEMORY: usize = 10;

/// Sufficient decrease of the Armijo condition.
const ARMIJO: f64 = 1e-4;

/// Where a minimisation ended.
#[derive(Clone, Debug)]
pub struct Minimum {
    /// The point.
    pub x: Vec<f64>,
    /// The function's value there.
    pub value: f64,
    /// The largest component of the gradient there.
    pub gradient_max: f64,
    /// Iterations taken.
    pub iterations: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// One stored correction: the step, the change of the gradient, and
/// `1 / (s . y)`.
struct Correction {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// The L-BFGS direction `-H g` (the two-loop recursion).
fn direction(gradient: &[f64], corrections: &VecDeque<Correction>) -> Vec<f64> {
    let mut q = gradient.to_vec();
    let mut alphas = Vec::with_capacity(corrections.len());
    for c in corrections.iter().rev() {
        let alpha = c.rho * dot(&c.s, &q);
        q.iter_mut().zip(&c.y).for_each(|(q, y)| *q -= alpha * y);
        alphas.push(alpha);
    }
    let gamma = match corrections.back() {
        Some(c) => dot(&c.s, &c.y) / dot(&c.y, &c.y),
        None => 1.0 / dot(gradient, gradient).sqrt().max(1.0),
    };
    q.iter_mut().for_each(|q| *q *= gamma);
    for (c, alpha) in corrections.iter().zip(alphas.into_iter().rev()) {
        let beta = c.rho * dot(&c.y, &q);
        q.iter_mut()
            .zip(&c.s)
            .for_each(|(q, s)| *q += (alpha - beta) * s);
    }
    q.iter_mut().for_each(|q| *q = -*q);
    q
}

/// Minimises `f` (which returns its value and gradient) from `x` until the
/// gradient's largest component is at most `tolerance`, no step decreases
/// `f` any more, or `max_iterations` have run.
pub fn minimize(
    mut x: Vec<f64>,
    f: impl Fn(&[f64]) -> (f64, Vec<f64>),
    tolerance: f64,
    max_iterations: usize,
) -> Minimum {
    let (mut value, mut gradient) = f(&x);
    let mut corrections: VecDeque<Correction> = VecDeque::with_capacity(MEMORY);
    let mut iterations = 0;
    while iterations < max_iterations && max_abs(&gradient) > tolerance {
        iterations += 1;
        let mut step = direction(&gradient, &corrections);
        let mut slope = dot(&gradient, &step);
        if slope >= 0.0 {
            // Not a descent direction (rounding): restart from the gradient.
            corrections.clear();
            step = gradient.iter().map(|g| -g).collect();
            slope = -dot(&gradient, &gradient);
        }
        let mut t = 1.0;
        let accepted = loop {
            let candidate: Vec<f64> = x.iter().zip(&step).map(|(x, d)| x + t * d).collect();
            let (candidate_value, candidate_gradient) = f(&candidate);
            if candidate_value <= value + ARMIJO * t * slope {
                break Some((candidate, candidate_value, candidate_gradient));
            }
            t *= 0.5;
            if t < 1e-20 {
                break None;
            }
        };
        let Some((next, next_value, next_gradient)) = accepted else {
            break;
        };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if corrections.len() == MEMORY {
                corrections.pop_front();
            }
            corrections.push_back(Correction {
                s,
                y,
                rho: 1.0 / sy,
            });
        }
        (x, value, gradient) = (next, next_value, next_gradient);
    }
    Minimum {
        gradient_max: max_abs(&gradient),
        x,
        value,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function, minimum 0 at (1, 1): badly conditioned,
    /// not convex, a classic test of quasi-Newton methods.
    fn rosenbrock(x: &[f64]) -> (f64, Vec<f64>) {
        let (a, b) = (x[0], x[1]);
        let value = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
        let gradient = vec![
            -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
            200.0 * (b - a * a),
        ];
        (value, gradient)
    }

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let minimum = minimize(vec![-1.2, 1.0], rosenbrock, 1e-10, 1000);
        assert!(minimum.gradient_max <= 1e-10, "{minimum:?}");
        assert!((minimum.x[0] - 1.0).abs() < 1e-8 && (minimum.x[1] - 1.0).abs() < 1e-8);
    }

    #[test]
    fn solves_a_quadratic_to_its_linear_system() {
        // f = 1/2 x'Ax - b'x with A = [[4, 1], [1, 3]]: the minimum solves Ax = b.
        let f = |x: &[f64]| {
            let ax = [4.0 * x[0] + x[1], x[0] + 3.0 * x[1]];
            let value = 0.5 * (x[0] * ax[0] + x[1] * ax[1]) - (x[0] + 2.0 * x[1]);
            (value, vec![ax[0] - 1.0, ax[1] - 2.0])
        };
        let minimum = minimize(vec![0.0, 0.0], f, 1e-12, 100);
        assert!((minimum.x[0] - 1.0 / 11.0).abs() < 1e-10, "{minimum:?}");
        assert!((minimum.x[1] - 7.0 / 11.0).abs() < 1e-10, "{minimum:?}");
    }
}
