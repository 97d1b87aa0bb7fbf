//! `torch.optim`-exact SGD, Adam and RMSprop updating flat `f32` buffers in place.
//!
//! The formulas are those of [`crate::optim`] (which documents their PyTorch origin),
//! written element by element with the same f32 operations in the same order: the
//! hyper-parameters are rounded to f32 as candle's `affine` does, moving averages use torch's
//! two-branch `lerp`, Adam's bias corrections are computed on the host in f64 from the
//! parameter's own step count, and RMSprop adds eps outside the square root.
//!
//! Parameters are contiguous segments of one flat buffer (one segment per tensor). Every
//! segment gets a gradient at every step here, so a segment's state is created on its first
//! step, as torch does on a parameter's first gradient.

use crate::config::{OptimizerConfig, OptimizerKind};

/// Optimizer state for a flat parameter buffer split into segments (one per tensor).
#[derive(Debug, Clone)]
pub struct FusedOptimizer {
    config: OptimizerConfig,
    /// `(offset, len)` of each parameter tensor in the flat buffers.
    segments: Vec<(usize, usize)>,
    /// Updates applied to each segment (torch's per-parameter `state["step"]`).
    seg_steps: Vec<u64>,
    /// SGD's / RMSprop's momentum buffer, or Adam's `exp_avg` (empty when unused).
    buf: Vec<f32>,
    /// Adam's `exp_avg_sq` / RMSprop's `square_avg` (empty when unused).
    sq_avg: Vec<f32>,
    /// Centered RMSprop's `grad_avg` (empty when unused).
    grad_avg: Vec<f32>,
    steps: usize,
}

/// The f32 value of a hyper-parameter, rounded as candle's `affine` rounds its factors.
fn f(x: f64) -> f32 {
    x as f32
}

/// torch's `start.lerp(end, weight)` with its two branches (weight given as f64).
#[inline(always)]
fn lerp(start: f32, end: f32, weight: f64) -> f32 {
    let diff = end - start;
    if weight < 0.5 {
        start + diff * f(weight)
    } else {
        end - diff * f(1.0 - weight)
    }
}

impl FusedOptimizer {
    /// An optimizer over parameter tensors of the given sizes, laid out one after another in
    /// the flat buffers passed to [`FusedOptimizer::step`].
    pub fn new(config: &OptimizerConfig, sizes: &[usize]) -> Self {
        let mut segments = Vec::with_capacity(sizes.len());
        let mut offset = 0;
        for &len in sizes {
            segments.push((offset, len));
            offset += len;
        }
        let total = offset;
        let (buf, sq, ga) = match config.kind {
            OptimizerKind::Sgd => (config.momentum != 0.0, false, false),
            OptimizerKind::Adam => (true, true, false),
            OptimizerKind::Rmsprop => (config.momentum > 0.0, true, config.centered),
        };
        let alloc = |used: bool| if used { vec![0.0; total] } else { Vec::new() };
        Self {
            config: config.clone(),
            segments,
            seg_steps: vec![0; sizes.len()],
            buf: alloc(buf),
            sq_avg: alloc(sq),
            grad_avg: alloc(ga),
            steps: 0,
        }
    }

    /// Total number of scalars the optimizer updates.
    pub fn len(&self) -> usize {
        self.segments.last().map_or(0, |(o, l)| o + l)
    }

    /// True when there is nothing to update.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets the learning rate of the following steps (what an lr scheduler does between
    /// epochs); the state is kept.
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The learning rate when this is plain SGD (no momentum, no weight decay): its update
    /// `θ ← θ − lr·g` has no state and can be fused into the gradient computation
    /// ([`crate::fused::FusedFcn::train_step`]).
    pub fn plain_sgd_lr(&self) -> Option<f32> {
        let c = &self.config;
        (c.kind == OptimizerKind::Sgd && c.momentum == 0.0 && c.weight_decay == 0.0)
            .then_some(f(c.lr))
    }

    /// Counts a step whose plain-SGD update was applied by the caller.
    pub(crate) fn count_fused_step(&mut self) {
        self.steps += 1;
        for s in &mut self.seg_steps {
            *s += 1;
        }
    }

    /// One update of every parameter from its gradient, in place.
    ///
    /// # Panics
    /// If `params` or `grads` is not exactly [`FusedOptimizer::len`] long.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), self.len(), "parameter buffer size");
        assert_eq!(grads.len(), self.len(), "gradient buffer size");
        self.steps += 1;
        for (s, &(off, len)) in self.segments.iter().enumerate() {
            self.seg_steps[s] += 1;
            let t = self.seg_steps[s];
            let r = off..off + len;
            let theta = &mut params[r.clone()];
            let grad = &grads[r.clone()];
            let c = &self.config;
            match c.kind {
                OptimizerKind::Sgd => {
                    let buf = if self.buf.is_empty() {
                        &mut [][..]
                    } else {
                        &mut self.buf[r]
                    };
                    sgd(c, t, theta, grad, buf)
                }
                OptimizerKind::Adam => adam(
                    c,
                    t,
                    theta,
                    grad,
                    &mut self.buf[r.clone()],
                    &mut self.sq_avg[r],
                ),
                OptimizerKind::Rmsprop => {
                    let buf = if self.buf.is_empty() {
                        &mut [][..]
                    } else {
                        &mut self.buf[r.clone()]
                    };
                    let ga = if self.grad_avg.is_empty() {
                        &mut [][..]
                    } else {
                        &mut self.grad_avg[r.clone()]
                    };
                    rmsprop(c, t, theta, grad, buf, &mut self.sq_avg[r], ga)
                }
            }
        }
    }
}

/// `torch.optim.SGD` (dampening 0) on one segment at its step `t` (1-based).
fn sgd(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], buf: &mut [f32]) {
    let lr = f(c.lr);
    let wd = f(c.weight_decay);
    let decay = c.weight_decay != 0.0;
    let mu = f(c.momentum);
    if c.momentum == 0.0 {
        if decay {
            for (p, &g) in theta.iter_mut().zip(grad) {
                let g = g + *p * wd;
                *p -= g * lr;
            }
        } else {
            for (p, &g) in theta.iter_mut().zip(grad) {
                *p -= g * lr;
            }
        }
        return;
    }
    let first = t == 1;
    let nesterov = c.nesterov;
    for ((p, &g), b) in theta.iter_mut().zip(grad).zip(buf.iter_mut()) {
        let g = if decay { g + *p * wd } else { g };
        let nb = if first { g } else { *b * mu + g };
        *b = nb;
        let d = if nesterov { g + nb * mu } else { nb };
        *p -= d * lr;
    }
}

/// `torch.optim.Adam` (amsgrad off, L2 weight decay) on one segment at its step `t`.
fn adam(
    c: &OptimizerConfig,
    t: u64,
    theta: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
) {
    let (beta1, beta2) = c.betas;
    let wd = f(c.weight_decay);
    let decay = c.weight_decay != 0.0;
    let first = t == 1;
    let tf = t as f64;
    let bias_correction1 = 1.0 - beta1.powf(tf);
    let bias_correction2 = 1.0 - beta2.powf(tf);
    let step_size = f(c.lr / bias_correction1);
    let inv_bc2 = f(1.0 / bias_correction2.sqrt());
    let eps = f(c.eps);
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
        let g = if decay { g + *p * wd } else { g };
        let nm = if first { g * one_m_b1 } else { lerp(*m, g, w1) };
        let term = g * one_m_b2 * g;
        let nv = if first { term } else { *v * b2 + term };
        *m = nm;
        *v = nv;
        let denom = nv.sqrt() * inv_bc2 + eps;
        *p -= nm * step_size / denom;
    }
}

/// `torch.optim.RMSprop` on one segment at its step `t`.
fn rmsprop(
    c: &OptimizerConfig,
    t: u64,
    theta: &mut [f32],
    grad: &[f32],
    buf: &mut [f32],
    square_avg: &mut [f32],
    grad_avg: &mut [f32],
) {
    let alpha = c.alpha;
    let a = f(alpha);
    let one_m_a = f(1.0 - alpha);
    let wd = f(c.weight_decay);
    let decay = c.weight_decay != 0.0;
    let eps = f(c.eps);
    let lr = f(c.lr);
    let mu = f(c.momentum);
    let momentum = c.momentum > 0.0;
    let centered = c.centered;
    let first = t == 1;
    for (i, (p, &g)) in theta.iter_mut().zip(grad).enumerate() {
        let g = if decay { g + *p * wd } else { g };
        let term = g * one_m_a * g;
        let v = if first {
            term
        } else {
            square_avg[i] * a + term
        };
        square_avg[i] = v;
        let avg = if centered {
            let ga = if first {
                g * one_m_a
            } else {
                lerp(grad_avg[i], g, 1.0 - alpha)
            };
            grad_avg[i] = ga;
            (v - ga * ga).sqrt()
        } else {
            v.sqrt()
        };
        let avg = avg + eps;
        if momentum {
            let step = g / avg;
            let b = if first { step } else { buf[i] * mu + step };
            buf[i] = b;
            *p -= b * lr;
        } else {
            *p -= g * lr / avg;
        }
    }
}
