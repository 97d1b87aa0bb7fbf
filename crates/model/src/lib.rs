//! The fully-connected network of fcnsweep, its PyTorch-compatible initializers and
//! optimizers, and the seeded training loop.

pub mod axes;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod cost;
pub mod error;
pub mod fcn;
pub mod fused;
pub mod init;
pub mod memory;
pub mod optim;
mod tensorfile;
pub mod train;
pub mod weights;

pub use checkpoint::Checkpoint;
pub use config::{Init, LrSchedule, ModelConfig, Norm, RunConfig, TrainConfig};
pub use error::ModelError;
pub use fcn::Fcn;
pub use optim::{
    Algorithm, Hyper, HyperValue, OptimizerConfig, OptimizerKind, Range, ReferenceOptimizer,
};
pub use train::{
    train, train_from, train_reference, EpochMetrics, NoObserver, RunObserver, RunResult,
};
pub use weights::{Evaluation, Weights, WeightsInfo};
