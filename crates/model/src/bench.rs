//! Measurements for `fcnsweep bench`: the machine's f32 matrix-product peak, the arithmetic
//! of one training epoch, and the process's peak memory.

use std::time::{Duration, Instant};

use crate::config::ModelConfig;
pub use crate::fused::parallelism_for;
use crate::fused::{gemm_matmul, MatRef, Parallelism};

/// GFLOP/s of repeated `size × size × size` f32 products with gemm (2·size³ flops each) for
/// about `duration`: the best of ten equal windows, so a busy moment on a shared machine does
/// not lower the peak.
pub fn matmul_gflops(size: usize, parallelism: Parallelism, duration: Duration) -> f64 {
    let size = size.max(1);
    let a: Vec<f32> = (0..size * size)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 13.0)
        .collect();
    let b: Vec<f32> = (0..size * size)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 11.0)
        .collect();
    let mut c = vec![0.0f32; size * size];
    let mut run = || {
        gemm_matmul(
            &mut c,
            MatRef::row_major(&a, size, size),
            MatRef::row_major(&b, size, size),
            false,
            1.0,
            parallelism,
        )
    };
    run(); // warm-up: page faults, rayon pool start, CPU clocks
    let flops = 2.0 * (size as f64).powi(3);
    let window = duration / 10;
    let mut best = 0.0f64;
    for _ in 0..10 {
        let start = Instant::now();
        let mut reps = 0u64;
        while reps == 0 || start.elapsed() < window {
            run();
            reps += 1;
        }
        let secs = start.elapsed().as_secs_f64();
        best = best.max(flops * reps as f64 / secs / 1e9);
    }
    best
}

/// The machine's f32 matrix-product peak in GFLOP/s: 512×512×512 gemm products repeated for
/// about one second with the threading of [`parallelism_for`]`(threads_hint)` (`None` = the
/// same as training).
pub fn matmul_peak_gflops(threads_hint: Option<usize>) -> f64 {
    matmul_gflops(512, parallelism_for(threads_hint), Duration::from_secs(1))
}

/// Best wall time of one matrix product of a training step (see [`training_product_timings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProductTiming {
    /// What the product computes, e.g. `forward 1` or `dW 2` (layers counted from 1).
    pub name: String,
    /// Rows of the result.
    pub m: usize,
    /// Columns of the result.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Best time of `reps` runs, in seconds.
    pub seconds: f64,
}

impl ProductTiming {
    /// GFLOP/s of the product at its best time.
    pub fn gflops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64 / self.seconds / 1e9
    }
}

/// Times every matrix product of one training step of `config` at `batch` rows, with the
/// layouts the fused engine uses (forward `X·Wᵀ`, `dW = dZᵀ·X`, `dX = dZ·W`), plus the
/// forward products of an evaluation batch of `eval_batch` rows; best of `reps` runs each.
pub fn training_product_timings(
    config: &ModelConfig,
    inputs: usize,
    classes: usize,
    batch: usize,
    eval_batch: usize,
    parallelism: Parallelism,
    reps: usize,
) -> Vec<ProductTiming> {
    let widths: Vec<usize> = std::iter::once(inputs)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(classes))
        .collect();
    let mut out = Vec::new();
    let fill = |len: usize| -> Vec<f32> { (0..len).map(|i| (i % 7) as f32 * 0.1).collect() };
    for (l, w) in widths.windows(2).enumerate() {
        let (fan_in, fan_out) = (w[0], w[1]);
        let weight = fill(fan_out * fan_in);
        let wt = MatRef::row_major(&weight, fan_out, fan_in);
        let mut cases = vec![
            (format!("forward {}", l + 1), batch, fan_out, fan_in),
            (format!("dW {}", l + 1), fan_out, fan_in, batch),
        ];
        if l > 0 {
            cases.push((format!("dX {}", l + 1), batch, fan_in, fan_out));
        }
        if eval_batch > 0 {
            cases.push((format!("eval {}", l + 1), eval_batch, fan_out, fan_in));
        }
        for (name, m, n, k) in cases {
            let a = fill(m.max(k) * fan_in.max(fan_out).max(batch));
            let mut dst = vec![0.0f32; m * n];
            let mut run = || match name.split(' ').next() {
                Some("dW") => gemm_matmul(
                    &mut dst,
                    MatRef::row_major(&a, k, m).t(),
                    MatRef::row_major(&a, k, n),
                    false,
                    1.0,
                    parallelism,
                ),
                Some("dX") => gemm_matmul(
                    &mut dst,
                    MatRef::row_major(&a, m, k),
                    wt,
                    false,
                    1.0,
                    parallelism,
                ),
                _ => gemm_matmul(
                    &mut dst,
                    MatRef::row_major(&a, m, k),
                    wt.t(),
                    false,
                    1.0,
                    parallelism,
                ),
            };
            run();
            let mut best = f64::MAX;
            for _ in 0..reps.max(1) {
                let start = Instant::now();
                run();
                best = best.min(start.elapsed().as_secs_f64());
            }
            out.push(ProductTiming {
                name,
                m,
                n,
                k,
                seconds: best,
            });
        }
    }
    out
}

/// Floating-point operations of the matrix products of one epoch of `config`.
///
/// With `M = Σ_layers fan_in·fan_out` (multiply-adds of one sample's forward pass, output
/// layer included) and `M₁ = inputs·hidden[0]` (the first layer's share):
///
/// `flops = train_samples · (2M [forward] + 2M [dW] + 2(M − M₁) [dX, not for the input])
///        + eval_samples · 2M [forward only]`.
///
/// Element-wise work (bias, ReLU, BatchNorm, dropout, softmax, optimizer) is not counted.
pub fn epoch_flops(
    config: &ModelConfig,
    inputs: usize,
    classes: usize,
    train_samples: usize,
    eval_samples: usize,
) -> f64 {
    let widths: Vec<usize> = std::iter::once(inputs)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(classes))
        .collect();
    let macs: Vec<f64> = widths.windows(2).map(|w| (w[0] * w[1]) as f64).collect();
    let forward: f64 = macs.iter().sum();
    let dx: f64 = macs.iter().skip(1).sum();
    train_samples as f64 * 2.0 * (2.0 * forward + dx) + eval_samples as f64 * 2.0 * forward
}

/// Peak resident memory of this process (`VmHWM` of `/proc/self/status`), in bytes; `None`
/// where that file does not exist or cannot be parsed.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    let unit = match parts.next().unwrap_or("kB") {
        "kB" | "KB" | "kb" => 1024,
        "mB" | "MB" => 1024 * 1024,
        "B" => 1,
        _ => return None,
    };
    Some(value * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_of_the_baseline() {
        let cfg = ModelConfig::default(); // 784-500-50-10
        let fwd = 784.0 * 500.0 + 500.0 * 50.0 + 50.0 * 10.0;
        let dx = 500.0 * 50.0 + 50.0 * 10.0;
        let expected = 50_000.0 * 2.0 * (2.0 * fwd + dx) + 10_000.0 * 2.0 * fwd;
        assert_eq!(epoch_flops(&cfg, 784, 10, 50_000, 10_000), expected);
        assert!((expected / 1e9 - 94.4).abs() < 0.1, "{}", expected / 1e9);
        assert_eq!(epoch_flops(&cfg, 784, 10, 0, 0), 0.0);
    }

    #[test]
    fn vm_hwm_parses() {
        let s = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(parse_vm_hwm(s), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("VmRSS: 1 kB"), None);
        if cfg!(target_os = "linux") {
            assert!(peak_rss_bytes().unwrap() > 1024 * 1024);
        }
    }

    #[test]
    fn product_timings_cover_every_layer() {
        let cfg = ModelConfig {
            hidden: vec![8, 4],
            ..ModelConfig::default()
        };
        let t = training_product_timings(&cfg, 12, 3, 5, 9, Parallelism::None, 2);
        let names: Vec<&str> = t.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "forward 1",
                "dW 1",
                "eval 1",
                "forward 2",
                "dW 2",
                "dX 2",
                "eval 2",
                "forward 3",
                "dW 3",
                "dX 3",
                "eval 3"
            ]
        );
        assert_eq!((t[1].m, t[1].n, t[1].k), (8, 12, 5));
        assert!(t.iter().all(|p| p.seconds > 0.0 && p.gflops() > 0.0));
    }

    #[test]
    fn gflops_is_positive() {
        let g = matmul_gflops(64, Parallelism::None, Duration::from_millis(20));
        assert!(g.is_finite() && g > 0.0, "{g}");
    }
}
