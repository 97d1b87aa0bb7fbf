//! The backward pass, optionally applying plain SGD inside the weight-gradient products.

use super::kernels::{batch_norm_row_backward, store_grad, sum};
use super::network::{product_parallelism, FusedFcn};
use super::workspace::layer_input;
use super::Parallelism;
use super::{gemm_matmul, MatRef};

impl FusedFcn {
    /// Backward pass of the last training forward pass. With `sgd_lr = None` every gradient
    /// is written to the gradient buffer. With `Some(lr)` (plain SGD: no momentum, no weight
    /// decay) the update `θ ← θ − lr·g` is applied as the gradients are computed: the weight
    /// gradient products accumulate `−lr·dZᵀ·X` straight into the weights (gemm's
    /// `dst = dst + β·lhs·rhs`), so the gradients are never stored (the gradient buffer is
    /// left stale) and no separate optimizer pass reads them back.
    pub(super) fn backward(&mut self, x: &[f32], n: usize, sgd_lr: Option<f32>) {
        let hidden = self.hidden();
        let scale = if self.dropout > 0.0 {
            Some((1.0 / (1.0 - self.dropout)) as f32)
        } else {
            None
        };
        let threaded = self.parallelism;
        let par = move |m: usize, n: usize, k: usize| product_parallelism(threaded, m, n, k);
        // Output layer: dAᵀ = Wᵀ·dLᵀ (before W changes), dW = dLᵀ·A, db = Σ dL.
        let out = self.layers[hidden];
        let (c, fan_in) = (out.fan_out, out.fan_in);
        let dl = &self.ws.dlogits[..n * c];
        let [s0, s1] = &mut self.ws.scratch;
        let (mut cur, mut other) = (s0, s1);
        if hidden > 0 {
            gemm_matmul(
                &mut cur[..fan_in * n],
                MatRef::row_major(&self.params[out.w..out.w + c * fan_in], c, fan_in).t(),
                MatRef::row_major(dl, n, c).t(),
                false,
                1.0,
                par(fan_in, n, c),
            );
        }
        let input = layer_input(x, &self.ws.acts, hidden, n, fan_in);
        let target = gradient_target(&mut self.params, &mut self.grads, sgd_lr);
        let dl_t = MatRef::row_major(dl, n, c).t();
        let w = &mut target[out.w..out.w + c * fan_in];
        weight_gradient(w, dl_t, input, sgd_lr, par(c, fan_in, n));
        for j in 0..c {
            let g: f32 = dl.chunks_exact(c).map(|row| row[j]).sum();
            store_grad(&mut target[out.b + j], g, sgd_lr);
        }
        // Hidden layers, feature-major: `cur` holds ∂L/∂Aᵀ of layer l (d × n).
        for l in (0..hidden).rev() {
            let layer = &self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let dz = &mut cur[..d * n];
            let act = &self.ws.acts[l][..d * n];
            // ReLU and dropout: the output is positive exactly where the unit was active and
            // kept, and the gradient there is scaled by 1/(1-p).
            match scale {
                Some(s) => {
                    for (g, &a) in dz.iter_mut().zip(act) {
                        *g = if a > 0.0 { *g * s } else { 0.0 };
                    }
                }
                None => {
                    for (g, &a) in dz.iter_mut().zip(act) {
                        *g = if a > 0.0 { *g } else { 0.0 };
                    }
                }
            }
            if let Some(gi) = layer.bn {
                let xhat = &self.ws.xhat[l][..d * n];
                let std = &self.ws.std[l];
                for j in 0..d {
                    let gamma = self.params[gi + j];
                    let (dg, db) = batch_norm_row_backward(
                        &mut dz[j * n..(j + 1) * n],
                        &xhat[j * n..(j + 1) * n],
                        gamma,
                        std[j],
                    );
                    let target = gradient_target(&mut self.params, &mut self.grads, sgd_lr);
                    store_grad(&mut target[gi + j], dg, sgd_lr);
                    store_grad(&mut target[gi + d + j], db, sgd_lr);
                }
            }
            let dz = &cur[..d * n];
            if l > 0 {
                gemm_matmul(
                    &mut other[..fan_in * n],
                    MatRef::row_major(&self.params[layer.w..layer.w + d * fan_in], d, fan_in).t(),
                    MatRef::row_major(dz, d, n),
                    false,
                    1.0,
                    par(fan_in, n, d),
                );
            }
            let input = layer_input(x, &self.ws.acts, l, n, fan_in);
            let target = gradient_target(&mut self.params, &mut self.grads, sgd_lr);
            let w = &mut target[layer.w..layer.w + d * fan_in];
            weight_gradient(
                w,
                MatRef::row_major(dz, d, n),
                input,
                sgd_lr,
                par(d, fan_in, n),
            );
            for (j, row) in dz.chunks_exact(n).enumerate() {
                store_grad(&mut target[layer.b + j], sum(row), sgd_lr);
            }
            if l > 0 {
                std::mem::swap(&mut cur, &mut other);
            }
        }
    }
}

/// Where a step's gradients go: the gradient buffer, or with plain SGD (`Some(lr)`) the
/// parameters themselves.
fn gradient_target<'a>(
    params: &'a mut [f32],
    grads: &'a mut [f32],
    sgd_lr: Option<f32>,
) -> &'a mut [f32] {
    if sgd_lr.is_some() {
        params
    } else {
        grads
    }
}

/// The weight-gradient product `dst = dZᵀ·input` (`dz_t` is `dZᵀ`), or with plain SGD the
/// update accumulated into the weights: `dst = θ − lr·dZᵀ·input`.
fn weight_gradient(
    dst: &mut [f32],
    dz_t: MatRef<'_>,
    input: MatRef<'_>,
    sgd_lr: Option<f32>,
    par: Parallelism,
) {
    let (accumulate, beta) = match sgd_lr {
        None => (false, 1.0),
        Some(lr) => (true, -lr),
    };
    gemm_matmul(dst, dz_t, input, accumulate, beta, par);
}
