//! The operations several optimizers share, in their f32 form (fused) and tensor form
//! (reference), written once so both paths round alike.

use candle_core::{Result as CandleResult, Tensor};

/// The f32 value of a hyper-parameter, rounded as candle's `affine` rounds its factors.
#[inline(always)]
pub(super) fn f(x: f64) -> f32 {
    x as f32
}

/// torch's `start.lerp(end, weight)` with its two branches (weight given as f64).
#[inline(always)]
pub(super) fn lerp(start: f32, end: f32, weight: f64) -> f32 {
    let diff = end - start;
    if weight < 0.5 {
        start + diff * f(weight)
    } else {
        end - diff * f(1.0 - weight)
    }
}

/// torch's `start.lerp(end, weight)` on tensors, with the same two branches.
pub(super) fn lerp_t(start: &Tensor, end: &Tensor, weight: f64) -> CandleResult<Tensor> {
    let diff = end.sub(start)?;
    if weight < 0.5 {
        start.add(&diff.affine(weight, 0.0)?)
    } else {
        end.sub(&diff.affine(1.0 - weight, 0.0)?)
    }
}

/// `g + λθ` (torch: `grad.add(param, alpha=weight_decay)`), or `g` itself when λ = 0.
pub(super) fn l2_t(grad: Tensor, theta: &Tensor, weight_decay: f64) -> CandleResult<Tensor> {
    if weight_decay == 0.0 {
        Ok(grad)
    } else {
        grad.add(&theta.affine(weight_decay, 0.0)?)
    }
}

/// `β avg + (1-β) g·g` (torch: `avg.mul_(β).addcmul_(g, g, value=1-β)`), starting from 0.
pub(super) fn sq_avg_t(avg: Option<Tensor>, grad: &Tensor, beta: f64) -> CandleResult<Tensor> {
    let term = grad.affine(1.0 - beta, 0.0)?.mul(grad)?;
    match avg {
        None => Ok(term),
        Some(avg) => avg.affine(beta, 0.0)?.add(&term),
    }
}

/// Adam's hyper-parameters as its moment update reads them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moments {
    /// Step of the segment (1-based).
    pub t: u64,
    /// Learning rate.
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
}

impl Moments {
    /// Reads them from `c`, an optimizer that declares Adam's hyper-parameters.
    pub fn of(c: &super::OptimizerConfig, t: u64) -> Self {
        use super::hyper::{BETA1, BETA2, EPS};
        Self {
            t,
            lr: c.lr,
            beta1: c.float(&BETA1),
            beta2: c.float(&BETA2),
            eps: c.float(&EPS),
        }
    }
}

/// Adam's moment update and step on one segment, shared by Adam and AdamW (which differ
/// only in how weight decay enters): `l2` is Adam's L2 coefficient added to the gradient.
pub(super) fn adam_moments(
    h: &Moments,
    theta: &mut [f32],
    grad: &[f32],
    l2: Option<f32>,
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    let (t, beta1, beta2) = (h.t, h.beta1, h.beta2);
    let first = t == 1;
    let tf = t as f64;
    let bias_correction1 = 1.0 - beta1.powf(tf);
    let bias_correction2 = 1.0 - beta2.powf(tf);
    let step_size = f(h.lr / bias_correction1);
    let inv_bc2 = f(1.0 / bias_correction2.sqrt());
    let eps = f(h.eps);
    let one_m_b1 = f(1.0 - beta1);
    let one_m_b2 = f(1.0 - beta2);
    let b2 = f(beta2);
    let w1 = 1.0 - beta1;
    for (((p, &g), m), v) in theta
        .iter_mut()
        .zip(grad)
        .zip(exp_avg.iter_mut())
        .zip(exp_avg_sq.iter_mut())
    {
        let g = match l2 {
            Some(wd) => g + *p * wd,
            None => g,
        };
        let nm = if first { g * one_m_b1 } else { lerp(*m, g, w1) };
        let term = g * one_m_b2 * g;
        let nv = if first { term } else { *v * b2 + term };
        *m = nm;
        *v = nv;
        let denom = nv.sqrt() * inv_bc2 + eps;
        *p -= nm * step_size / denom;
    }
}

/// The tensor form of [`adam_moments`] (`g` after any L2 term): returns the new value.
pub(super) fn adam_moments_t(
    h: &Moments,
    theta: &Tensor,
    g: &Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let (beta1, beta2) = (h.beta1, h.beta2);
    let [exp_avg, exp_avg_sq] = state else {
        unreachable!("adam keeps two state buffers")
    };
    let m = match exp_avg.take() {
        // lerp from zero: 0 + (1-β1)(g - 0), exactly.
        None => g.affine(1.0 - beta1, 0.0)?,
        Some(m) => lerp_t(&m, g, 1.0 - beta1)?,
    };
    let v = sq_avg_t(exp_avg_sq.take(), g, beta2)?;
    // Bias corrections on the host, in f64, as torch does with a Python-float step.
    let tf = h.t as f64;
    let bias_correction1 = 1.0 - beta1.powf(tf);
    let bias_correction2 = 1.0 - beta2.powf(tf);
    let step_size = h.lr / bias_correction1;
    let denom = v.sqrt()?.affine(1.0 / bias_correction2.sqrt(), h.eps)?;
    // torch: param.addcdiv_(exp_avg, denom, value=-step_size).
    let next = theta.sub(&m.affine(step_size, 0.0)?.div(&denom)?)?;
    *exp_avg = Some(m);
    *exp_avg_sq = Some(v);
    Ok(next)
}
