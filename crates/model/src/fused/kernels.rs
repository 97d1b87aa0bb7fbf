//! The element-wise kernels of the engine: ReLU, the gradient store (or fused SGD update),
//! vectorizable sums and dot products, and BatchNorm of one feature forward and backward.

/// BatchNorm1d's epsilon and running-statistics momentum (PyTorch defaults, as `fcn.rs`).
pub(super) const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

#[inline(always)]
pub(super) fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// Stores a gradient, or with `Some(lr)` applies plain SGD to the parameter instead
/// (`θ − g·lr`, as `optim/sgd.rs`).
#[inline(always)]
pub(super) fn store_grad(target: &mut f32, grad: f32, sgd_lr: Option<f32>) {
    match sgd_lr {
        None => *target = grad,
        Some(lr) => *target -= grad * lr,
    }
}

/// Sum of a slice with eight independent accumulators (vectorizes; the order of the
/// additions differs from a sequential sum by rounding only).
pub(super) fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in tail {
        s += x;
    }
    s
}

/// Σ a·b over two slices of equal length, with eight accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// BatchNorm of one feature over the batch, in training mode: adds the bias to the
/// pre-activations `z`, normalizes them in place to x̂ = (z - mean) / √(var + eps) with the
/// biased batch variance, updates the running statistics as PyTorch does (momentum 0.1,
/// unbiased variance) and returns √(var + eps).
pub(super) fn batch_norm_row(
    z: &mut [f32],
    bias: f32,
    running_mean: &mut f32,
    running_var: &mut f32,
) -> f32 {
    let n = z.len();
    for v in z.iter_mut() {
        *v += bias;
    }
    let inv_n = (1.0 / n as f64) as f32;
    let mean = sum(z) * inv_n;
    let mut acc = [0.0f32; 8];
    let chunks = z.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let d = v - mean;
            *a += d * d;
        }
    }
    let mut sq = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in tail {
        sq += (v - mean) * (v - mean);
    }
    let var = sq * inv_n;
    let mom = BN_MOMENTUM;
    let unbiased = (mom * n as f64 / (n as f64 - 1.0).max(1.0)) as f32;
    *running_mean = *running_mean * (1.0 - mom) as f32 + mean * mom as f32;
    *running_var = *running_var * (1.0 - mom) as f32 + var * unbiased;
    let std = (var + BN_EPS as f32).sqrt();
    for v in z.iter_mut() {
        *v = (*v - mean) / std;
    }
    std
}

/// BatchNorm backward of one feature in place: `dz` holds ∂L/∂y on entry and ∂L/∂z on
/// return; returns gamma's and beta's gradients.
pub(super) fn batch_norm_row_backward(
    dz: &mut [f32],
    xhat: &[f32],
    gamma: f32,
    std: f32,
) -> (f32, f32) {
    let n = dz.len() as f32;
    let dbeta = sum(dz);
    let dgamma = dot(dz, xhat);
    let coef = gamma / (std * n);
    for (g, &xh) in dz.iter_mut().zip(xhat) {
        *g = coef * (n * *g - dbeta - xh * dgamma);
    }
    (dgamma, dbeta)
}
