//! `torch.optim.Adam` (amsgrad off) with L2 weight decay added to the gradient.

use candle_core::{Result as CandleResult, Tensor};

use super::hyper::{HyperValue, BETA1, BETA2, EPS, WEIGHT_DECAY};
use super::ops::{adam_moments, adam_moments_t, f, l2_t, Moments};
use super::{Algorithm, OptimizerConfig};
use crate::error::ModelError;

/// Adam's declaration.
pub(super) const ALGORITHM: Algorithm = Algorithm {
    name: "adam",
    aliases: &[],
    summary: "Adam; weight decay is an L2 term added to the gradient",
    hypers: &[
        (&BETA1, HyperValue::Float(0.9)),
        (&BETA2, HyperValue::Float(0.999)),
        (&EPS, HyperValue::Float(1e-8)),
        (&WEIGHT_DECAY, HyperValue::Float(0.0)),
    ],
    check: no_rules,
    state: two_moments,
    stateless_lr: never_stateless,
    fused,
    reference,
};

/// No rule across hyper-parameters.
pub(super) fn no_rules(_: &OptimizerConfig) -> Result<(), ModelError> {
    Ok(())
}

/// `exp_avg` and `exp_avg_sq`, from zero.
pub(super) fn two_moments(_: &OptimizerConfig) -> Vec<f32> {
    vec![0.0, 0.0]
}

/// An update that always keeps state.
pub(super) fn never_stateless(_: &OptimizerConfig) -> Option<f64> {
    None
}

fn fused(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]) {
    let [exp_avg, exp_avg_sq] = state else {
        unreachable!("adam keeps two state buffers")
    };
    let wd = c.float(&WEIGHT_DECAY);
    let l2 = (wd != 0.0).then_some(f(wd));
    adam_moments(&Moments::of(c, t), theta, grad, l2, exp_avg, exp_avg_sq);
}

fn reference(
    c: &OptimizerConfig,
    t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let g = l2_t(grad, theta, c.float(&WEIGHT_DECAY))?;
    adam_moments_t(&Moments::of(c, t), theta, &g, state)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_trajectory;
    use super::super::{OptimizerConfig, OptimizerKind};

    fn adam(lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(OptimizerKind::Adam, lr)
    }

    #[test]
    fn plain() {
        // Step 1 moves every weight by exactly lr: the bias corrections at work.
        check_trajectory(
            &adam(0.1),
            &[
                [0.5999999995, -1.09999999975, 2.099999999],
                [0.6995877713082072, -1.1995877718184798, 2.199587770287662],
                [0.7984137270539697, -1.298413727833162, 2.298413725495585],
                [0.896060939426254, -1.3960609404804347, 2.396060937317892],
            ],
        );
    }

    #[test]
    fn weight_decay() {
        check_trajectory(
            &adam(0.1).with("weight_decay", 0.3),
            &[
                [0.5999999994594595, -1.0999999997297296, 2.0999999975],
                [0.6994362437762265, -1.1994892149615912, 2.197175728984897],
                [0.7977985421560679, -1.29801530003487, 2.28740660102633],
                [0.8944491326273559, -1.3950215203613128, 2.3642600794227984],
            ],
        );
    }

    #[test]
    fn betas_eps() {
        check_trajectory(
            &adam(0.1)
                .with("beta1", 0.8)
                .with("beta2", 0.99)
                .with("eps", 1e-3),
            &[
                [0.5999500249875063, -1.099975006248438, 2.0999000999001],
                [0.6992022752906215, -1.199253119717646, 2.1991006661670958],
                [0.797189175167077, -1.2972664652886718, 2.2970347214018103],
                [0.8932599729286281, -1.3933638645834834, 2.3930523662719225],
            ],
        );
    }
}
