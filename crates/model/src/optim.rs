//! PyTorch-exact SGD, Adam and RMSprop on candle [`Var`]s.
//!
//! Each algorithm follows the single-tensor (`foreach=False`) code path of `torch.optim`
//! operation for operation, so that f32 results agree with PyTorch to rounding:
//!
//! * state is created lazily on a parameter's first gradient, and a parameter whose gradient
//!   is missing from the [`GradStore`] is skipped entirely (value, state and its own step count
//!   untouched), as torch skips `p.grad is None`;
//! * Adam's bias corrections use the parameter's own step count, computed in f64 on the host,
//!   in torch's form `step_size = lr / (1 - β1^t)`, `denom = √v / √(1 - β2^t) + eps`;
//! * moving averages use torch's `lerp_` form `m + w (g - m)`;
//! * weight decay is the L2 term `g + λθ` added to the gradient (not AdamW's decoupled decay).
//!
//! State tensors are plain, detached tensors (gradients are detached on entry), so the
//! optimizer never builds an autograd graph; parameters are updated in place with [`Var::set`].

use candle_core::backprop::GradStore;
use candle_core::{Result as CandleResult, Tensor, Var};

use crate::config::{OptimizerConfig, OptimizerKind};
use crate::error::ModelError;

/// Per-parameter state, created lazily on the parameter's first gradient (as torch does).
#[derive(Debug, Default)]
struct ParamState {
    /// Updates applied to this parameter (torch's per-parameter `state["step"]`).
    step: u64,
    /// SGD's or RMSprop's `momentum_buffer`.
    momentum: Option<Tensor>,
    /// Adam's `exp_avg`.
    exp_avg: Option<Tensor>,
    /// Adam's `exp_avg_sq` / RMSprop's `square_avg`.
    sq_avg: Option<Tensor>,
    /// Centered RMSprop's `grad_avg`.
    grad_avg: Option<Tensor>,
}

/// A `torch.optim`-compatible optimizer (SGD, Adam or RMSprop) over a fixed list of parameters.
#[derive(Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    params: Vec<Var>,
    states: Vec<ParamState>,
    steps: usize,
}

impl Optimizer {
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
        let states = params.iter().map(|_| ParamState::default()).collect();
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
        let config = &self.config;
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
            let next = match config.kind {
                OptimizerKind::Sgd => sgd_update(config, state, &theta, grad)?,
                OptimizerKind::Adam => adam_update(config, state, &theta, grad)?,
                OptimizerKind::Rmsprop => rmsprop_update(config, state, &theta, grad)?,
            };
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

/// `g + λθ` (torch: `grad.add(param, alpha=weight_decay)`), or `g` itself when λ = 0.
fn with_weight_decay(grad: Tensor, theta: &Tensor, weight_decay: f64) -> CandleResult<Tensor> {
    if weight_decay == 0.0 {
        Ok(grad)
    } else {
        grad.add(&theta.affine(weight_decay, 0.0)?)
    }
}

/// torch's `start.lerp(end, weight)`, with its two branches for numerical accuracy.
fn lerp(start: &Tensor, end: &Tensor, weight: f64) -> CandleResult<Tensor> {
    let diff = end.sub(start)?;
    if weight < 0.5 {
        start.add(&diff.affine(weight, 0.0)?)
    } else {
        end.sub(&diff.affine(1.0 - weight, 0.0)?)
    }
}

/// `β avg + (1-β) g·g` (torch: `avg.mul_(β).addcmul_(g, g, value=1-β)`), starting from 0.
fn update_sq_avg(avg: Option<Tensor>, grad: &Tensor, beta: f64) -> CandleResult<Tensor> {
    let term = grad.affine(1.0 - beta, 0.0)?.mul(grad)?;
    match avg {
        None => Ok(term),
        Some(avg) => avg.affine(beta, 0.0)?.add(&term),
    }
}

/// `torch.optim.SGD` (dampening 0): returns the new parameter value.
fn sgd_update(
    config: &OptimizerConfig,
    state: &mut ParamState,
    theta: &Tensor,
    grad: Tensor,
) -> CandleResult<Tensor> {
    let mut g = with_weight_decay(grad, theta, config.weight_decay)?;
    let mu = config.momentum;
    if mu != 0.0 {
        // b_1 = g_1 (torch clones the gradient; tensors are never mutated here, so sharing
        // the storage is equivalent); b_t = μ b_{t-1} + g_t.
        let buf = match state.momentum.take() {
            None => g.clone(),
            Some(b) => b.affine(mu, 0.0)?.add(&g)?,
        };
        g = if config.nesterov {
            g.add(&buf.affine(mu, 0.0)?)?
        } else {
            buf.clone()
        };
        state.momentum = Some(buf);
    }
    theta.sub(&g.affine(config.lr, 0.0)?)
}

/// `torch.optim.Adam` (amsgrad off, L2 weight decay): returns the new parameter value.
fn adam_update(
    config: &OptimizerConfig,
    state: &mut ParamState,
    theta: &Tensor,
    grad: Tensor,
) -> CandleResult<Tensor> {
    let (beta1, beta2) = config.betas;
    let g = with_weight_decay(grad, theta, config.weight_decay)?;
    let m = match state.exp_avg.take() {
        // lerp from zero: 0 + (1-β1)(g - 0), exactly.
        None => g.affine(1.0 - beta1, 0.0)?,
        Some(m) => lerp(&m, &g, 1.0 - beta1)?,
    };
    let v = update_sq_avg(state.sq_avg.take(), &g, beta2)?;
    // Bias corrections on the host, in f64, as torch does with a Python-float step.
    let t = state.step as f64;
    let bias_correction1 = 1.0 - beta1.powf(t);
    let bias_correction2 = 1.0 - beta2.powf(t);
    let step_size = config.lr / bias_correction1;
    let denom = v
        .sqrt()?
        .affine(1.0 / bias_correction2.sqrt(), config.eps)?;
    // torch: param.addcdiv_(exp_avg, denom, value=-step_size).
    let next = theta.sub(&m.affine(step_size, 0.0)?.div(&denom)?)?;
    state.exp_avg = Some(m);
    state.sq_avg = Some(v);
    Ok(next)
}

/// `torch.optim.RMSprop`: returns the new parameter value.
fn rmsprop_update(
    config: &OptimizerConfig,
    state: &mut ParamState,
    theta: &Tensor,
    grad: Tensor,
) -> CandleResult<Tensor> {
    let alpha = config.alpha;
    let g = with_weight_decay(grad, theta, config.weight_decay)?;
    let v = update_sq_avg(state.sq_avg.take(), &g, alpha)?;
    let avg = if config.centered {
        let g_avg = match state.grad_avg.take() {
            None => g.affine(1.0 - alpha, 0.0)?,
            Some(a) => lerp(&a, &g, 1.0 - alpha)?,
        };
        let avg = v.sub(&g_avg.sqr()?)?.sqrt()?;
        state.grad_avg = Some(g_avg);
        avg
    } else {
        v.sqrt()?
    };
    // eps outside the square root, as torch.
    let avg = avg.affine(1.0, config.eps)?;
    state.sq_avg = Some(v);
    let mu = config.momentum;
    if mu > 0.0 {
        // torch: buf.mul_(μ).addcdiv_(g, avg); param.add_(buf, alpha=-lr). From b = 0.
        let step = g.div(&avg)?;
        let buf = match state.momentum.take() {
            None => step,
            Some(b) => b.affine(mu, 0.0)?.add(&step)?,
        };
        let next = theta.sub(&buf.affine(config.lr, 0.0)?)?;
        state.momentum = Some(buf);
        Ok(next)
    } else {
        // torch: param.addcdiv_(g, avg, value=-lr).
        theta.sub(&g.affine(config.lr, 0.0)?.div(&avg)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    const W0: [f32; 3] = [0.5, -1.0, 2.0];
    const C: [f32; 3] = [1.0, 2.0, 0.5];
    const S: [f32; 3] = [1.5, -2.0, 3.0];

    fn cfg(kind: OptimizerKind, lr: f64) -> OptimizerConfig {
        OptimizerConfig::new(kind, lr)
    }

    /// Gradients of L(w) = sum(c · (w - s)²) by candle's backward pass.
    fn quadratic_grads(w: &Var) -> GradStore {
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

    /// Runs `steps` steps on the quadratic from W0 and returns w after each step.
    fn trajectory(config: &OptimizerConfig, steps: usize) -> Vec<Vec<f32>> {
        let w = Var::new(&W0, &Device::Cpu).unwrap();
        let mut opt = Optimizer::new(config, vec![w.clone()]).unwrap();
        (0..steps)
            .map(|_| {
                let grads = quadratic_grads(&w);
                opt.step(&grads).unwrap();
                w.as_tensor().to_vec1::<f32>().unwrap()
            })
            .collect()
    }

    /// Asserts every value is within 1e-6 relative of the (f64) reference.
    fn assert_close(got: &[Vec<f32>], expected: &[[f64; 3]]) {
        assert_eq!(got.len(), expected.len());
        for (step, (g, e)) in got.iter().zip(expected).enumerate() {
            for (i, (&gv, &ev)) in g.iter().zip(e).enumerate() {
                let err = (f64::from(gv) - ev).abs();
                assert!(
                    err <= 1e-6 * ev.abs(),
                    "step {} element {i}: got {gv}, expected {ev} (rel err {:e})",
                    step + 1,
                    err / ev.abs()
                );
            }
        }
    }

    // Reference trajectories below: L(w) = sum(c (w - s)²) with w0 = [0.5, -1, 2],
    // c = [1, 2, 0.5], s = [1.5, -2, 3], i.e. g = 2c(w - s). They were computed in float64
    // with numpy by a standalone script that implements the update rules exactly as written
    // in the torch.optim.SGD / Adam / RMSprop documentation pseudo-code (m̂ = m/(1-β1^t),
    // v̂ = v/(1-β2^t), θ -= lr m̂/(√v̂ + eps), etc.), independently of this module.

    #[test]
    fn sgd_plain() {
        assert_close(
            &trajectory(&cfg(OptimizerKind::Sgd, 0.1), 3),
            &[
                [0.7, -1.4, 2.1],
                [0.86, -1.64, 2.19],
                [0.988, -1.784, 2.271],
            ],
        );
    }

    #[test]
    fn sgd_momentum() {
        let mut c = cfg(OptimizerKind::Sgd, 0.1);
        c.momentum = 0.9;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.7, -1.4, 2.1],
                [1.04, -2.0, 2.2800000000000002],
                [1.4380000000000002, -2.54, 2.5140000000000002],
            ],
        );
    }

    #[test]
    fn sgd_nesterov() {
        let mut c = cfg(OptimizerKind::Sgd, 0.1);
        c.momentum = 0.9;
        c.nesterov = true;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.88, -1.76, 2.19],
                [1.2776, -2.2664, 2.4249],
                [1.608352, -2.433296, 2.672679],
            ],
        );
    }

    #[test]
    fn sgd_weight_decay() {
        let mut c = cfg(OptimizerKind::Sgd, 0.1);
        c.weight_decay = 0.1;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.6950000000000001, -1.3900000000000001, 2.08],
                [0.8490500000000001, -1.6201, 2.1512000000000002],
                [0.9707495, -1.755859, 2.2145680000000003],
            ],
        );
    }

    #[test]
    fn sgd_nesterov_weight_decay() {
        let mut c = cfg(OptimizerKind::Sgd, 0.05);
        c.momentum = 0.8;
        c.nesterov = true;
        c.weight_decay = 0.01;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.67955, -1.3591, 2.0882],
                [0.8904594050000001, -1.71628081, 2.19974262],
                [1.1027386426355001, -2.000619353671, 2.323383391842],
            ],
        );
    }

    #[test]
    fn adam_plain() {
        // Step 1 moves every weight by exactly lr: the bias corrections at work.
        assert_close(
            &trajectory(&cfg(OptimizerKind::Adam, 0.1), 4),
            &[
                [0.5999999995, -1.09999999975, 2.099999999],
                [0.6995877713082072, -1.1995877718184798, 2.199587770287662],
                [0.7984137270539697, -1.298413727833162, 2.298413725495585],
                [0.896060939426254, -1.3960609404804347, 2.396060937317892],
            ],
        );
    }

    #[test]
    fn adam_weight_decay() {
        let mut c = cfg(OptimizerKind::Adam, 0.1);
        c.weight_decay = 0.3;
        assert_close(
            &trajectory(&c, 4),
            &[
                [0.5999999994594595, -1.0999999997297296, 2.0999999975],
                [0.6994362437762265, -1.1994892149615912, 2.197175728984897],
                [0.7977985421560679, -1.29801530003487, 2.28740660102633],
                [0.8944491326273559, -1.3950215203613128, 2.3642600794227984],
            ],
        );
    }

    #[test]
    fn adam_betas_eps() {
        let mut c = cfg(OptimizerKind::Adam, 0.1);
        c.betas = (0.8, 0.99);
        c.eps = 1e-3;
        assert_close(
            &trajectory(&c, 4),
            &[
                [0.5999500249875063, -1.099975006248438, 2.0999000999001],
                [0.6992022752906215, -1.199253119717646, 2.1991006661670958],
                [0.797189175167077, -1.2972664652886718, 2.2970347214018103],
                [0.8932599729286281, -1.3933638645834834, 2.3930523662719225],
            ],
        );
    }

    #[test]
    fn rmsprop_plain() {
        assert_close(
            &trajectory(&cfg(OptimizerKind::Rmsprop, 0.01), 3),
            &[
                [0.5999999950000002, -1.0999999975, 2.099999990000001],
                [0.6670820320299669, -1.1670820356774803, 2.167082024734941],
                [0.7200177267563649, -1.2200177311257248, 2.220017718017646],
            ],
        );
    }

    #[test]
    fn rmsprop_alpha_eps() {
        // A large eps shows it is added outside the square root.
        let mut c = cfg(OptimizerKind::Rmsprop, 0.01);
        c.alpha = 0.9;
        c.eps = 0.1;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.5273054118991629, -1.0293059387186756, 2.0240253073352044],
                [0.5475839632521161, -1.0506767895955778, 2.0424256942732097],
                [0.5646886659834611, -1.0685585540891, 2.058166146216658],
            ],
        );
    }

    #[test]
    fn rmsprop_momentum() {
        let mut c = cfg(OptimizerKind::Rmsprop, 0.01);
        c.momentum = 0.9;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.5999999950000002, -1.0999999975, 2.099999990000001],
                [0.7570820275299671, -1.2570820334274804, 2.257082015734942],
                [0.9470850657710376, -1.447085075273761, 2.4470850467655922],
            ],
        );
    }

    #[test]
    fn rmsprop_centered() {
        let mut c = cfg(OptimizerKind::Rmsprop, 0.01);
        c.centered = true;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.6005037764754164, -1.1005037790006686, 2.100503771424912],
                [0.6682406202884552, -1.1682406239841987, 2.1682406128969687],
                [0.7219315892465888, -1.2219315936855555, 2.221931580368656],
            ],
        );
    }

    #[test]
    fn rmsprop_centered_momentum_weight_decay() {
        let mut c = cfg(OptimizerKind::Rmsprop, 0.01);
        c.centered = true;
        c.momentum = 0.5;
        c.weight_decay = 0.1;
        assert_close(
            &trajectory(&c, 3),
            &[
                [0.6005037763459162, -1.1005037789359187, 2.10050376889966],
                [0.7181699557872395, -1.218277896320152, 2.216883989347799],
                [0.8276293150080819, -1.3280143675206888, 2.323006570597878],
            ],
        );
    }

    fn all_configs() -> Vec<OptimizerConfig> {
        let mut sgd = cfg(OptimizerKind::Sgd, 0.05);
        sgd.momentum = 0.9;
        sgd.nesterov = true;
        sgd.weight_decay = 1e-4;
        let mut rms = cfg(OptimizerKind::Rmsprop, 0.01);
        rms.momentum = 0.5;
        rms.centered = true;
        vec![
            cfg(OptimizerKind::Sgd, 0.05),
            sgd,
            cfg(OptimizerKind::Adam, 0.05),
            cfg(OptimizerKind::Rmsprop, 0.01),
            rms,
        ]
    }

    #[test]
    fn missing_gradient_leaves_parameter_and_state_unchanged() {
        let dev = Device::Cpu;
        for config in all_configs() {
            let a = Var::new(&[1.0f32, -2.0], &dev).unwrap();
            let b = Var::new(&[0.25f32, 3.0, -0.5], &dev).unwrap();
            let mut opt = Optimizer::new(&config, vec![a.clone(), b.clone()]).unwrap();
            // The same parameter stepped alone, for comparison.
            let b_alone = Var::new(&[0.25f32, 3.0, -0.5], &dev).unwrap();
            let mut opt_alone = Optimizer::new(&config, vec![b_alone.clone()]).unwrap();
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
        let mut opt = Optimizer::new(&cfg(OptimizerKind::Adam, 0.1), vec![w.clone()]).unwrap();
        opt.step(&GradStore::default()).unwrap();
        assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), W0.to_vec());
        assert_eq!(opt.steps(), 1);
        assert_eq!(opt.params().len(), 1);
        assert_eq!(opt.params()[0].as_tensor().id(), w.as_tensor().id());
    }

    #[test]
    fn state_is_detached() {
        let mut rms = cfg(OptimizerKind::Rmsprop, 0.01);
        rms.momentum = 0.9;
        rms.centered = true;
        rms.weight_decay = 0.1;
        let mut adam = cfg(OptimizerKind::Adam, 0.01);
        adam.weight_decay = 0.1;
        let mut sgd = cfg(OptimizerKind::Sgd, 0.01);
        sgd.momentum = 0.9;
        for config in [rms, adam, sgd] {
            let w = Var::new(&W0, &Device::Cpu).unwrap();
            let mut opt = Optimizer::new(&config, vec![w.clone()]).unwrap();
            for _ in 0..3 {
                // The gradient of (w - s)² references `w`, so it carries graph.
                opt.step(&quadratic_grads(&w)).unwrap();
            }
            let st = &opt.states[0];
            for t in [&st.momentum, &st.exp_avg, &st.sq_avg, &st.grad_avg]
                .into_iter()
                .flatten()
            {
                assert!(!t.track_op(), "{config:?}: state tracks the graph");
            }
            assert!(opt.params()[0].as_tensor().is_variable());
        }
    }

    #[test]
    fn rejects_integer_parameters() {
        let v = Var::zeros(3, DType::U32, &Device::Cpu).unwrap();
        let err = Optimizer::new(&cfg(OptimizerKind::Sgd, 0.1), vec![v]).unwrap_err();
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
            let mut opt = Optimizer::new(&config, vec![w.clone(), b.clone()]).unwrap();
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
