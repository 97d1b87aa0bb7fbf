//! Datasets for fcnsweep: the registry of known datasets, fetching and verifying their
//! files, reading IDX files, and the train/validation splits and batches runs train on.
//!
//! Typical use: [`resolve_data_dir`], then [`Dataset::load`], then [`Splits::new`] once per
//! configuration, and [`Splits::train_epoch`] / [`Splits::eval_batches`] in each run.

pub mod augment;
pub mod dataset;
pub mod error;
pub mod fetch;
pub mod idx;
pub mod info;
pub mod registry;
pub mod split;

pub use augment::Augment;
pub use dataset::Dataset;
pub use error::{DataError, Result};
pub use fetch::{
    fetch, fetch_files, verify, verify_files, ChecksumStatus, FetchProgress, FetchReport,
    FileAction, FileStatus, NoProgress, Source,
};
pub use idx::{IdxImages, IdxLabels};
pub use info::{stats, DatasetStats};
pub use registry::{resolve_data_dir, DatasetName, DatasetSpec, FileRole, FileSpec};
pub use split::{Batch, EvalBatches, Part, SplitOptions, Splits, TrainBatches};
