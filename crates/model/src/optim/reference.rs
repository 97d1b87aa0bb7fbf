//! [`ReferenceOptimizer`]: the optimizers on candle [`Var`]s, the reference the fused engine
//! is tested against.
//!
//! A parameter whose gradient is missing from the [`GradStore`] is skipped entirely (value,
//! state and its own step count untouched), as torch skips `p.grad is None`. State tensors are
//! plain, detached tensors (gradients are detached on entry), so the optimizer never builds an
//! autograd graph; parameters are updated in place with [`Var::set`].

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::OptimizerConfig;
use crate::error::ModelError;

/// Per-parameter state, created lazily on the parameter's first gradient (as torch does).
#[derive(Debug)]
struct ParamState {
    /// Updates applied to this parameter (torch's per-parameter `state["step"]`).
    step: u64,
    /// The algorithm's state buffers, `None` until the first update.
    buffers: Vec<Option<Tensor>>,
}

/// A `torch.optim`-compatible optimizer over a fixed list of candle parameters.
#[derive(Debug)]
pub struct ReferenceOptimizer {
    config: OptimizerConfig,
    params: Vec<Var>,
    states: Vec<ParamState>,
    steps: usize,
}

impl ReferenceOptimizer {
    /// Builds the optimizer for these parameters; validates nothing beyond what it needs
    /// (floating-point parameters; `RunConfig::validate` checks the hyper-parameters).
    pub fn new(config: &OptimizerConfig, params: Vec<Var>) -> Result<Self, ModelError> {
        if let Some(p) = params.iter().find(|p| !p.dtype().is_float()) {
            return Err(ModelError::InvalidValue {
                field: "params",
                value: format!("{:?}", p.dtype()),
                expected: "floating-point parameters",
            });
        }
        let buffers = (config.algorithm().state)(config).len();
        let states = params
            .iter()
            .map(|_| ParamState {
                step: 0,
                buffers: vec![None; buffers],
            })
            .collect();
        Ok(Self {
            config: config.clone(),
            params,
            states,
            steps: 0,
        })
    }

    /// One update from the gradients of the last backward pass; a parameter without a
    /// gradient is skipped (as torch does for grad None).
    pub fn step(&mut self, grads: &GradStore) -> Result<(), ModelError> {
        self.steps += 1;
        let update = self.config.algorithm().reference;
        for (var, state) in self.params.iter().zip(self.states.iter_mut()) {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            if var.elem_count() == 0 {
                continue;
            }
            // Gradients of leaf variables can still reference the graph (e.g. d(w²)/dw = 2w
            // keeps `w`); detaching is free and keeps every state tensor graph-free.
            let grad = grad.detach();
            let theta = var.as_detached_tensor();
            state.step += 1;
            let next = update(&self.config, state.step, &theta, grad, &mut state.buffers)?;
            var.set(&next)?;
        }
        Ok(())
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

    /// The parameters, in the order given.
    pub fn params(&self) -> &[Var] {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{all_configs, quadratic_grads, W0};
    use super::super::{OptimizerConfig, OptimizerKind};
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn missing_gradient_leaves_parameter_and_state_unchanged() {
        let dev = Device::Cpu;
        for config in all_configs() {
            let a = Var::new(&[1.0f32, -2.0], &dev).unwrap();
            let b = Var::new(&[0.25f32, 3.0, -0.5], &dev).unwrap();
            let mut opt = ReferenceOptimizer::new(&config, vec![a.clone(), b.clone()]).unwrap();
            // The same parameter stepped alone, for comparison.
            let b_alone = Var::new(&[0.25f32, 3.0, -0.5], &dev).unwrap();
            let mut opt_alone = ReferenceOptimizer::new(&config, vec![b_alone.clone()]).unwrap();
            let grad_a = Tensor::new(&[0.5f32, -1.0], &dev).unwrap();
            let grad_b = |k: f32| Tensor::new(&[k, -2.0 * k, 0.3], &dev).unwrap();

            let mut both = GradStore::default();
            both.insert(a.as_tensor(), grad_a.clone());
            both.insert(b.as_tensor(), grad_b(1.0));
            opt.step(&both).unwrap();
            let mut alone = GradStore::default();
            alone.insert(b_alone.as_tensor(), grad_b(1.0));
            opt_alone.step(&alone).unwrap();

            // Step 2: only `a` has a gradient; `b` must be bit-identical afterwards.
            let before = b.as_tensor().to_vec1::<f32>().unwrap();
            let mut only_a = GradStore::default();
            only_a.insert(a.as_tensor(), grad_a.clone());
            opt.step(&only_a).unwrap();
            assert_eq!(
                b.as_tensor().to_vec1::<f32>().unwrap(),
                before,
                "{config:?}"
            );
            assert_eq!(opt.steps(), 2);

            // Step 3: `b`'s state (momentum buffers, Adam's own step count) was not advanced
            // by step 2, so it matches a second step of `b` alone exactly.
            let mut both = GradStore::default();
            both.insert(a.as_tensor(), grad_a.clone());
            both.insert(b.as_tensor(), grad_b(-0.7));
            opt.step(&both).unwrap();
            let mut alone = GradStore::default();
            alone.insert(b_alone.as_tensor(), grad_b(-0.7));
            opt_alone.step(&alone).unwrap();
            assert_eq!(
                b.as_tensor().to_vec1::<f32>().unwrap(),
                b_alone.as_tensor().to_vec1::<f32>().unwrap(),
                "{config:?}"
            );
            assert_eq!(opt.steps(), 3);
        }
    }

    #[test]
    fn empty_store_changes_nothing() {
        let w = Var::new(&W0, &Device::Cpu).unwrap();
        let adam = OptimizerConfig::new(OptimizerKind::Adam, 0.1);
        let mut opt = ReferenceOptimizer::new(&adam, vec![w.clone()]).unwrap();
        opt.step(&GradStore::default()).unwrap();
        assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), W0.to_vec());
        assert_eq!(opt.steps(), 1);
        assert_eq!(opt.params().len(), 1);
        assert_eq!(opt.params()[0].as_tensor().id(), w.as_tensor().id());
    }

    #[test]
    fn state_is_detached() {
        for config in all_configs() {
            let w = Var::new(&W0, &Device::Cpu).unwrap();
            let mut opt = ReferenceOptimizer::new(&config, vec![w.clone()]).unwrap();
            for _ in 0..3 {
                // The gradient of (w - s)² references `w`, so it carries graph.
                opt.step(&quadratic_grads(&w)).unwrap();
            }
            for t in opt.states[0].buffers.iter().flatten() {
                assert!(!t.track_op(), "{config:?}: state tracks the graph");
            }
            assert!(opt.params()[0].as_tensor().is_variable());
        }
    }

    #[test]
    fn rejects_integer_parameters() {
        let v = Var::zeros(3, DType::U32, &Device::Cpu).unwrap();
        let sgd = OptimizerConfig::new(OptimizerKind::Sgd, 0.1);
        let err = ReferenceOptimizer::new(&sgd, vec![v]).unwrap_err();
        assert!(matches!(
            err,
            ModelError::InvalidValue {
                field: "params",
                ..
            }
        ));
    }

    /// Mean squared error of a small linear regression y = X w + b (exact solution exists).
    fn regression_loss(x: &Tensor, y: &Tensor, w: &Var, b: &Var) -> Tensor {
        let pred = x
            .matmul(w.as_tensor())
            .unwrap()
            .broadcast_add(b.as_tensor())
            .unwrap();
        pred.sub(y).unwrap().sqr().unwrap().mean_all().unwrap()
    }

    #[test]
    fn two_hundred_steps_reduce_the_loss() {
        let dev = Device::Cpu;
        let xs: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let x = Tensor::from_vec(xs, (8, 3), &dev).unwrap();
        let w_true = Tensor::new(&[[1.5f32], [-0.5], [0.25]], &dev).unwrap();
        let y = x.matmul(&w_true).unwrap().affine(1.0, 0.3).unwrap();
        for config in all_configs() {
            let w = Var::zeros((3, 1), DType::F32, &dev).unwrap();
            let b = Var::zeros(1, DType::F32, &dev).unwrap();
            let mut opt = ReferenceOptimizer::new(&config, vec![w.clone(), b.clone()]).unwrap();
            let initial = regression_loss(&x, &y, &w, &b).to_scalar::<f32>().unwrap();
            for _ in 0..200 {
                let loss = regression_loss(&x, &y, &w, &b);
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            let last = regression_loss(&x, &y, &w, &b).to_scalar::<f32>().unwrap();
            assert_eq!(opt.steps(), 200);
            assert!(
                last.is_finite() && last < 0.01 * initial,
                "{config:?}: loss {initial} -> {last}"
            );
        }
    }
}
