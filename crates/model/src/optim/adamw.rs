//! `torch.optim.AdamW` (amsgrad off): Adam with decoupled weight decay, which shrinks the
//! weights by `lr·weight_decay` before Adam's step instead of adding an L2 term to the
//! gradient (Loshchilov & Hutter). torch's default `weight_decay` is 0.01.

use candle_core::{Result as CandleResult, Tensor};

use super::adam::{never_stateless, no_rules, two_moments};
use super::hyper::{HyperValue, BETA1, BETA2, EPS, WEIGHT_DECAY};
use super::ops::{adam_moments, adam_moments_t, f, Moments};
use super::{Algorithm, OptimizerConfig};

/// AdamW's declaration.
pub(super) const ALGORITHM: Algorithm = Algorithm {
    name: "adamw",
    aliases: &["adam_w"],
    summary: "AdamW: Adam with decoupled weight decay (default 0.01)",
    hypers: &[
        (&BETA1, HyperValue::Float(0.9)),
        (&BETA2, HyperValue::Float(0.999)),
        (&EPS, HyperValue::Float(1e-8)),
        (&WEIGHT_DECAY, HyperValue::Float(0.01)),
    ],
    check: no_rules,
    state: two_moments,
    stateless_lr: never_stateless,
    fused,
    reference,
};

fn fused(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]) {
    let [exp_avg, exp_avg_sq] = state else {
        unreachable!("adamw keeps two state buffers")
    };
    let wd = c.float(&WEIGHT_DECAY);
    if wd != 0.0 {
        // torch: param.mul_(1 - lr * weight_decay).
        let shrink = f(1.0 - c.lr * wd);
        for p in theta.iter_mut() {
            *p *= shrink;
        }
    }
    adam_moments(&Moments::of(c, t), theta, grad, None, exp_avg, exp_avg_sq);
}

fn reference(
    c: &OptimizerConfig,
    t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let wd = c.float(&WEIGHT_DECAY);
    let theta = if wd != 0.0 {
        theta.affine(1.0 - c.lr * wd, 0.0)?
    } else {
        theta.clone()
    };
    adam_moments_t(&Moments::of(c, t), &theta, &grad, state)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_trajectory;
    use super::super::{OptimizerConfig, OptimizerKind};

    // Reference numbers: torch.optim.AdamW's documented algorithm in float64 (θ ← θ − γλθ;
    // m, v as Adam; θ ← θ − γ m̂ / (√v̂ + ε)), computed by a standalone script.

    fn adamw(lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(OptimizerKind::AdamW, lr)
    }

    #[test]
    fn default_decay() {
        check_trajectory(
            &adamw(0.1),
            &[
                [0.5994999995, -1.09899999975, 2.0979999990000002],
                [0.6984911569840342, -1.1974945341427565, 2.1955012588782106],
                [0.7966281640019834, -1.2951411958670072, 2.292167129313119],
                [0.8935007094487304, -1.391533553247221, 2.3875988601770213],
            ],
        );
    }

    #[test]
    fn strong_decay_betas_eps() {
        check_trajectory(
            &adamw(0.1)
                .with("weight_decay", 0.5)
                .with("beta1", 0.8)
                .with("beta2", 0.99)
                .with("eps", 1e-3),
            &[
                [0.5749500249875062, -1.0499750062484379, 1.9999000999000998],
                [0.6456623481157472, -1.0971460525026204, 1.9998057290346474],
                [0.7120162539672894, -1.1414575758338934, 1.9997169170764761],
                [0.7739015347455924, -1.1828678641909576, 1.9996336525627048],
            ],
        );
    }

    #[test]
    fn without_decay_it_is_adam() {
        let plain = adamw(0.1).with("weight_decay", 0.0);
        let adam = OptimizerConfig::new(OptimizerKind::Adam, 0.1);
        let a = super::super::testing::fused_trajectory(&plain, 5);
        let b = super::super::testing::fused_trajectory(&adam, 5);
        assert_eq!(a, b);
    }
}
