//! Test support shared by the optimizer modules: a small quadratic, its trajectories through
//! the reference and the fused update, and a set of configurations covering every algorithm.
//!
//! Reference trajectories in the modules' tests are for L(w) = sum(c (w - s)²) with
//! w0 = [0.5, -1, 2], c = [1, 2, 0.5], s = [1.5, -2, 3], i.e. g = 2c(w - s). They were computed
//! in float64 by a standalone script that implements each update rule exactly as written in
//! the torch.optim documentation's pseudo-code (m̂ = m/(1-β1^t), v̂ = v/(1-β2^t),
//! θ -= lr m̂/(√v̂ + eps), etc.), independently of these modules.

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};

use super::{OptimizerConfig, OptimizerKind, ReferenceOptimizer};
use crate::fused::FusedOptimizer;

/// Start point of the quadratic.
pub(super) const W0: [f32; 3] = [0.5, -1.0, 2.0];
const C: [f32; 3] = [1.0, 2.0, 0.5];
const S: [f32; 3] = [1.5, -2.0, 3.0];

/// Gradients of L(w) = sum(c · (w - s)²) by candle's backward pass.
pub(super) fn quadratic_grads(w: &Var) -> GradStore {
    let dev = Device::Cpu;
    let c = Tensor::new(&C, &dev).unwrap();
    let s = Tensor::new(&S, &dev).unwrap();
    let loss = w
        .as_tensor()
        .sub(&s)
        .unwrap()
        .sqr()
        .unwrap()
        .mul(&c)
        .unwrap()
        .sum_all()
        .unwrap();
    loss.backward().unwrap()
}

/// `steps` reference steps on the quadratic from W0: w after each step.
pub(super) fn reference_trajectory(config: &OptimizerConfig, steps: usize) -> Vec<Vec<f32>> {
    let w = Var::new(&W0, &Device::Cpu).unwrap();
    let mut opt = ReferenceOptimizer::new(config, vec![w.clone()]).unwrap();
    (0..steps)
        .map(|_| {
            opt.step(&quadratic_grads(&w)).unwrap();
            w.as_tensor().to_vec1::<f32>().unwrap()
        })
        .collect()
}

/// The same steps through [`FusedOptimizer`], with the gradient computed in f32 by hand.
pub(super) fn fused_trajectory(config: &OptimizerConfig, steps: usize) -> Vec<Vec<f32>> {
    let mut w = W0.to_vec();
    let mut opt = FusedOptimizer::new(config, &[3]);
    (0..steps)
        .map(|_| {
            let g: Vec<f32> = (0..3).map(|i| 2.0 * C[i] * (w[i] - S[i])).collect();
            opt.step(&mut w, &g);
            w.clone()
        })
        .collect()
}

/// Asserts both trajectories are within 1e-6 relative of the (f64) reference numbers.
pub(super) fn check_trajectory(config: &OptimizerConfig, expected: &[[f64; 3]]) {
    for (path, got) in [
        ("reference", reference_trajectory(config, expected.len())),
        ("fused", fused_trajectory(config, expected.len())),
    ] {
        for (step, (g, e)) in got.iter().zip(expected).enumerate() {
            for (i, (&gv, &ev)) in g.iter().zip(e).enumerate() {
                let err = (f64::from(gv) - ev).abs();
                assert!(
                    err <= 1e-6 * ev.abs(),
                    "{path} step {} element {i}: got {gv}, expected {ev} (rel err {:e})",
                    step + 1,
                    err / ev.abs()
                );
            }
        }
    }
}

/// One configuration per algorithm and its stateful variants.
pub(super) fn all_configs() -> Vec<OptimizerConfig> {
    let c = OptimizerConfig::new;
    // Adagrad's rates only shrink: it needs a larger lr to converge as fast.
    let lr = |k: OptimizerKind| {
        if k == OptimizerKind::Adagrad {
            0.5
        } else {
            0.05
        }
    };
    let mut configs: Vec<_> = OptimizerKind::ALL.iter().map(|k| c(*k, lr(*k))).collect();
    configs.push(
        c(OptimizerKind::Sgd, 0.05)
            .with("momentum", 0.9)
            .with("nesterov", true)
            .with("weight_decay", 1e-4),
    );
    configs.push(
        c(OptimizerKind::Rmsprop, 0.01)
            .with("momentum", 0.5)
            .with("centered", true)
            .with("weight_decay", 0.1),
    );
    configs.push(c(OptimizerKind::Adam, 0.05).with("weight_decay", 1e-3));
    configs.push(
        c(OptimizerKind::Adagrad, 0.5)
            .with("lr_decay", 0.01)
            .with("initial_accumulator_value", 0.1),
    );
    configs
}
