//! The fully-connected network of fcnsweep, its PyTorch-compatible initializers and
//! optimizers, and the seeded training loop.

pub mod classical;
pub mod config;
pub mod error;
pub mod fcn;
pub mod init;
pub mod optim;
pub mod train;

pub use config::{Init, ModelConfig, Norm, OptimizerConfig, OptimizerKind, RunConfig, TrainConfig};
pub use error::ModelError;
pub use fcn::Fcn;
pub use optim::Optimizer;
pub use train::{train, EpochMetrics, NoObserver, RunObserver, RunResult};
