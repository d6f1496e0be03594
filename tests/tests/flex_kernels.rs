//! Our patched burn-flex (`vendor/burn-flex`) against f64 references from
//! libm: its vectorised GELU, GELU derivative, `exp` and attention softmax,
//! on tensors long enough to take the multi-threaded paths and on the short
//! ones that stay on one thread; its products cut into bands, scalar
//! operations on strided views and tensors filled on several threads.

use bert_burn_tests::device;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::attention;
use burn::tensor::{Device, Tensor, TensorData};

/// `n` points spread over `[-range, range]`, both ends included.
fn grid(n: usize, range: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (-range + 2.0 * range * i as f64 / (n - 1) as f64) as f32)
        .collect()
}

fn tensor(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn values(tensor: Tensor<1>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

fn exact_gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn exact_gelu_derivative(x: f64) -> f64 {
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)) + x * pdf
}

/// Largest `|ours - exact| / max(1, |exact|)`.
fn worst_error(ours: &[f32], exact: impl Fn(usize) -> f64) -> f64 {
    ours.iter()
        .enumerate()
        .map(|(i, &value)| {
            let reference = exact(i);
            (value as f64 - reference).abs() / reference.abs().max(1.0)
        })
        .fold(0.0, f64::max)
}

#[test]
fn gelu_matches_the_exact_erf_form() {
    // 300,001 points: above the patch's threshold for splitting across threads.
    for (n, range) in [(300_001, 12.0), (1_001, 4.0)] {
        let x = grid(n, range);
        let ours = values(gelu(tensor(&x, &device())));
        let error = worst_error(&ours, |i| exact_gelu(x[i] as f64));
        // This kernel: 1.3e-7 (measured); GELU's tanh approximation: over 1e-4.
        assert!(error < 1e-6, "gelu over {n} points: error {error:e}");
    }
}

#[test]
fn gelu_derivative_matches_the_exact_form() {
    let device = device().autodiff();
    let n = 300_001;
    let x = grid(n, 12.0);
    // Upstream gradients other than 1, so that the product with them is checked.
    let upstream: Vec<f32> = (0..n).map(|i| 0.5 + (i % 7) as f32 * 0.25).collect();
    let input = tensor(&x, &device).require_grad();
    let output = gelu(input.clone()) * tensor(&upstream, &device);
    let grads = output.sum().backward();
    let grad = values(input.grad(&grads).unwrap());
    let error = worst_error(&grad, |i| {
        upstream[i] as f64 * exact_gelu_derivative(x[i] as f64)
    });
    assert!(error < 1e-6, "gelu derivative: error {error:e}");
}

#[test]
fn exp_matches_libm_within_a_few_ulp_and_keeps_its_limits() {
    let x = grid(200_001, 87.0);
    let ours = values(tensor(&x, &device()).exp());
    let worst_relative = ours
        .iter()
        .zip(&x)
        .map(|(&value, &x)| {
            let exact = libm::exp(x as f64);
            ((value as f64 - exact) / exact).abs()
        })
        .fold(0.0, f64::max);
    assert!(
        worst_relative < 3e-7,
        "exp: relative error {worst_relative:e}"
    );

    let limits = [
        f32::NEG_INFINITY,
        -200.0,
        0.0,
        100.0,
        f32::INFINITY,
        f32::NAN,
    ];
    let ours = values(tensor(&limits, &device()).exp());
    assert_eq!(&ours[..5], &[0.0, 0.0, 1.0, f32::INFINITY, f32::INFINITY]);
    assert!(ours[5].is_nan());
}

/// Attention with a per-sequence padding bias expanded over heads and query
/// rows (the encoders' inference path) against softmax(QK^T/sqrt(D) + bias)V
/// computed in f64, at a length the vectorised softmax's lanes divide and at
/// one they do not.
#[test]
fn attention_with_an_expanded_padding_bias_matches_f64() {
    for seq in [48, 37] {
        attention_with_padding_bias_matches_f64(seq);
    }
}

fn attention_with_padding_bias_matches_f64(seq: usize) {
    let [batch, heads, head_size] = [2, 3, 8];
    let device = device();
    let fill = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2_001) as f32 / 1_000.0 - 1.0) * 1.5)
            .collect()
    };
    let len = batch * heads * seq * head_size;
    let [q, k, v] = [fill(len, 1), fill(len, 2), fill(len, 3)];
    let as_tensor = |values: &[f32]| {
        Tensor::<1>::from_data(TensorData::new(values.to_vec(), [len]), &device)
            .reshape([batch, heads, seq, head_size])
    };
    // Sequence 0 keeps every key, sequence 1 masks its last 15.
    let valid = [seq, seq - 15];
    let bias: Vec<f32> = (0..batch * seq)
        .map(|i| {
            if i % seq < valid[i / seq] {
                0.0
            } else {
                -10_000.0
            }
        })
        .collect();
    let bias_tensor = Tensor::<1>::from_data(TensorData::new(bias.clone(), [batch * seq]), &device)
        .reshape([batch, 1, 1, seq])
        .expand([batch, heads, seq, seq]);
    let ours: Vec<f32> = attention(
        as_tensor(&q),
        as_tensor(&k),
        as_tensor(&v),
        None,
        Some(bias_tensor),
        Default::default(),
    )
    .into_data()
    .try_to_vec::<f32>()
    .unwrap();

    let scale = 1.0 / (head_size as f64).sqrt();
    let mut worst = 0.0f64;
    for b in 0..batch {
        for h in 0..heads {
            let base = (b * heads + h) * seq * head_size;
            let row = |m: &[f32], i: usize| m[base + i * head_size..][..head_size].to_vec();
            for i in 0..seq {
                let scores: Vec<f64> = (0..seq)
                    .map(|j| {
                        let dot: f64 = row(&q, i)
                            .iter()
                            .zip(&row(&k, j))
                            .map(|(&a, &b)| a as f64 * b as f64)
                            .sum();
                        dot * scale + bias[b * seq + j] as f64
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for d in 0..head_size {
                    let exact: f64 = (0..seq)
                        .map(|j| weights[j] / total * row(&v, j)[d] as f64)
                        .sum();
                    let got = ours[base + i * head_size + d] as f64;
                    worst = worst.max((got - exact).abs());
                }
            }
        }
    }
    assert!(
        worst < 1e-5,
        "attention, seq {seq}: max abs error {worst:e}"
    );
}

/// The fused softmax and the decomposed one (under autodiff, which uses
/// the patched `exp`) agree with f64 on long rows.
#[test]
fn softmax_matches_f64_with_and_without_autodiff() {
    let [rows, cols] = [300, 1_000];
    let x = grid(rows * cols, 30.0);
    let exact: Vec<f64> = x
        .chunks(cols)
        .flat_map(|row| {
            let max = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
            let weights: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            weights.into_iter().map(move |w| w / total)
        })
        .collect();
    for device in [device(), device().autodiff()] {
        let input = tensor(&x, &device).reshape([rows, cols]);
        let ours: Vec<f32> = softmax(input, 1).into_data().try_to_vec::<f32>().unwrap();
        let worst = ours
            .iter()
            .zip(&exact)
            .map(|(&a, &b)| (a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-6, "softmax: max abs error {worst:e}");
    }
}

/// Products large enough to be cut into bands of rows (a tall output) or of
/// columns (a wide one), at sizes the bands do not divide, with a transposed
/// right operand as the backward pass passes them, against f64 sums.
#[test]
fn matmul_in_bands_matches_f64() {
    let device = device();
    for [m, k, n] in [[203, 301, 157], [37, 509, 701]] {
        let lhs = grid(m * k, 1.0);
        let rhs = grid(k * n, 2.0);
        let as_matrix = |values: &[f32], rows: usize, cols: usize| {
            tensor(values, &device).reshape([rows, cols])
        };
        let plain = as_matrix(&lhs, m, k).matmul(as_matrix(&rhs, k, n));
        // The same right operand, stored transposed and viewed back.
        let rhs_t: Vec<f32> = (0..n * k).map(|i| rhs[(i % k) * n + i / k]).collect();
        let strided = as_matrix(&lhs, m, k).matmul(as_matrix(&rhs_t, n, k).transpose());
        for (name, product) in [("plain", plain), ("strided", strided)] {
            let ours = values(product.reshape([m * n]));
            // Each error against the sum of the terms' magnitudes, the scale
            // of f32's rounding over `k` terms; a row or column taken from
            // the wrong place is off by the order of that sum itself.
            let worst = ours
                .iter()
                .enumerate()
                .map(|(i, &got)| {
                    let (row, col) = (i / n, i % n);
                    let terms = (0..k).map(|j| lhs[row * k + j] as f64 * rhs[j * n + col] as f64);
                    let exact: f64 = terms.clone().sum();
                    let magnitude: f64 = terms.map(f64::abs).sum();
                    (got as f64 - exact).abs() / magnitude.max(1.0)
                })
                .fold(0.0, f64::max);
            assert!(worst < 1e-5, "{m}x{k}x{n} {name}: error {worst:e}");
        }
    }
}

/// A scalar operation on strided views (a transposed one, a slice) gives
/// each element of the view, in the view's order; new tensors long enough to
/// be filled by several threads hold their value everywhere.
#[test]
fn scalar_ops_on_views_and_filled_tensors_are_exact() {
    let device = device();
    let [a, b, c] = [3, 200, 150];
    let x = grid(a * b * c, 5.0);
    let cube = tensor(&x, &device).reshape([a, b, c]);
    let swapped = values((cube.clone().swap_dims(0, 2) * 0.5).reshape([a * b * c]));
    let expected: Vec<f32> = (0..a * b * c)
        .map(|i| {
            let (k, rest) = (i / (b * a), i % (b * a));
            let (j, l) = (rest / a, rest % a);
            x[(l * b + j) * c + k] * 0.5
        })
        .collect();
    assert_eq!(swapped, expected, "swap_dims(0, 2) * 0.5");
    let sliced = values((cube.slice([0..a, 0..b, 10..140]) + 1.0).reshape([a * b * 130]));
    let expected: Vec<f32> = (0..a * b)
        .flat_map(|row| (10..140).map(move |k| (row, k)))
        .map(|(row, k)| x[row * c + k] + 1.0)
        .collect();
    assert_eq!(sliced, expected, "slice + 1");
    // 2-D views of 128K-1M elements: copied on every thread (PATCH.md 9).
    let [rows, cols] = [301, 457];
    let y = grid(rows * cols, 3.0);
    let matrix = tensor(&y, &device).reshape([rows, cols]);
    let transposed = values((matrix.clone().transpose() * 0.5).reshape([rows * cols]));
    let expected: Vec<f32> = (0..rows * cols)
        .map(|i| y[(i % rows) * cols + i / rows] * 0.5)
        .collect();
    assert_eq!(transposed, expected, "transpose * 0.5");
    let narrowed = values((matrix.slice([0..rows, 3..450]) - 1.0).reshape([rows * 447]));
    let y = &y;
    let expected: Vec<f32> = (0..rows)
        .flat_map(|row| (3..450).map(move |k| y[row * cols + k] - 1.0))
        .collect();
    assert_eq!(narrowed, expected, "slice - 1");
    let zeros = values(Tensor::<2>::zeros([400, 300], &device).reshape([120_000]));
    assert!(zeros.iter().all(|&v| v == 0.0), "zeros");
    let ones = values(Tensor::<2>::ones([400, 300], &device).reshape([120_000]));
    assert!(ones.iter().all(|&v| v == 1.0), "ones");
}
