//! `torch.optim.SGD` (dampening 0): plain, with momentum, or Nesterov momentum.

use candle_core::{Result as CandleResult, Tensor};

use super::hyper::{HyperValue, MOMENTUM, NESTEROV, WEIGHT_DECAY};
use super::ops::{f, l2_t};
use super::{Algorithm, OptimizerConfig};
use crate::error::ModelError;

/// SGD's declaration.
pub(super) const ALGORITHM: Algorithm = Algorithm {
    name: "sgd",
    aliases: &[],
    summary: "stochastic gradient descent, optionally with (Nesterov) momentum",
    hypers: &[
        (&MOMENTUM, HyperValue::Float(0.0)),
        (&WEIGHT_DECAY, HyperValue::Float(0.0)),
        (&NESTEROV, HyperValue::Bool(false)),
    ],
    check,
    state,
    stateless_lr,
    fused,
    reference,
};

fn check(c: &OptimizerConfig) -> Result<(), ModelError> {
    if c.flag(&NESTEROV) && c.float(&MOMENTUM) == 0.0 {
        return Err(ModelError::InvalidValue {
            field: "nesterov",
            value: "true".into(),
            expected: "nesterov only with optimizer sgd and momentum > 0",
        });
    }
    Ok(())
}

/// The momentum buffer, when there is momentum.
fn state(c: &OptimizerConfig) -> Vec<f32> {
    if c.float(&MOMENTUM) == 0.0 {
        Vec::new()
    } else {
        vec![0.0]
    }
}

fn stateless_lr(c: &OptimizerConfig) -> Option<f64> {
    (c.float(&MOMENTUM) == 0.0 && c.float(&WEIGHT_DECAY) == 0.0).then_some(c.lr)
}

fn fused(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]) {
    let lr = f(c.lr);
    let decay = c.float(&WEIGHT_DECAY) != 0.0;
    let wd = f(c.float(&WEIGHT_DECAY));
    let [buf] = state else {
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
    };
    let mu = f(c.float(&MOMENTUM));
    let first = t == 1;
    let nesterov = c.flag(&NESTEROV);
    for ((p, &g), b) in theta.iter_mut().zip(grad).zip(buf.iter_mut()) {
        let g = if decay { g + *p * wd } else { g };
        let nb = if first { g } else { *b * mu + g };
        *b = nb;
        let d = if nesterov { g + nb * mu } else { nb };
        *p -= d * lr;
    }
}

fn reference(
    c: &OptimizerConfig,
    _t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let mut g = l2_t(grad, theta, c.float(&WEIGHT_DECAY))?;
    if let [momentum] = state {
        let mu = c.float(&MOMENTUM);
        // b_1 = g_1 (torch clones the gradient; tensors are never mutated here, so sharing
        // the storage is equivalent); b_t = μ b_{t-1} + g_t.
        let buf = match momentum.take() {
            None => g.clone(),
            Some(b) => b.affine(mu, 0.0)?.add(&g)?,
        };
        g = if c.flag(&NESTEROV) {
            g.add(&buf.affine(mu, 0.0)?)?
        } else {
            buf.clone()
        };
        *momentum = Some(buf);
    }
    theta.sub(&g.affine(c.lr, 0.0)?)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_trajectory;
    use super::super::{OptimizerConfig, OptimizerKind};

    // Reference trajectories: see `testing.rs` for the quadratic and how they were computed.

    fn sgd(lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(OptimizerKind::Sgd, lr)
    }

    #[test]
    fn plain() {
        check_trajectory(
            &sgd(0.1),
            &[
                [0.7, -1.4, 2.1],
                [0.86, -1.64, 2.19],
                [0.988, -1.784, 2.271],
            ],
        );
    }

    #[test]
    fn momentum() {
        check_trajectory(
            &sgd(0.1).with("momentum", 0.9),
            &[
                [0.7, -1.4, 2.1],
                [1.04, -2.0, 2.2800000000000002],
                [1.4380000000000002, -2.54, 2.5140000000000002],
            ],
        );
    }

    #[test]
    fn nesterov() {
        check_trajectory(
            &sgd(0.1).with("momentum", 0.9).with("nesterov", true),
            &[
                [0.88, -1.76, 2.19],
                [1.2776, -2.2664, 2.4249],
                [1.608352, -2.433296, 2.672679],
            ],
        );
    }

    #[test]
    fn weight_decay() {
        check_trajectory(
            &sgd(0.1).with("weight_decay", 0.1),
            &[
                [0.6950000000000001, -1.3900000000000001, 2.08],
                [0.8490500000000001, -1.6201, 2.1512000000000002],
                [0.9707495, -1.755859, 2.2145680000000003],
            ],
        );
    }

    #[test]
    fn nesterov_weight_decay() {
        check_trajectory(
            &sgd(0.05)
                .with("momentum", 0.8)
                .with("nesterov", true)
                .with("weight_decay", 0.01),
            &[
                [0.67955, -1.3591, 2.0882],
                [0.8904594050000001, -1.71628081, 2.19974262],
                [1.1027386426355001, -2.000619353671, 2.323383391842],
            ],
        );
    }
}
