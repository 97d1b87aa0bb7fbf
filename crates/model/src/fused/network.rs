//! The network itself: the layer layout in the flat parameter buffers, construction with
//! the reference initialization, accessors, and the training-step entry points.

use rand::Rng;

use super::loss::{softmax_cross_entropy, BatchStats};
use super::workspace::{EvalWorkspace, TrainWorkspace};
use super::{default_parallelism, FusedOptimizer, Parallelism};
use crate::config::{ModelConfig, Norm};
use crate::error::ModelError;
use crate::init;

/// Products with fewer multiply-adds than this run single-threaded even when threads are
/// available. Measured on the 2-core development machine: the baseline's 64×50×500 products
/// (1.6 M multiply-adds, ~50 µs) take as long on two threads as on one, and a second thread
/// that is descheduled on a shared machine stalls the whole product.
const SMALL_PRODUCT: usize = 1 << 21;

/// One linear layer and where its parameters lie in the flat buffers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layer {
    pub(super) fan_in: usize,
    pub(super) fan_out: usize,
    /// Offset of the `fan_out × fan_in` weight.
    pub(super) w: usize,
    /// Offset of the bias.
    pub(super) b: usize,
    /// Offset of BatchNorm's gamma (beta follows it), for a normalized hidden layer.
    pub(super) bn: Option<usize>,
}

/// The fully-connected network of [`ModelConfig`] as a fused training engine.
#[derive(Debug)]
pub struct FusedFcn {
    pub(super) inputs: usize,
    pub(super) classes: usize,
    pub(super) dropout: f64,
    /// Hidden layers, then the output layer.
    pub(super) layers: Vec<Layer>,
    pub(super) params: Vec<f32>,
    pub(super) grads: Vec<f32>,
    /// Shape of every parameter tensor, in buffer order.
    pub(super) shapes: Vec<Vec<usize>>,
    /// BatchNorm running statistics per hidden layer (empty vectors without BatchNorm).
    pub(super) running_mean: Vec<Vec<f32>>,
    pub(super) running_var: Vec<Vec<f32>>,
    pub(super) parallelism: Parallelism,
    pub(super) ws: TrainWorkspace,
    pub(super) eval: EvalWorkspace,
}

impl FusedFcn {
    /// Builds the network for `inputs` features and `classes` outputs, drawing every initial
    /// parameter from `rng` exactly as [`crate::Fcn::new`] does (layer by layer: weight, then
    /// bias), so the same RNG gives the same weights. Buffers are sized for `batch` rows
    /// (they grow once if a larger batch comes).
    pub fn new(
        cfg: &ModelConfig,
        inputs: usize,
        classes: usize,
        batch: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, ModelError> {
        if inputs == 0 || classes == 0 || cfg.hidden.contains(&0) {
            return Err(ModelError::InvalidValue {
                field: "hidden",
                value: format!("{inputs}-{:?}-{classes}", cfg.hidden),
                expected: "non-zero layer widths",
            });
        }
        let mut params = Vec::new();
        let mut shapes = Vec::new();
        let mut layers = Vec::with_capacity(cfg.hidden.len() + 1);
        let mut fan_in = inputs;
        let widths = cfg.hidden.iter().copied().chain(std::iter::once(classes));
        for (i, fan_out) in widths.enumerate() {
            let hidden = i < cfg.hidden.len();
            let w = params.len();
            params.extend(init::linear_weights(
                cfg.init,
                cfg.init_std,
                fan_in,
                fan_out,
                rng,
            ));
            shapes.push(vec![fan_out, fan_in]);
            let b = params.len();
            params.extend(init::linear_bias(fan_in, fan_out, rng));
            shapes.push(vec![fan_out]);
            let bn = if hidden && cfg.norm == Norm::Batch {
                let g = params.len();
                params.extend(std::iter::repeat_n(1.0f32, fan_out));
                params.extend(std::iter::repeat_n(0.0f32, fan_out));
                shapes.push(vec![fan_out]);
                shapes.push(vec![fan_out]);
                Some(g)
            } else {
                None
            };
            layers.push(Layer {
                fan_in,
                fan_out,
                w,
                b,
                bn,
            });
            fan_in = fan_out;
        }
        let hidden = &layers[..layers.len() - 1];
        let stats = |v: f32| {
            hidden
                .iter()
                .map(|l| match l.bn {
                    Some(_) => vec![v; l.fan_out],
                    None => Vec::new(),
                })
                .collect::<Vec<_>>()
        };
        let mut net = Self {
            inputs,
            classes,
            dropout: cfg.dropout,
            grads: vec![0.0; params.len()],
            params,
            shapes,
            running_mean: stats(0.0),
            running_var: stats(1.0),
            layers,
            parallelism: default_parallelism(),
            ws: TrainWorkspace::default(),
            eval: EvalWorkspace::default(),
        };
        net.reserve_train(batch.max(1));
        Ok(net)
    }

    /// Sets the threading of the matrix products (by default [`default_parallelism`]).
    pub fn set_parallelism(&mut self, parallelism: Parallelism) {
        self.parallelism = parallelism;
    }

    /// Number of input features.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Number of classes (logits).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Whether the hidden layers are batch-normalized.
    pub fn has_batch_norm(&self) -> bool {
        self.layers.iter().any(|l| l.bn.is_some())
    }

    /// Number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.params.len()
    }

    /// Sizes of the parameter tensors in buffer order, for [`FusedOptimizer::new`].
    pub fn parameter_sizes(&self) -> Vec<usize> {
        self.shapes.iter().map(|s| s.iter().product()).collect()
    }

    /// All parameters, flat, in the order of [`crate::Fcn::parameters`].
    pub fn flat_parameters(&self) -> &[f32] {
        &self.params
    }

    /// The gradients of the last [`FusedFcn::train_batch`] (or of a [`FusedFcn::train_step`]
    /// with a stateful optimizer; plain SGD steps do not store them), in the parameters'
    /// layout.
    pub fn flat_gradients(&self) -> &[f32] {
        &self.grads
    }

    /// Applies one optimizer update with the gradients of the last training step.
    pub fn apply(&mut self, opt: &mut FusedOptimizer) {
        opt.step(&mut self.params, &self.grads);
    }

    /// The threading of an `m × n × k` product.
    pub(super) fn par(&self, m: usize, n: usize, k: usize) -> Parallelism {
        product_parallelism(self.parallelism, m, n, k)
    }

    pub(super) fn hidden(&self) -> usize {
        self.layers.len() - 1
    }

    pub(super) fn widest_hidden(&self) -> usize {
        self.layers[..self.hidden()]
            .iter()
            .map(|l| l.fan_out)
            .max()
            .unwrap_or(0)
    }

    pub(super) fn check_batch(&self, x: &[f32], labels: &[u32]) -> Result<usize, ModelError> {
        let n = labels.len();
        if n == 0 || x.len() != n * self.inputs {
            return Err(ModelError::InvalidValue {
                field: "batch",
                value: format!("{} values for {n} labels", x.len()),
                expected: "a non-empty batch of `inputs` values per label",
            });
        }
        if let Some(l) = labels.iter().find(|&&l| l as usize >= self.classes) {
            return Err(ModelError::InvalidValue {
                field: "labels",
                value: l.to_string(),
                expected: "class indices below the number of classes",
            });
        }
        Ok(n)
    }

    /// One training step's forward and backward pass on a row-major `(rows, inputs)` batch:
    /// forward in training mode (batch statistics, BatchNorm running statistics updated,
    /// dropout masks drawn from `rng`), the loss and accuracy, and every parameter's gradient
    /// (read them with [`FusedFcn::gradients`]; apply them with [`FusedFcn::apply`]).
    pub fn train_batch(
        &mut self,
        x: &[f32],
        labels: &[u32],
        rng: &mut impl Rng,
    ) -> Result<BatchStats, ModelError> {
        let n = self.check_batch(x, labels)?;
        self.reserve_train(n);
        self.forward_train(x, n, rng);
        let stats = {
            let c = self.classes;
            let ws = &mut self.ws;
            softmax_cross_entropy(
                &ws.logits[..n * c],
                Some(&mut ws.dlogits[..n * c]),
                labels,
                c,
            )
        };
        self.backward(x, n, None);
        Ok(stats)
    }

    /// One training step: [`FusedFcn::train_batch`]'s forward pass, then, when the loss is
    /// finite, the backward pass and `opt`'s update (a non-finite loss leaves the parameters
    /// and the optimizer untouched, as the training loop stops there). Plain SGD (no
    /// momentum, no weight decay) is applied inside the weight-gradient products without
    /// storing the gradients; every other optimizer runs on the stored gradients.
    pub fn train_step(
        &mut self,
        x: &[f32],
        labels: &[u32],
        rng: &mut impl Rng,
        opt: &mut FusedOptimizer,
    ) -> Result<BatchStats, ModelError> {
        let n = self.check_batch(x, labels)?;
        if opt.len() != self.params.len() {
            return Err(ModelError::InvalidValue {
                field: "optimizer",
                value: format!("{} parameters", opt.len()),
                expected: "an optimizer built for this network's parameter sizes",
            });
        }
        self.reserve_train(n);
        self.forward_train(x, n, rng);
        let c = self.classes;
        let stats = softmax_cross_entropy(
            &self.ws.logits[..n * c],
            Some(&mut self.ws.dlogits[..n * c]),
            labels,
            c,
        );
        if stats.loss.is_finite() {
            match opt.plain_sgd_lr() {
                Some(lr) => {
                    self.backward(x, n, Some(lr));
                    opt.count_fused_step();
                }
                None => {
                    self.backward(x, n, None);
                    opt.step(&mut self.params, &self.grads);
                }
            }
        }
        Ok(stats)
    }
}

/// The threading of an `m × n × k` product for a network set to `threaded`: single-threaded
/// below [`SMALL_PRODUCT`] multiply-adds.
pub(super) fn product_parallelism(
    threaded: Parallelism,
    m: usize,
    n: usize,
    k: usize,
) -> Parallelism {
    if m.saturating_mul(n).saturating_mul(k) < SMALL_PRODUCT {
        Parallelism::None
    } else {
        threaded
    }
}
