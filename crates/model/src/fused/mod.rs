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

mod backward;
mod eval;
mod forward;
mod fpenv;
mod interop;
mod kernels;
mod loss;
mod matmul;
mod network;
pub mod optim;
mod state;
#[cfg(test)]
mod tests;
mod workspace;

pub(crate) use fpenv::FlushDenormals;
pub use loss::BatchStats;
pub use matmul::{default_parallelism, parallelism_for, Parallelism};
pub(crate) use matmul::{matmul as gemm_matmul, MatRef};
pub use network::FusedFcn;
pub use optim::FusedOptimizer;
pub use state::EngineState;
