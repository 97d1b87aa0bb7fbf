//! `torch.optim.Adagrad`: per-weight learning rates from the sum of squared gradients, with
//! torch's learning-rate decay `lr / (1 + (t-1)·lr_decay)` and a start value of the sum.

use candle_core::{Result as CandleResult, Tensor};

use super::adam::{never_stateless, no_rules};
use super::hyper::{Hyper, HyperValue, Range, EPS, WEIGHT_DECAY};
use super::ops::{f, l2_t};
use super::{Algorithm, OptimizerConfig};

/// Adagrad's learning-rate decay.
pub(super) const LR_DECAY: Hyper = Hyper::float(
    "lr_decay",
    "learning-rate decay: step t uses lr / (1 + (t-1)·lr_decay)",
    0.0,
    Range::NonNegative,
);

/// The value Adagrad's sum of squared gradients starts from.
pub(super) const INITIAL_ACCUMULATOR_VALUE: Hyper = Hyper::float(
    "initial_accumulator_value",
    "start value of the sum of squared gradients",
    0.0,
    Range::NonNegative,
);

/// Adagrad's declaration.
pub(super) const ALGORITHM: Algorithm = Algorithm {
    name: "adagrad",
    aliases: &[],
    summary: "Adagrad: per-weight rates from the sum of squared gradients",
    hypers: &[
        (&LR_DECAY, HyperValue::Float(0.0)),
        (&WEIGHT_DECAY, HyperValue::Float(0.0)),
        (&INITIAL_ACCUMULATOR_VALUE, HyperValue::Float(0.0)),
        (&EPS, HyperValue::Float(1e-10)),
    ],
    check: no_rules,
    state,
    stateless_lr: never_stateless,
    fused,
    reference,
};

/// `state_sum`, from `initial_accumulator_value`.
fn state(c: &OptimizerConfig) -> Vec<f32> {
    vec![f(c.float(&INITIAL_ACCUMULATOR_VALUE))]
}

/// `clr = lr / (1 + (t - 1)·lr_decay)`, in f64 on the host as torch computes it.
fn clr(c: &OptimizerConfig, t: u64) -> f64 {
    c.lr / (1.0 + (t - 1) as f64 * c.float(&LR_DECAY))
}

fn fused(c: &OptimizerConfig, t: u64, theta: &mut [f32], grad: &[f32], state: &mut [Vec<f32>]) {
    let [state_sum] = state else {
        unreachable!("adagrad keeps one state buffer")
    };
    let decay = c.float(&WEIGHT_DECAY) != 0.0;
    let wd = f(c.float(&WEIGHT_DECAY));
    let eps = f(c.float(&EPS));
    let clr = f(clr(c, t));
    for ((p, &g), s) in theta.iter_mut().zip(grad).zip(state_sum.iter_mut()) {
        let g = if decay { g + *p * wd } else { g };
        // torch: state_sum.addcmul_(grad, grad, value=1); std = state_sum.sqrt().add_(eps);
        // param.addcdiv_(grad, std, value=-clr).
        let sum = *s + g * g;
        *s = sum;
        *p -= g * clr / (sum.sqrt() + eps);
    }
}

fn reference(
    c: &OptimizerConfig,
    t: u64,
    theta: &Tensor,
    grad: Tensor,
    state: &mut [Option<Tensor>],
) -> CandleResult<Tensor> {
    let [state_sum] = state else {
        unreachable!("adagrad keeps one state buffer")
    };
    let g = l2_t(grad, theta, c.float(&WEIGHT_DECAY))?;
    let start = match state_sum.take() {
        Some(s) => s,
        None => g
            .zeros_like()?
            .affine(1.0, c.float(&INITIAL_ACCUMULATOR_VALUE))?,
    };
    let sum = start.add(&g.mul(&g)?)?;
    let std = sum.sqrt()?.affine(1.0, c.float(&EPS))?;
    let next = theta.sub(&g.affine(clr(c, t), 0.0)?.div(&std)?)?;
    *state_sum = Some(sum);
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_trajectory;
    use super::super::{OptimizerConfig, OptimizerKind};

    // Reference numbers: torch.optim.Adagrad's documented algorithm in float64
    // (γ̃ = γ / (1 + (t−1)η); g ← g + λθ; sum ← sum + g²; θ ← θ − γ̃ g / (√sum + ε), from
    // sum = τ), computed by a standalone script.

    fn adagrad(lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(OptimizerKind::Adagrad, lr)
    }

    #[test]
    fn plain() {
        check_trajectory(
            &adagrad(0.1),
            &[
                [0.599999999995, -1.0999999999975, 2.09999999999],
                [0.6668964731549641, -1.1668964731586047, 2.166896473147683],
                [0.7195438186431902, -1.2195438186475436, 2.2195438186344836],
            ],
        );
    }

    #[test]
    fn decay_accumulator_eps() {
        check_trajectory(
            &adagrad(0.1)
                .with("lr_decay", 0.5)
                .with("weight_decay", 0.1)
                .with("initial_accumulator_value", 0.2)
                .with("eps", 1e-3),
            &[
                [0.597420850314511, -1.0993236496159708, 2.0871920217991846],
                [0.6412316450078006, -1.1436301531099688, 2.127770842799212],
                [0.6676546432786924, -1.1702823536289264, 2.1525316354549036],
            ],
        );
    }
}
