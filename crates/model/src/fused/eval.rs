//! Evaluation mode: no dropout, running BatchNorm statistics folded into a scale and shift,
//! sample-major activations, no gradients.

use candle_core::{Device, Tensor};

use super::kernels::{relu, BN_EPS};
use super::loss::{softmax_cross_entropy, BatchStats};
use super::network::{product_parallelism, FusedFcn};
use super::{gemm_matmul, MatRef};
use crate::error::ModelError;

impl FusedFcn {
    /// Logits of a row-major `(rows, inputs)` batch in evaluation mode (no dropout, running
    /// BatchNorm statistics, no gradients); the returned slice is the workspace's.
    pub(super) fn forward_eval(&mut self, x: &[f32], n: usize) -> &[f32] {
        self.reserve_eval(n);
        let hidden = self.hidden();
        for l in 0..hidden {
            if let Some(g) = self.layers[l].bn {
                let d = self.layers[l].fan_out;
                let gamma = &self.params[g..g + d];
                let beta = &self.params[g + d..g + 2 * d];
                let (rm, rv) = (&self.running_mean[l], &self.running_var[l]);
                let eps = BN_EPS as f32;
                for j in 0..d {
                    let s = gamma[j] / (rv[j] + eps).sqrt();
                    self.eval.scale[l][j] = s;
                    self.eval.shift[l][j] = beta[j] - rm[j] * s;
                }
            }
        }
        let [b0, b1] = &mut self.eval.bufs;
        let (mut cur, mut next) = (b0, b1);
        for l in 0..=hidden {
            let layer = &self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let input: &[f32] = if l == 0 { x } else { &cur[..n * fan_in] };
            let out: &mut [f32] = if l == hidden {
                &mut self.eval.logits[..n * d]
            } else {
                &mut next[..n * d]
            };
            let par = product_parallelism(self.parallelism, n, d, fan_in);
            gemm_matmul(
                out,
                MatRef::row_major(input, n, fan_in),
                MatRef::row_major(&self.params[layer.w..layer.w + d * fan_in], d, fan_in).t(),
                false,
                1.0,
                par,
            );
            let bias = &self.params[layer.b..layer.b + d];
            if l == hidden {
                for row in out.chunks_exact_mut(d) {
                    for (z, &b) in row.iter_mut().zip(bias) {
                        *z += b;
                    }
                }
            } else if layer.bn.is_some() {
                let (scale, shift) = (&self.eval.scale[l], &self.eval.shift[l]);
                for row in out.chunks_exact_mut(d) {
                    for j in 0..d {
                        row[j] = relu((row[j] + bias[j]) * scale[j] + shift[j]);
                    }
                }
            } else {
                for row in out.chunks_exact_mut(d) {
                    for (z, &b) in row.iter_mut().zip(bias) {
                        *z = relu(*z + b);
                    }
                }
            }
            if l < hidden {
                std::mem::swap(&mut cur, &mut next);
            }
        }
        &self.eval.logits[..n * self.classes]
    }

    /// Loss and accuracy of a row-major `(rows, inputs)` batch in evaluation mode (no dropout,
    /// running BatchNorm statistics, no gradients).
    pub fn eval_batch(&mut self, x: &[f32], labels: &[u32]) -> Result<BatchStats, ModelError> {
        let n = self.check_batch(x, labels)?;
        let c = self.classes;
        let logits = self.forward_eval(x, n);
        Ok(softmax_cross_entropy(logits, None, labels, c))
    }

    /// Evaluation-mode logits of a row-major `(rows, inputs)` batch, as a tensor.
    pub fn eval_logits(&mut self, x: &[f32], rows: usize) -> Result<Tensor, ModelError> {
        if rows == 0 || x.len() != rows * self.inputs {
            return Err(ModelError::InvalidValue {
                field: "batch",
                value: format!("{} values for {rows} rows", x.len()),
                expected: "`inputs` values per row",
            });
        }
        let c = self.classes;
        let logits = self.forward_eval(x, rows);
        Ok(Tensor::from_slice(logits, (rows, c), &Device::Cpu)?)
    }
}
