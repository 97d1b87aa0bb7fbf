//! A fused training engine for the fully-connected network: the same model, initialization,
//! dropout masks and optimizers as [`crate::fcn`] + [`crate::optim`], computed directly on
//! preallocated `f32` buffers with `gemm` instead of through candle's autograd.
//!
//! * Parameters, gradients and optimizer state are flat `Vec<f32>` buffers in PyTorch layouts
//!   (weight `out × in` row-major, then bias, then BatchNorm gamma and beta per hidden layer;
//!   output layer last), in the order of [`crate::Fcn::parameters`].
//! * Per-batch activations live in a workspace sized once for the largest batch seen; a
//!   training step allocates nothing (beyond gemm's internal packing buffers).
//! * Forward per hidden layer: `Z = X·Wᵀ` (gemm), then one pass per feature that adds the
//!   bias, applies BatchNorm (batch statistics in training, running statistics in
//!   evaluation) and ReLU, then inverted dropout; logits; softmax cross-entropy and its
//!   gradient in one pass; accuracy from the argmax.
//! * Backward: `dW = dZᵀ·X`, `db = Σ dZ`, `dX = dZ·W` for every layer but the first, ReLU /
//!   dropout / BatchNorm backward in place.
//! * Hidden activations of training steps are stored feature-major (`Zᵀ`, one row per unit).
//!   gemm packs its left operand into column panels; with `Zᵀ = W·Xᵀ` that operand is the
//!   batch (64×784 for the baseline) instead of the weight (500×784), which saves ~15% of
//!   the first layer's forward product. Evaluation batches (2048 rows) stay sample-major,
//!   where packing the weight is the cheaper side.
//! * Threads: gemm runs single-threaded when `RAYON_NUM_THREADS=1` (the sweep's one core per
//!   trial) and on candle's thread count otherwise, except for products too small to gain.
//!
//! Dropout masks are drawn exactly as `fcn.rs` draws them (one `rng.random::<f32>() < p` per
//! element, row-major, layer by layer), so both paths see the same masks for the same RNG.
//! One documented difference: at a pre-activation of exactly 0, candle's ReLU passes the
//! gradient and this engine (like PyTorch) does not.

mod fpenv;
mod matmul;
pub mod optim;
#[cfg(test)]
mod tests;

use candle_core::{Device, Tensor};
use rand::Rng;

use crate::config::{ModelConfig, Norm};
use crate::error::ModelError;
use crate::init;
pub(crate) use fpenv::FlushDenormals;
pub use matmul::{default_parallelism, Parallelism};
pub(crate) use matmul::{matmul as gemm_matmul, MatRef};
pub use optim::FusedOptimizer;

/// BatchNorm1d's epsilon and running-statistics momentum (PyTorch defaults, as `fcn.rs`).
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

/// Products with fewer multiply-adds than this run single-threaded even when threads are
/// available. Measured on the 2-core development machine: the baseline's 64×50×500 products
/// (1.6 M multiply-adds, ~50 µs) take as long on two threads as on one, and a second thread
/// that is descheduled on a shared machine stalls the whole product.
const SMALL_PRODUCT: usize = 1 << 21;

/// One linear layer and where its parameters lie in the flat buffers.
#[derive(Debug, Clone, Copy)]
struct Layer {
    fan_in: usize,
    fan_out: usize,
    /// Offset of the `fan_out × fan_in` weight.
    w: usize,
    /// Offset of the bias.
    b: usize,
    /// Offset of BatchNorm's gamma (beta follows it), for a normalized hidden layer.
    bn: Option<usize>,
}

/// Loss and accuracy count of one batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchStats {
    /// Mean cross-entropy over the batch (NaN or infinite when the run diverges).
    pub loss: f64,
    /// Sum of the per-sample cross-entropies.
    pub loss_sum: f64,
    /// Samples whose argmax logit is the label.
    pub correct: usize,
}

/// Buffers of one training step, sized for `cap` rows.
#[derive(Debug, Default)]
struct TrainWorkspace {
    cap: usize,
    /// Output of each hidden layer after ReLU and dropout, feature-major (`width × rows`).
    acts: Vec<Vec<f32>>,
    /// Normalized pre-activations of each batch-normalized hidden layer, feature-major.
    xhat: Vec<Vec<f32>>,
    /// Batch standard deviation √(var + eps) of each batch-normalized hidden layer.
    std: Vec<Vec<f32>>,
    /// Logits of the last forward pass (`cap × classes`).
    logits: Vec<f32>,
    /// Gradient of the loss with respect to the logits.
    dlogits: Vec<f32>,
    /// Ping-pong buffers for the gradients flowing backwards, feature-major
    /// (`widest hidden layer × cap`).
    scratch: [Vec<f32>; 2],
    /// Rows of the last forward pass.
    rows: usize,
}

/// Buffers of an evaluation pass, sized for `cap` rows.
#[derive(Debug, Default)]
struct EvalWorkspace {
    cap: usize,
    bufs: [Vec<f32>; 2],
    logits: Vec<f32>,
    /// BatchNorm's eval-mode `gamma / √(running_var + eps)` and `beta - running_mean·scale`.
    scale: Vec<Vec<f32>>,
    shift: Vec<Vec<f32>>,
}

/// The fully-connected network of [`ModelConfig`] as a fused training engine.
#[derive(Debug)]
pub struct FusedFcn {
    inputs: usize,
    classes: usize,
    dropout: f64,
    /// Hidden layers, then the output layer.
    layers: Vec<Layer>,
    params: Vec<f32>,
    grads: Vec<f32>,
    /// Shape of every parameter tensor, in buffer order.
    shapes: Vec<Vec<usize>>,
    /// BatchNorm running statistics per hidden layer (empty vectors without BatchNorm).
    running_mean: Vec<Vec<f32>>,
    running_var: Vec<Vec<f32>>,
    parallelism: Parallelism,
    ws: TrainWorkspace,
    eval: EvalWorkspace,
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

    /// Copies of the parameters as candle tensors (layer order: weight, bias, then BN gamma
    /// and beta; output layer last), shaped as [`crate::Fcn::parameters`].
    pub fn parameters(&self) -> Result<Vec<Tensor>, ModelError> {
        self.to_tensors(&self.params)
    }

    /// Copies of the gradients of the last training step, shaped as the parameters.
    pub fn gradients(&self) -> Result<Vec<Tensor>, ModelError> {
        self.to_tensors(&self.grads)
    }

    /// Overwrites the parameters from tensors shaped as [`FusedFcn::parameters`] returns.
    pub fn set_parameters(&mut self, tensors: &[Tensor]) -> Result<(), ModelError> {
        if tensors.len() != self.shapes.len() {
            return Err(ModelError::InvalidValue {
                field: "params",
                value: format!("{} tensors", tensors.len()),
                expected: "one tensor per parameter of the network",
            });
        }
        let mut flat = Vec::with_capacity(self.params.len());
        for (t, shape) in tensors.iter().zip(&self.shapes) {
            if t.dims() != shape.as_slice() {
                return Err(ModelError::InvalidValue {
                    field: "params",
                    value: format!("{:?}", t.dims()),
                    expected: "the shape of the network's parameter",
                });
            }
            flat.extend(t.flatten_all()?.to_vec1::<f32>()?);
        }
        self.params = flat;
        Ok(())
    }

    /// BatchNorm running `(mean, variance)` of every hidden layer (empty without BatchNorm).
    pub fn running_stats(&self) -> Result<Vec<(Tensor, Tensor)>, ModelError> {
        let dev = Device::Cpu;
        let mut out = Vec::new();
        for (m, v) in self.running_mean.iter().zip(&self.running_var) {
            if !m.is_empty() {
                out.push((
                    Tensor::from_slice(m, m.len(), &dev)?,
                    Tensor::from_slice(v, v.len(), &dev)?,
                ));
            }
        }
        Ok(out)
    }

    /// Logits of the last training forward pass, `(rows, classes)`.
    pub fn logits(&self) -> Result<Tensor, ModelError> {
        let n = self.ws.rows;
        Ok(Tensor::from_slice(
            &self.ws.logits[..n * self.classes],
            (n, self.classes),
            &Device::Cpu,
        )?)
    }

    fn to_tensors(&self, flat: &[f32]) -> Result<Vec<Tensor>, ModelError> {
        let mut out = Vec::with_capacity(self.shapes.len());
        let mut off = 0;
        for shape in &self.shapes {
            let len: usize = shape.iter().product();
            out.push(Tensor::from_slice(
                &flat[off..off + len],
                shape.as_slice(),
                &Device::Cpu,
            )?);
            off += len;
        }
        Ok(out)
    }

    /// Applies one optimizer update with the gradients of the last training step.
    pub fn apply(&mut self, opt: &mut FusedOptimizer) {
        opt.step(&mut self.params, &self.grads);
    }

    /// The threading of an `m × n × k` product.
    fn par(&self, m: usize, n: usize, k: usize) -> Parallelism {
        if m.saturating_mul(n).saturating_mul(k) < SMALL_PRODUCT {
            Parallelism::None
        } else {
            self.parallelism
        }
    }

    fn hidden(&self) -> usize {
        self.layers.len() - 1
    }

    fn widest_hidden(&self) -> usize {
        self.layers[..self.hidden()]
            .iter()
            .map(|l| l.fan_out)
            .max()
            .unwrap_or(0)
    }

    /// Makes the training workspace hold `rows` rows (allocates only when it grows).
    fn reserve_train(&mut self, rows: usize) {
        if rows <= self.ws.cap {
            return;
        }
        let hidden = self.hidden();
        let widest = self.widest_hidden();
        let ws = &mut self.ws;
        ws.cap = rows;
        ws.acts = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; rows * l.fan_out])
            .collect();
        ws.xhat = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; if l.bn.is_some() { rows * l.fan_out } else { 0 }])
            .collect();
        ws.std = self.layers[..hidden]
            .iter()
            .map(|l| vec![0.0; if l.bn.is_some() { l.fan_out } else { 0 }])
            .collect();
        ws.logits = vec![0.0; rows * self.classes];
        ws.dlogits = vec![0.0; rows * self.classes];
        ws.scratch = [vec![0.0; rows * widest], vec![0.0; rows * widest]];
    }

    /// Makes the evaluation workspace hold `rows` rows (allocates only when it grows).
    fn reserve_eval(&mut self, rows: usize) {
        let hidden = self.hidden();
        if self.eval.scale.len() != hidden {
            self.eval.scale = self.layers[..hidden]
                .iter()
                .map(|l| vec![0.0; if l.bn.is_some() { l.fan_out } else { 0 }])
                .collect();
            self.eval.shift = self.eval.scale.clone();
        }
        if rows <= self.eval.cap {
            return;
        }
        let widest = self.widest_hidden();
        let ev = &mut self.eval;
        ev.cap = rows;
        ev.bufs = [vec![0.0; rows * widest], vec![0.0; rows * widest]];
        ev.logits = vec![0.0; rows * self.classes];
    }

    fn check_batch(&self, x: &[f32], labels: &[u32]) -> Result<usize, ModelError> {
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

    fn forward_train(&mut self, x: &[f32], n: usize, rng: &mut impl Rng) {
        let hidden = self.hidden();
        let p = self.dropout as f32;
        let scale = (1.0 / (1.0 - self.dropout)) as f32;
        let drop = self.dropout > 0.0;
        self.ws.rows = n;
        for l in 0..hidden {
            let layer = self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let par = self.par(d, n, fan_in);
            let params = &self.params;
            let ws = &mut self.ws;
            let (prev, rest) = ws.acts.split_at_mut(l);
            // The layer's input as a (fan_in × n) matrix: Xᵀ, or the previous activations.
            let input_t = if l == 0 {
                MatRef::row_major(x, n, fan_in).t()
            } else {
                MatRef::row_major(&prev[l - 1][..fan_in * n], fan_in, n)
            };
            let out = &mut rest[0][..d * n];
            let w = MatRef::row_major(&params[layer.w..layer.w + d * fan_in], d, fan_in);
            let bias = &params[layer.b..layer.b + d];
            // Zᵀ = W · inputᵀ, feature-major, then one pass per feature row.
            match layer.bn {
                None => {
                    gemm_matmul(out, w, input_t, false, 1.0, par);
                    for (row, &b) in out.chunks_exact_mut(n).zip(bias) {
                        for z in row.iter_mut() {
                            *z = relu(*z + b);
                        }
                    }
                }
                Some(g) => {
                    let z = &mut ws.xhat[l][..d * n];
                    gemm_matmul(z, w, input_t, false, 1.0, par);
                    let gamma = &params[g..g + d];
                    let beta = &params[g + d..g + 2 * d];
                    let (rm, rv) = (&mut self.running_mean[l], &mut self.running_var[l]);
                    for j in 0..d {
                        let zrow = &mut z[j * n..(j + 1) * n];
                        let std = batch_norm_row(zrow, bias[j], &mut rm[j], &mut rv[j]);
                        ws.std[l][j] = std;
                        let (ga, be) = (gamma[j], beta[j]);
                        for (a, xh) in out[j * n..(j + 1) * n].iter_mut().zip(zrow.iter()) {
                            *a = relu(*xh * ga + be);
                        }
                    }
                }
            }
            if drop {
                // Masks in sample-major order, as fcn.rs draws them.
                for b in 0..n {
                    for j in 0..d {
                        let a = &mut out[j * n + b];
                        *a = if rng.random::<f32>() < p {
                            0.0
                        } else {
                            *a * scale
                        };
                    }
                }
            }
        }
        let out = &self.layers[hidden];
        let (c, fan_in) = (out.fan_out, out.fan_in);
        let par = self.par(n, c, fan_in);
        let input = if hidden == 0 {
            MatRef::row_major(x, n, fan_in)
        } else {
            MatRef::row_major(&self.ws.acts[hidden - 1][..fan_in * n], fan_in, n).t()
        };
        let logits = &mut self.ws.logits[..n * c];
        gemm_matmul(
            logits,
            input,
            MatRef::row_major(&self.params[out.w..out.w + c * fan_in], c, fan_in).t(),
            false,
            1.0,
            par,
        );
        let bias = &self.params[out.b..out.b + c];
        for row in logits.chunks_exact_mut(c) {
            for (z, &b) in row.iter_mut().zip(bias) {
                *z += b;
            }
        }
    }

    /// Backward pass of the last training forward pass. With `sgd_lr = None` every gradient
    /// is written to the gradient buffer. With `Some(lr)` (plain SGD: no momentum, no weight
    /// decay) the update `θ ← θ − lr·g` is applied as the gradients are computed: the weight
    /// gradient products accumulate `−lr·dZᵀ·X` straight into the weights (gemm's
    /// `dst = dst + β·lhs·rhs`), so the gradients are never stored (the gradient buffer is
    /// left stale) and no separate optimizer pass reads them back.
    fn backward(&mut self, x: &[f32], n: usize, sgd_lr: Option<f32>) {
        let hidden = self.hidden();
        let scale = if self.dropout > 0.0 {
            Some((1.0 / (1.0 - self.dropout)) as f32)
        } else {
            None
        };
        let threaded = self.parallelism;
        let par = move |m: usize, n: usize, k: usize| {
            if m.saturating_mul(n).saturating_mul(k) < SMALL_PRODUCT {
                Parallelism::None
            } else {
                threaded
            }
        };
        // Where a weight gradient product writes: into the gradients (`dst = g`), or into the
        // parameters (`dst = θ − lr·g`).
        let (accumulate, beta) = match sgd_lr {
            None => (false, 1.0),
            Some(lr) => (true, -lr),
        };
        // Output layer: dAᵀ = Wᵀ·dLᵀ (before W changes), dW = dLᵀ·A, db = Σ dL.
        let out = self.layers[hidden];
        let (c, fan_in) = (out.fan_out, out.fan_in);
        let dl = &self.ws.dlogits[..n * c];
        let [s0, s1] = &mut self.ws.scratch;
        let (mut cur, mut other) = (s0, s1);
        if hidden > 0 {
            gemm_matmul(
                &mut cur[..fan_in * n],
                MatRef::row_major(&self.params[out.w..out.w + c * fan_in], c, fan_in).t(),
                MatRef::row_major(dl, n, c).t(),
                false,
                1.0,
                par(fan_in, n, c),
            );
        }
        let input = if hidden == 0 {
            MatRef::row_major(x, n, fan_in)
        } else {
            MatRef::row_major(&self.ws.acts[hidden - 1][..fan_in * n], fan_in, n).t()
        };
        let target = if sgd_lr.is_some() {
            &mut self.params
        } else {
            &mut self.grads
        };
        gemm_matmul(
            &mut target[out.w..out.w + c * fan_in],
            MatRef::row_major(dl, n, c).t(),
            input,
            accumulate,
            beta,
            par(c, fan_in, n),
        );
        for j in 0..c {
            let g: f32 = dl.chunks_exact(c).map(|row| row[j]).sum();
            store_grad(&mut target[out.b + j], g, sgd_lr);
        }
        // Hidden layers, feature-major: `cur` holds ∂L/∂Aᵀ of layer l (d × n).
        for l in (0..hidden).rev() {
            let layer = &self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let dz = &mut cur[..d * n];
            let act = &self.ws.acts[l][..d * n];
            // ReLU and dropout: the output is positive exactly where the unit was active and
            // kept, and the gradient there is scaled by 1/(1-p).
            match scale {
                Some(s) => {
                    for (g, &a) in dz.iter_mut().zip(act) {
                        *g = if a > 0.0 { *g * s } else { 0.0 };
                    }
                }
                None => {
                    for (g, &a) in dz.iter_mut().zip(act) {
                        *g = if a > 0.0 { *g } else { 0.0 };
                    }
                }
            }
            if let Some(gi) = layer.bn {
                let xhat = &self.ws.xhat[l][..d * n];
                let std = &self.ws.std[l];
                for j in 0..d {
                    let gamma = self.params[gi + j];
                    let (dg, db) = batch_norm_row_backward(
                        &mut dz[j * n..(j + 1) * n],
                        &xhat[j * n..(j + 1) * n],
                        gamma,
                        std[j],
                    );
                    let target = if sgd_lr.is_some() {
                        &mut self.params
                    } else {
                        &mut self.grads
                    };
                    store_grad(&mut target[gi + j], dg, sgd_lr);
                    store_grad(&mut target[gi + d + j], db, sgd_lr);
                }
            }
            let dz = &cur[..d * n];
            if l > 0 {
                gemm_matmul(
                    &mut other[..fan_in * n],
                    MatRef::row_major(&self.params[layer.w..layer.w + d * fan_in], d, fan_in).t(),
                    MatRef::row_major(dz, d, n),
                    false,
                    1.0,
                    par(fan_in, n, d),
                );
            }
            let input = if l == 0 {
                MatRef::row_major(x, n, fan_in)
            } else {
                MatRef::row_major(&self.ws.acts[l - 1][..fan_in * n], fan_in, n).t()
            };
            let target = if sgd_lr.is_some() {
                &mut self.params
            } else {
                &mut self.grads
            };
            gemm_matmul(
                &mut target[layer.w..layer.w + d * fan_in],
                MatRef::row_major(dz, d, n),
                input,
                accumulate,
                beta,
                par(d, fan_in, n),
            );
            for (j, row) in dz.chunks_exact(n).enumerate() {
                store_grad(&mut target[layer.b + j], sum(row), sgd_lr);
            }
            if l > 0 {
                std::mem::swap(&mut cur, &mut other);
            }
        }
    }

    /// Logits of a row-major `(rows, inputs)` batch in evaluation mode (no dropout, running
    /// BatchNorm statistics, no gradients); the returned slice is the workspace's.
    fn forward_eval(&mut self, x: &[f32], n: usize) -> &[f32] {
        self.reserve_eval(n);
        let hidden = self.hidden();
        for l in 0..hidden {
            if let Some(g) = self.layers[l].bn {
                let d = self.layers[l].fan_out;
                let gamma = &self.params[g..g + d];
                let beta = &self.params[g + d..g + 2 * d];
                let (rm, rv) = (&self.running_mean[l], &self.running_var[l]);
                let eps = BN_EPS as f32;
                for j in 0..d {
                    let s = gamma[j] / (rv[j] + eps).sqrt();
                    self.eval.scale[l][j] = s;
                    self.eval.shift[l][j] = beta[j] - rm[j] * s;
                }
            }
        }
        let [b0, b1] = &mut self.eval.bufs;
        let (mut cur, mut next) = (b0, b1);
        for l in 0..=hidden {
            let layer = &self.layers[l];
            let (d, fan_in) = (layer.fan_out, layer.fan_in);
            let input: &[f32] = if l == 0 { x } else { &cur[..n * fan_in] };
            let out: &mut [f32] = if l == hidden {
                &mut self.eval.logits[..n * d]
            } else {
                &mut next[..n * d]
            };
            let par = if n * d * fan_in < SMALL_PRODUCT {
                Parallelism::None
            } else {
                self.parallelism
            };
            gemm_matmul(
                out,
                MatRef::row_major(input, n, fan_in),
                MatRef::row_major(&self.params[layer.w..layer.w + d * fan_in], d, fan_in).t(),
                false,
                1.0,
                par,
            );
            let bias = &self.params[layer.b..layer.b + d];
            if l == hidden {
                for row in out.chunks_exact_mut(d) {
                    for (z, &b) in row.iter_mut().zip(bias) {
                        *z += b;
                    }
                }
            } else if layer.bn.is_some() {
                let (scale, shift) = (&self.eval.scale[l], &self.eval.shift[l]);
                for row in out.chunks_exact_mut(d) {
                    for j in 0..d {
                        row[j] = relu((row[j] + bias[j]) * scale[j] + shift[j]);
                    }
                }
            } else {
                for row in out.chunks_exact_mut(d) {
                    for (z, &b) in row.iter_mut().zip(bias) {
                        *z = relu(*z + b);
                    }
                }
            }
            if l < hidden {
                std::mem::swap(&mut cur, &mut next);
            }
        }
        &self.eval.logits[..n * self.classes]
    }

    /// Loss and accuracy of a row-major `(rows, inputs)` batch in evaluation mode (no dropout,
    /// running BatchNorm statistics, no gradients).
    pub fn eval_batch(&mut self, x: &[f32], labels: &[u32]) -> Result<BatchStats, ModelError> {
        let n = self.check_batch(x, labels)?;
        let c = self.classes;
        let logits = self.forward_eval(x, n);
        Ok(softmax_cross_entropy(logits, None, labels, c))
    }

    /// Evaluation-mode logits of a row-major `(rows, inputs)` batch, as a tensor.
    pub fn eval_logits(&mut self, x: &[f32], rows: usize) -> Result<Tensor, ModelError> {
        if rows == 0 || x.len() != rows * self.inputs {
            return Err(ModelError::InvalidValue {
                field: "batch",
                value: format!("{} values for {rows} rows", x.len()),
                expected: "`inputs` values per row",
            });
        }
        let c = self.classes;
        let logits = self.forward_eval(x, rows);
        Ok(Tensor::from_slice(logits, (rows, c), &Device::Cpu)?)
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// Stores a gradient, or with `Some(lr)` applies plain SGD to the parameter instead
/// (`θ − g·lr`, as `optim.rs`).
#[inline(always)]
fn store_grad(target: &mut f32, grad: f32, sgd_lr: Option<f32>) {
    match sgd_lr {
        None => *target = grad,
        Some(lr) => *target -= grad * lr,
    }
}

/// Sum of a slice with eight independent accumulators (vectorizes; the order of the
/// additions differs from a sequential sum by rounding only).
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in tail {
        s += x;
    }
    s
}

/// Σ a·b over two slices of equal length, with eight accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// BatchNorm of one feature over the batch, in training mode: adds the bias to the
/// pre-activations `z`, normalizes them in place to x̂ = (z - mean) / √(var + eps) with the
/// biased batch variance, updates the running statistics as PyTorch does (momentum 0.1,
/// unbiased variance) and returns √(var + eps).
fn batch_norm_row(z: &mut [f32], bias: f32, running_mean: &mut f32, running_var: &mut f32) -> f32 {
    let n = z.len();
    for v in z.iter_mut() {
        *v += bias;
    }
    let inv_n = (1.0 / n as f64) as f32;
    let mean = sum(z) * inv_n;
    let mut acc = [0.0f32; 8];
    let chunks = z.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let d = v - mean;
            *a += d * d;
        }
    }
    let mut sq = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in tail {
        sq += (v - mean) * (v - mean);
    }
    let var = sq * inv_n;
    let mom = BN_MOMENTUM;
    let unbiased = (mom * n as f64 / (n as f64 - 1.0).max(1.0)) as f32;
    *running_mean = *running_mean * (1.0 - mom) as f32 + mean * mom as f32;
    *running_var = *running_var * (1.0 - mom) as f32 + var * unbiased;
    let std = (var + BN_EPS as f32).sqrt();
    for v in z.iter_mut() {
        *v = (*v - mean) / std;
    }
    std
}

/// BatchNorm backward of one feature in place: `dz` holds ∂L/∂y on entry and ∂L/∂z on
/// return; returns gamma's and beta's gradients.
fn batch_norm_row_backward(dz: &mut [f32], xhat: &[f32], gamma: f32, std: f32) -> (f32, f32) {
    let n = dz.len() as f32;
    let dbeta = sum(dz);
    let dgamma = dot(dz, xhat);
    let coef = gamma / (std * n);
    for (g, &xh) in dz.iter_mut().zip(xhat) {
        *g = coef * (n * *g - dbeta - xh * dgamma);
    }
    (dgamma, dbeta)
}

/// Mean softmax cross-entropy of `logits` (`rows × classes`) against `labels`, the number of
/// correct argmax predictions, and, when `grad` is given, ∂(mean loss)/∂logits written to it.
fn softmax_cross_entropy(
    logits: &[f32],
    mut grad: Option<&mut [f32]>,
    labels: &[u32],
    classes: usize,
) -> BatchStats {
    let n = labels.len();
    let inv_n = (1.0 / n as f64) as f32;
    let mut loss_sum = 0.0f64;
    let mut correct = 0;
    for (r, (row, &label)) in logits.chunks_exact(classes).zip(labels).enumerate() {
        let label = label as usize;
        let mut max = row[0];
        let mut arg = 0;
        for (j, &v) in row.iter().enumerate().skip(1) {
            if v > max {
                max = v;
                arg = j;
            }
        }
        correct += usize::from(arg == label);
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        let lse = sum.ln();
        loss_sum += f64::from(-((row[label] - max) - lse));
        if let Some(grad) = grad.as_deref_mut() {
            let g = &mut grad[r * classes..(r + 1) * classes];
            let inv_sum = 1.0 / sum;
            for (gj, &v) in g.iter_mut().zip(row) {
                *gj = (v - max).exp() * inv_sum * inv_n;
            }
            g[label] -= inv_n;
        }
    }
    BatchStats {
        loss: loss_sum / n as f64,
        loss_sum,
        correct,
    }
}
