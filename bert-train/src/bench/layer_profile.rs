//! `bench --mode profile`: where one encoder layer's forward time goes, part
//! by part, next to the time of the bare matrix products those parts contain.

use std::time::Instant;

use anyhow::Result;
use bert_model::{BertConfig, BertLayer, Precision};
use burn::tensor::{Device, Distribution, Tensor};

/// Median wall time of `run`, forcing its result each time.
fn median_ms<const D: usize>(steps: usize, run: impl Fn() -> Tensor<D>) -> f64 {
    let mut times: Vec<f64> = (0..steps + 1)
        .map(|_| {
            let started = Instant::now();
            let _ = run().sum().into_data();
            started.elapsed().as_secs_f64() * 1e3
        })
        .skip(1)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// One timed part of the layer.
pub struct PartTime {
    /// What it is.
    pub name: &'static str,
    /// Median milliseconds of the part.
    pub ms: f64,
    /// Median milliseconds of its bare matrix products (with the same shapes).
    pub matmul_ms: f64,
}

/// Times the parts of one randomly initialised layer of `config` on a
/// `[batch, seq_len]` input (inference, no padding), products in `precision`.
pub fn profile_layer(
    config: &BertConfig,
    batch: usize,
    seq_len: usize,
    steps: usize,
    precision: Precision,
    device: &Device,
) -> Result<Vec<PartTime>> {
    let layer = BertLayer::new(config, device).with_precision(precision);
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let heads = config.num_attention_heads;
    let normal = Distribution::Normal(0.0, 1.0);
    let hidden = Tensor::<3>::random([batch, seq_len, h], normal, device);
    let wide = Tensor::<3>::random([batch, seq_len, i], normal, device);
    let mask = Tensor::<4>::zeros([batch, 1, 1, seq_len], device);
    let attention = &layer.attention.self_attention;
    let gemm = |k: usize, n: usize, times: usize| {
        let a = Tensor::<3>::random([batch, seq_len, k], normal, device);
        let b = Tensor::<3>::random([1, k, n], normal, device);
        median_ms(steps, || {
            (0..times)
                .map(|_| a.clone().matmul(b.clone()))
                .reduce(|x, y| x + y)
                .expect("at least one product")
        })
    };
    let head = h / heads;
    let score_gemms = {
        let q = Tensor::<4>::random([batch, heads, seq_len, head], normal, device);
        let k = Tensor::<4>::random([batch, heads, head, seq_len], normal, device);
        let v = Tensor::<4>::random([batch, heads, seq_len, head], normal, device);
        median_ms(steps, || {
            q.clone()
                .matmul(k.clone())
                .matmul(v.clone())
                .reshape([batch * heads, seq_len, head])
        })
    };
    let projections = median_ms(steps, || {
        let [query, _, _] = attention.query_key_value(hidden.clone());
        query
    });
    let self_attention = median_ms(steps, || attention.forward(hidden.clone(), mask.clone()));
    Ok(vec![
        PartTime {
            name: "query/key/value projections",
            ms: projections,
            matmul_ms: gemm(h, 3 * h, 1),
        },
        PartTime {
            name: "scores, mask, softmax, context",
            ms: self_attention - projections,
            matmul_ms: score_gemms,
        },
        PartTime {
            name: "attention output + LayerNorm",
            ms: median_ms(steps, || {
                layer
                    .attention
                    .output
                    .forward(hidden.clone(), hidden.clone())
            }),
            matmul_ms: gemm(h, h, 1),
        },
        PartTime {
            name: "intermediate + GELU",
            ms: median_ms(steps, || layer.intermediate.forward(hidden.clone())),
            matmul_ms: gemm(h, i, 1),
        },
        PartTime {
            name: "output + LayerNorm",
            ms: median_ms(steps, || layer.output.forward(wide.clone(), hidden.clone())),
            matmul_ms: gemm(i, h, 1),
        },
    ])
}
