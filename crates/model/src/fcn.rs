//! The fully-connected network: Linear → [BatchNorm1d] → ReLU → [Dropout] per hidden layer,
//! then a linear layer to the logits, with PyTorch's train/eval semantics.

use candle_core::{DType, Device, Tensor, Var, D};
use rand::Rng;

use crate::config::{ModelConfig, Norm};
use crate::error::ModelError;
use crate::init;

/// BatchNorm1d's epsilon and running-statistics momentum (PyTorch defaults).
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// Whether a forward pass trains (batch statistics, dropout, graph) or evaluates.
pub enum Mode<'a, R: Rng> {
    /// Training: dropout masks come from this RNG and batch-norm uses batch statistics.
    Train(&'a mut R),
    /// Evaluation: no dropout, running statistics, no gradient graph.
    Eval,
}

struct Linear {
    weight: Var,
    bias: Var,
}

impl Linear {
    fn new(
        cfg: &ModelConfig,
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl Rng,
        dev: &Device,
    ) -> Result<Self, ModelError> {
        let w = init::linear_weights(cfg.init, cfg.init_std, fan_in, fan_out, rng);
        let b = init::linear_bias(fan_in, fan_out, rng);
        Ok(Self {
            weight: Var::from_vec(w, (fan_out, fan_in), dev)?,
            bias: Var::from_vec(b, fan_out, dev)?,
        })
    }

    fn forward(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let (w, b) = if train {
            (
                self.weight.as_tensor().clone(),
                self.bias.as_tensor().clone(),
            )
        } else {
            (
                self.weight.as_tensor().detach(),
                self.bias.as_tensor().detach(),
            )
        };
        x.matmul(&w.t()?)?.broadcast_add(&b)
    }
}

struct BatchNorm {
    gamma: Var,
    beta: Var,
    running_mean: Tensor,
    running_var: Tensor,
}

impl BatchNorm {
    fn new(width: usize, dev: &Device) -> Result<Self, ModelError> {
        Ok(Self {
            gamma: Var::ones(width, DType::F32, dev)?,
            beta: Var::zeros(width, DType::F32, dev)?,
            running_mean: Tensor::zeros(width, DType::F32, dev)?,
            running_var: Tensor::ones(width, DType::F32, dev)?,
        })
    }

    fn forward(&mut self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if train {
            let n = x.dim(0)? as f64;
            let mean = x.mean_keepdim(0)?;
            let centered = x.broadcast_sub(&mean)?;
            let var = centered.sqr()?.mean_keepdim(0)?;
            let xhat = centered.broadcast_div(&var.affine(1.0, BN_EPS)?.sqrt()?)?;
            // Running statistics use the unbiased variance, outside the graph, as PyTorch.
            let m = BN_MOMENTUM;
            self.running_mean = ((self.running_mean.affine(1.0 - m, 0.0)?
                + mean.detach().squeeze(0)?.affine(m, 0.0)?)?)
            .detach();
            let unbiased = var
                .detach()
                .squeeze(0)?
                .affine(m * n / (n - 1.0).max(1.0), 0.0)?;
            self.running_var = (self.running_var.affine(1.0 - m, 0.0)? + unbiased)?.detach();
            xhat.broadcast_mul(self.gamma.as_tensor())?
                .broadcast_add(self.beta.as_tensor())
        } else {
            let scale = self
                .gamma
                .as_tensor()
                .detach()
                .div(&self.running_var.affine(1.0, BN_EPS)?.sqrt()?)?;
            let shift = (self.beta.as_tensor().detach() - self.running_mean.mul(&scale)?)?;
            x.broadcast_mul(&scale)?.broadcast_add(&shift)
        }
    }
}

struct Hidden {
    linear: Linear,
    norm: Option<BatchNorm>,
}

/// A fully-connected classifier built from a [`ModelConfig`].
pub struct Fcn {
    hidden: Vec<Hidden>,
    output: Linear,
    dropout: f64,
}

impl Fcn {
    /// Builds the network for `inputs` features and `classes` outputs, drawing every initial
    /// parameter from `rng` (layer by layer: weight, then bias), as PyTorch would.
    pub fn new(
        cfg: &ModelConfig,
        inputs: usize,
        classes: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, ModelError> {
        let dev = Device::Cpu;
        let mut fan_in = inputs;
        let mut hidden = Vec::with_capacity(cfg.hidden.len());
        for &width in &cfg.hidden {
            let linear = Linear::new(cfg, fan_in, width, rng, &dev)?;
            let norm = match cfg.norm {
                Norm::None => None,
                Norm::Batch => Some(BatchNorm::new(width, &dev)?),
            };
            hidden.push(Hidden { linear, norm });
            fan_in = width;
        }
        let output = Linear::new(cfg, fan_in, classes, rng, &dev)?;
        Ok(Self {
            hidden,
            output,
            dropout: cfg.dropout,
        })
    }

    /// Every trainable parameter, in layer order (weight, bias, then BN gamma, beta).
    pub fn parameters(&self) -> Vec<Var> {
        let mut vars = Vec::new();
        for h in &self.hidden {
            vars.push(h.linear.weight.clone());
            vars.push(h.linear.bias.clone());
            if let Some(bn) = &h.norm {
                vars.push(bn.gamma.clone());
                vars.push(bn.beta.clone());
            }
        }
        vars.push(self.output.weight.clone());
        vars.push(self.output.bias.clone());
        vars
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|v| v.elem_count()).sum()
    }

    /// BatchNorm running `(mean, variance)` of every normalized hidden layer, in order
    /// (empty without batch-norm).
    pub fn running_stats(&self) -> Vec<(Tensor, Tensor)> {
        self.hidden
            .iter()
            .filter_map(|h| h.norm.as_ref())
            .map(|bn| (bn.running_mean.clone(), bn.running_var.clone()))
            .collect()
    }

    /// Whether the network has batch-norm layers (a training batch of one cannot be normalized).
    pub fn has_batch_norm(&self) -> bool {
        self.hidden.iter().any(|h| h.norm.is_some())
    }

    /// Logits for a `(batch, inputs)` tensor. In training mode batch-norm running statistics
    /// are updated and dropout masks are drawn from the mode's RNG.
    pub fn forward<R: Rng>(&mut self, x: &Tensor, mode: Mode<'_, R>) -> Result<Tensor, ModelError> {
        let (train, mut rng) = match mode {
            Mode::Train(rng) => (true, Some(rng)),
            Mode::Eval => (false, None),
        };
        let mut h = x.clone();
        for layer in &mut self.hidden {
            h = layer.linear.forward(&h, train)?;
            if let Some(bn) = &mut layer.norm {
                h = bn.forward(&h, train)?;
            }
            h = h.relu()?;
            if let Some(rng) = rng.as_deref_mut() {
                if self.dropout > 0.0 {
                    h = dropout(&h, self.dropout, rng)?;
                }
            }
        }
        Ok(self.output.forward(&h, train)?)
    }
}

/// Inverted dropout as `nn.Dropout` in training mode: zero with probability `p`, scale the
/// rest by 1/(1-p). The mask comes from our seeded RNG.
fn dropout(x: &Tensor, p: f64, rng: &mut impl Rng) -> candle_core::Result<Tensor> {
    let scale = (1.0 / (1.0 - p)) as f32;
    let p = p as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { scale })
        .collect();
    x.mul(&Tensor::from_vec(mask, x.shape(), x.device())?)
}

/// Mean softmax cross-entropy of `logits` (`rows × classes`) against the class indices
/// `labels`, op for op as candle-nn's `loss::cross_entropy`: the log-softmax by the
/// max-shifted log-sum-exp, then the mean negative log-likelihood of the labels.
fn cross_entropy(logits: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
    let rows = labels.dims1()?;
    let max = logits.max_keepdim(1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum_exp = shifted.exp()?.sum_keepdim(1)?.log()?;
    let log_softmax = shifted.broadcast_sub(&log_sum_exp)?;
    log_softmax
        .gather(&labels.unsqueeze(1)?, 1)?
        .sum_all()?
        .affine(-1f64 / rows as f64, 0.)
}

/// Mean cross-entropy of `logits` against `labels`, and the number of correct argmax predictions.
pub fn loss_and_correct(logits: &Tensor, labels: &Tensor) -> Result<(Tensor, usize), ModelError> {
    let loss = cross_entropy(logits, labels)?;
    let correct = logits
        .argmax(D::Minus1)?
        .eq(labels)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()? as usize;
    Ok((loss, correct))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Init;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn cfg(norm: Norm, dropout: f64) -> ModelConfig {
        ModelConfig {
            hidden: vec![6, 4],
            dropout,
            init: Init::Default,
            init_std: 0.1,
            norm,
        }
    }

    fn input(n: usize, d: usize) -> Tensor {
        let v: Vec<f32> = (0..n * d).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
        Tensor::from_vec(v, (n, d), &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_and_parameter_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let net = Fcn::new(&cfg(Norm::Batch, 0.0), 8, 3, &mut rng).unwrap();
        // (8*6+6) + 2*6 + (6*4+4) + 2*4 + (4*3+3)
        assert_eq!(net.parameter_count(), 54 + 12 + 28 + 8 + 15);
        let mut net = net;
        let y = net.forward(&input(5, 8), Mode::<ChaCha8Rng>::Eval).unwrap();
        assert_eq!(y.dims(), &[5, 3]);
    }

    #[test]
    fn batch_norm_train_normalizes_and_tracks_running_stats() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut bn = BatchNorm::new(3, &Device::Cpu).unwrap();
        let x = Tensor::new(&[[1f32, 2., 3.], [3., 6., 3.]], &Device::Cpu).unwrap();
        let y = bn.forward(&x, true).unwrap().to_vec2::<f32>().unwrap();
        // Column 0: mean 2, biased var 1 -> (-1, 1)/sqrt(1+eps).
        assert!((y[0][0] + 0.999995).abs() < 1e-5 && (y[1][0] - 0.999995).abs() < 1e-5);
        // Constant column 2 -> 0.
        assert!(y[0][2].abs() < 1e-6);
        let rm = bn.running_mean.to_vec1::<f32>().unwrap();
        let rv = bn.running_var.to_vec1::<f32>().unwrap();
        // running_mean = 0.1 * mean; running_var = 0.9 + 0.1 * unbiased var (2 for col 0, 8 for col 1).
        assert!((rm[0] - 0.2).abs() < 1e-6 && (rm[1] - 0.4).abs() < 1e-6);
        assert!(
            (rv[0] - 1.1).abs() < 1e-6 && (rv[1] - 1.7).abs() < 1e-6 && (rv[2] - 0.9).abs() < 1e-6
        );
        // Eval uses the running statistics: (x - 0.2) / sqrt(1.1 + eps).
        let e = bn.forward(&x, false).unwrap().to_vec2::<f32>().unwrap();
        assert!((e[0][0] - (0.8 / (1.1f32 + 1e-5).sqrt())).abs() < 1e-5);
        let _ = &mut rng;
    }

    #[test]
    fn dropout_zeroes_about_p_and_rescales() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Tensor::ones((100, 100), DType::F32, &Device::Cpu).unwrap();
        let y = dropout(&x, 0.25, &mut rng).unwrap().flatten_all().unwrap();
        let v = y.to_vec1::<f32>().unwrap();
        let zeros = v.iter().filter(|x| **x == 0.0).count();
        assert!((2300..2700).contains(&zeros), "{zeros}");
        assert!(v.iter().all(|x| *x == 0.0 || (*x - 4.0 / 3.0).abs() < 1e-6));
    }

    #[test]
    fn eval_is_deterministic_and_train_dropout_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut net = Fcn::new(&cfg(Norm::None, 0.5), 8, 3, &mut rng).unwrap();
        let x = input(4, 8);
        let a = net.forward(&x, Mode::<ChaCha8Rng>::Eval).unwrap();
        let b = net.forward(&x, Mode::<ChaCha8Rng>::Eval).unwrap();
        let diff = |a: &Tensor, b: &Tensor| {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        };
        assert_eq!(diff(&a, &b), 0.0);
        let t1 = net.forward(&x, Mode::Train(&mut rng)).unwrap();
        let t2 = net.forward(&x, Mode::Train(&mut rng)).unwrap();
        assert!(diff(&t1, &t2) > 0.0);
    }

    #[test]
    fn loss_and_accuracy() {
        let logits = Tensor::new(&[[2f32, 0., 0.], [0., 0., 5.]], &Device::Cpu).unwrap();
        let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
        let (loss, correct) = loss_and_correct(&logits, &labels).unwrap();
        assert_eq!(correct, 1);
        let l0 = -(2f64.exp() / (2f64.exp() + 2.0)).ln();
        let l1 = -(1.0 / (5f64.exp() + 2.0)).ln();
        let got = loss.to_scalar::<f32>().unwrap() as f64;
        assert!((got - (l0 + l1) / 2.0).abs() < 1e-5);
    }
}
