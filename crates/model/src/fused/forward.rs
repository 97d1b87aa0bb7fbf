//! The training-mode forward pass: feature-major hidden activations, batch-statistics
//! BatchNorm, ReLU and dropout masks drawn as `fcn.rs` draws them, then the logits.

use rand::Rng;

use super::kernels::{batch_norm_row, relu};
use super::network::FusedFcn;
use super::workspace::layer_input;
use super::{gemm_matmul, MatRef};

impl FusedFcn {
    pub(super) fn forward_train(&mut self, x: &[f32], n: usize, rng: &mut impl Rng) {
        let hidden = self.hidden();
        let p = self.dropout as f32;
        let scale = (1.0 / (1.0 - self.dropout)) as f32;
        let drop = self.dropout > 0.0;
        self.ws.rows = n;
        for l in 0..hidden {
            let layer = self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let par = self.par(d, n, fan_in);
            let params = &self.params;
            let ws = &mut self.ws;
            let (prev, rest) = ws.acts.split_at_mut(l);
            // The layer's input as a (fan_in × n) matrix: Xᵀ, or the previous activations.
            let input_t = if l == 0 {
                MatRef::row_major(x, n, fan_in).t()
            } else {
                MatRef::row_major(&prev[l - 1][..fan_in * n], fan_in, n)
            };
            let out = &mut rest[0][..d * n];
            let w = MatRef::row_major(&params[layer.w..layer.w + d * fan_in], d, fan_in);
            let bias = &params[layer.b..layer.b + d];
            // Zᵀ = W · inputᵀ, feature-major, then one pass per feature row.
            match layer.bn {
                None => {
                    gemm_matmul(out, w, input_t, false, 1.0, par);
                    for (row, &b) in out.chunks_exact_mut(n).zip(bias) {
                        for z in row.iter_mut() {
                            *z = relu(*z + b);
                        }
                    }
                }
                Some(g) => {
                    let z = &mut ws.xhat[l][..d * n];
                    gemm_matmul(z, w, input_t, false, 1.0, par);
                    let gamma = &params[g..g + d];
                    let beta = &params[g + d..g + 2 * d];
                    let (rm, rv) = (&mut self.running_mean[l], &mut self.running_var[l]);
                    for j in 0..d {
                        let zrow = &mut z[j * n..(j + 1) * n];
                        let std = batch_norm_row(zrow, bias[j], &mut rm[j], &mut rv[j]);
                        ws.std[l][j] = std;
                        let (ga, be) = (gamma[j], beta[j]);
                        for (a, xh) in out[j * n..(j + 1) * n].iter_mut().zip(zrow.iter()) {
                            *a = relu(*xh * ga + be);
                        }
                    }
                }
            }
            if drop {
                // Masks in sample-major order, as fcn.rs draws them.
                for b in 0..n {
                    for j in 0..d {
                        let a = &mut out[j * n + b];
                        *a = if rng.random::<f32>() < p {
                            0.0
                        } else {
                            *a * scale
                        };
                    }
                }
            }
        }
        let out = &self.layers[hidden];
        let (c, fan_in) = (out.fan_out, out.fan_in);
        let par = self.par(n, c, fan_in);
        let input = layer_input(x, &self.ws.acts, hidden, n, fan_in);
        let logits = &mut self.ws.logits[..n * c];
        gemm_matmul(
            logits,
            input,
            MatRef::row_major(&self.params[out.w..out.w + c * fan_in], c, fan_in).t(),
            false,
            1.0,
            par,
        );
        let bias = &self.params[out.b..out.b + c];
        for row in logits.chunks_exact_mut(c) {
            for (z, &b) in row.iter_mut().zip(bias) {
                *z += b;
            }
        }
    }
}
