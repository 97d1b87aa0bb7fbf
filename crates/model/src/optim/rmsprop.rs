//! `torch.optim.RMSprop`: optionally centered, with momentum, eps outside the square root.

use candle_core::{Result as CandleResult, Tensor};

use super::hyper::{HyperValue, ALPHA, CENTERED, EPS, MOMENTUM, WEIGHT_DECAY};
use super::ops::{f, l2_t, lerp, lerp_t, sq_avg_t};
use super::{adam::never_stateless, adam::no_rules, Algorithm, OptimizerConfig};

/// RMSprop's declaration.
pub(super) const ALGORITHM: Algorithm = Algorithm {
    name: "rmsprop",
    aliases: &["rms_prop"],
    summary: "RMSprop, optionally centered and with momentum",
    hypers: &[
        (&ALPHA, HyperValue::Float(0.99)),
        (&EPS, HyperValue::Float(1e-8)),
        (&MOMENTUM, HyperValue::Float(0.0)),
        (&CENTERED, HyperValue::Bool(false)),
        (&WEIGHT_DECAY, HyperValue::Float(0.0)),
    ],
    check: no_rules,
    state,
    stateless_lr: never_stateless,
    fused,
    reference,
};

/// Index of each state buffer that is kept: `square_avg` always, then the momentum buffer
/// and centered RMSprop's `grad_avg` when used.
struct Layout {
    momentum: bool,
    centered: bool,
}

impl Layout {
    fn of(c: &OptimizerConfig) -> Self {
        Self {
            momentum: c.float(&MOMENTUM) > 0.0,
            centered: c.flag(&CENTERED),
        }
    }
}

fn state(c: &OptimizerConfig) -> Vec<f32> {
    let l = Layout::of(c);
    vec![0.0; 1 + usize::from(l.momentum) + usize::from(l.centered)]
}

/// Splits the buffers into `(square_avg, momentum buffer, grad_avg)`.
fn split<'a, T>(
    l: &Layout,
    state: &'a mut [T],
) -> (&'a mut T, Option<&'a mut T>, Option<&'a mut T>) {
    let (sq, rest) = state.split_first_mut().expect("rmsprop keeps square_avg");
    let mut rest = rest.iter_mut();
    let buf = if l.momentum { rest.next() } else { None };
    let ga = if l.centered { rest.next() } else { None };
    (sq, buf, ga)
}

/// The f32 factors of one RMSprop step, read once per segment.
#[derive(Clone, Copy)]
struct Step {
    /// α, the square average's smoothing constant.
    a: f32,
    /// 1 − α, rounded once from f64.
    one_m_a: f32,
    /// 1 − α in f64: the weight of centered RMSprop's `lerp`.
    w: f64,
    /// L2 coefficient, when weight decay is on.
    l2: Option<f32>,
    eps: f32,
    lr: f32,
    mu: f32,
    /// The segment's first step: every state buffer starts here.
    first: bool,
}

impl Step {
    /// `g + λθ`, or `g` without weight decay.
    #[inline(always)]
    fn grad(&self, g: f32, p: f32) -> f32 {
        match self.l2 {
            Some(wd) => g + p * wd,
            None => g,
        }
    }

    /// Updates `square_avg` (and centered RMSprop's `grad_avg`); returns the denominator
    /// `√(v − ḡ²) + eps`, or `√v + eps` when not centered.
    #[inline(always)]
    fn denom(&self, g: f32, sq: &mut f32, grad_avg: Option<&mut f32>) -> f32 {
        let term = g * self.one_m_a * g;
        let v = if self.first {
            term
        } else {
            *sq * self.a + term
        };
        *sq = v;
        let avg = match grad_avg {
            Some(ga) => {
                let m = if self.first {
                    g * self.one_m_a
                } else {
                    lerp(*ga, g, self.w)
                };
                *ga = m;
                (v - m * m).sqrt()
            }
            None => v.sqrt(),
        };
        avg + self.eps
    }

    /// Moves the weight: `θ −= lr·g/avg`, or through the momentum buffer.
    #[inline(always)]
    fn apply(&self, p: &mut f32, g: f32, avg: f32, buf: Option<&mut f32>) {
        match buf {
            Some(b) => {
                let step = g / avg;
                let nb = if self.first {
                    step
                } else {
                    *b * self.mu + step
                };
                *b = nb;
                *p -= nb * self.lr;
            }
            None => *p -= g * self.lr / avg,
        }
    }
}

// One zipped loop per state layout, with no per-weight match on the optional buffers and no
// bounds checks, so the plain and momentum loops vectorize (the indexed loop they replace ran
// RMSprop at twice SGD's epoch time on wide networks; centered RMSprop is still 1.5x plain).
fn fused(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]) {
    let layout = Layout::of(c);
    let (square_avg, buf, grad_avg) = split(&layout, state);
    let alpha = c.float(&ALPHA);
    let wd = c.float(&WEIGHT_DECAY);
    let h = Step {
        a: f(alpha),
        one_m_a: f(1.0 - alpha),
        w: 1.0 - alpha,
        l2: (wd != 0.0).then_some(f(wd)),
        eps: f(c.float(&EPS)),
        lr: f(c.lr),
        mu: f(c.float(&MOMENTUM)),
        first: t == 1,
    };
    let weights = theta.iter_mut().zip(grad).zip(square_avg.iter_mut());
    match (buf, grad_avg) {
        (None, None) => {
            for ((p, &g), sq) in weights {
                let g = h.grad(g, *p);
                let avg = h.denom(g, sq, None);
                h.apply(p, g, avg, None);
            }
        }
        (None, Some(ga)) => {
            for (((p, &g), sq), ga) in weights.zip(ga.iter_mut()) {
                let g = h.grad(g, *p);
                let avg = h.denom(g, sq, Some(ga));
                h.apply(p, g, avg, None);
            }
        }
        (Some(b), None) => {
            for (((p, &g), sq), b) in weights.zip(b.iter_mut()) {
                let g = h.grad(g, *p);
                let avg = h.denom(g, sq, None);
                h.apply(p, g, avg, Some(b));
            }
        }
        (Some(b), Some(ga)) => {
            for ((((p, &g), sq), b), ga) in weights.zip(b.iter_mut()).zip(ga.iter_mut()) {
                let g = h.grad(g, *p);
                let avg = h.denom(g, sq, Some(ga));
                h.apply(p, g, avg, Some(b));
            }
        }
    }
}

fn reference(
    c: &OptimizerConfig,
    _t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let layout = Layout::of(c);
    let (square_avg, buf, grad_avg) = split(&layout, state);
    let alpha = c.float(&ALPHA);
    let g = l2_t(grad, theta, c.float(&WEIGHT_DECAY))?;
    let v = sq_avg_t(square_avg.take(), &g, alpha)?;
    let avg = match grad_avg {
        Some(grad_avg) => {
            let g_avg = match grad_avg.take() {
                None => g.affine(1.0 - alpha, 0.0)?,
                Some(a) => lerp_t(&a, &g, 1.0 - alpha)?,
            };
            let avg = v.sub(&g_avg.sqr()?)?.sqrt()?;
            *grad_avg = Some(g_avg);
            avg
        }
        None => v.sqrt()?,
    };
    // eps outside the square root, as torch.
    let avg = avg.affine(1.0, c.float(&EPS))?;
    *square_avg = Some(v);
    match buf {
        Some(buf) => {
            // torch: buf.mul_(μ).addcdiv_(g, avg); param.add_(buf, alpha=-lr). From b = 0.
            let step = g.div(&avg)?;
            let next_buf = match buf.take() {
                None => step,
                Some(b) => b.affine(c.float(&MOMENTUM), 0.0)?.add(&step)?,
            };
            let next = theta.sub(&next_buf.affine(c.lr, 0.0)?)?;
            *buf = Some(next_buf);
            Ok(next)
        }
        // torch: param.addcdiv_(g, avg, value=-lr).
        None => theta.sub(&g.affine(c.lr, 0.0)?.div(&avg)?),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_trajectory;
    use super::super::{OptimizerConfig, OptimizerKind};

    fn rms(lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(OptimizerKind::Rmsprop, lr)
    }

    #[test]
    fn plain() {
        check_trajectory(
            &rms(0.01),
            &[
                [0.5999999950000002, -1.0999999975, 2.099999990000001],
                [0.6670820320299669, -1.1670820356774803, 2.167082024734941],
                [0.7200177267563649, -1.2200177311257248, 2.220017718017646],
            ],
        );
    }

    #[test]
    fn alpha_eps() {
        // A large eps shows it is added outside the square root.
        check_trajectory(
            &rms(0.01).with("alpha", 0.9).with("eps", 0.1),
            &[
                [0.5273054118991629, -1.0293059387186756, 2.0240253073352044],
                [0.5475839632521161, -1.0506767895955778, 2.0424256942732097],
                [0.5646886659834611, -1.0685585540891, 2.058166146216658],
            ],
        );
    }

    #[test]
    fn momentum() {
        check_trajectory(
            &rms(0.01).with("momentum", 0.9),
            &[
                [0.5999999950000002, -1.0999999975, 2.099999990000001],
                [0.7570820275299671, -1.2570820334274804, 2.257082015734942],
                [0.9470850657710376, -1.447085075273761, 2.4470850467655922],
            ],
        );
    }

    #[test]
    fn centered() {
        check_trajectory(
            &rms(0.01).with("centered", true),
            &[
                [0.6005037764754164, -1.1005037790006686, 2.100503771424912],
                [0.6682406202884552, -1.1682406239841987, 2.1682406128969687],
                [0.7219315892465888, -1.2219315936855555, 2.221931580368656],
            ],
        );
    }

    #[test]
    fn centered_momentum_weight_decay() {
        check_trajectory(
            &rms(0.01)
                .with("centered", true)
                .with("momentum", 0.5)
                .with("weight_decay", 0.1),
            &[
                [0.6005037763459162, -1.1005037789359187, 2.10050376889966],
                [0.7181699557872395, -1.218277896320152, 2.216883989347799],
                [0.8276293150080819, -1.3280143675206888, 2.323006570597878],
            ],
        );
    }
}
