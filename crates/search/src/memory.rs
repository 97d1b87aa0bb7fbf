//! Refusing configurations that cannot fit in memory, before a sweep or a run writes or
//! allocates anything: each configuration's estimate ([`MemoryEstimate`]) times the trials
//! run at once, plus the dataset, against the memory available (or `--max-memory`).

use fcnsweep_data::dataset::{IMAGE_COLS, IMAGE_ROWS};
use fcnsweep_data::DatasetName;
use fcnsweep_model::memory::{available_memory, Bytes, MemoryEstimate};
use fcnsweep_model::RunConfig;
use thiserror::Error;

use crate::identity::short_hash;

/// The estimate of one run of `run` on `dataset`'s images.
pub fn estimate(dataset: DatasetName, run: &RunConfig) -> MemoryEstimate {
    let classes = dataset.spec().classes.len();
    MemoryEstimate::of(run, IMAGE_ROWS * IMAGE_COLS, classes)
}

/// The bytes the decoded dataset takes (f32 pixels of the training and test images; decoded
/// once per process and shared by every trial).
pub fn dataset_bytes(train_images: usize, test_images: usize) -> u64 {
    ((train_images + test_images) as u64)
        .saturating_mul((IMAGE_ROWS * IMAGE_COLS) as u64)
        .saturating_mul(4)
}

/// How much memory may be used, and where that number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: u64,
    /// `true` when the user set it (`--max-memory`), `false` for the available memory.
    pub explicit: bool,
}

impl MemoryLimit {
    /// `--max-memory` when given, else the memory available now; `None` when neither is
    /// known (then nothing is refused).
    pub fn resolve(max_memory: Option<u64>) -> Option<Self> {
        match max_memory {
            Some(bytes) => Some(Self {
                bytes,
                explicit: true,
            }),
            None => available_memory().map(|bytes| Self {
                bytes,
                explicit: false,
            }),
        }
    }
}

/// A configuration whose runs would not fit.
#[derive(Debug, Error)]
#[error(
    "configuration {config} ({what}) needs about {need} ({per_run} per run{jobs_text}, plus {data} of images), more than {limit_what} ({limit}); \
     shrink the network or the batch{lower_jobs}{raise}",
    config = short_hash(hash),
    need = Bytes(*need),
    per_run = Bytes(*per_run),
    jobs_text = if *jobs > 1 { format!(" × {jobs} trials at once") } else { String::new() },
    data = Bytes(*data),
    limit_what = if limit.explicit { "--max-memory" } else { "the memory available" },
    limit = Bytes(limit.bytes),
    lower_jobs = if *jobs > 1 { ", lower --jobs" } else { "" },
    raise = if limit.explicit { ", or raise --max-memory" } else { "" },
)]
pub struct TooLarge {
    /// The configuration's hash.
    pub hash: String,
    /// Its network and batch, for people.
    pub what: String,
    /// Estimated bytes of one run.
    pub per_run: u64,
    /// Runs at once.
    pub jobs: usize,
    /// Bytes of the dataset.
    pub data: u64,
    /// Everything together.
    pub need: u64,
    /// The limit it exceeds.
    pub limit: MemoryLimit,
}

/// Checks every configuration: `jobs` runs of it at once plus `data` bytes must fit `limit`.
/// The first that does not is the error.
pub fn check<'a>(
    dataset: DatasetName,
    configs: impl IntoIterator<Item = (&'a str, &'a RunConfig)>,
    jobs: usize,
    data: u64,
    limit: MemoryLimit,
) -> Result<(), TooLarge> {
    for (hash, run) in configs {
        let per_run = estimate(dataset, run).total();
        let need = per_run.saturating_mul(jobs as u64).saturating_add(data);
        if need > limit.bytes {
            let widths: Vec<String> = run.model.hidden.iter().map(ToString::to_string).collect();
            return Err(TooLarge {
                hash: hash.to_string(),
                what: format!(
                    "784-{}-10, batch {}, {}",
                    widths.join("-"),
                    run.train.batch_size,
                    run.optimizer.kind()
                ),
                per_run,
                jobs,
                data,
                need,
                limit,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::axes::default_run;

    #[test]
    fn refuses_what_does_not_fit_and_says_why() {
        let small = default_run();
        let mut huge = default_run();
        huge.model.hidden = vec![100_000_000];
        let limit = MemoryLimit {
            bytes: 8_000_000_000,
            explicit: true,
        };
        let data = dataset_bytes(60_000, 10_000);
        let fashion = DatasetName::FashionMnist;
        check(fashion, [("aaaa", &small)], 2, data, limit).unwrap();
        let err = check(
            fashion,
            [("aaaa", &small), ("bbbbbbbbbbbb", &huge)],
            2,
            data,
            limit,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("configuration bbbbbbbbbb (784-100000000-10, batch 64, sgd)"),
            "{err}"
        );
        assert!(
            err.contains("× 2 trials at once") && err.contains("--max-memory (8.0 GB)"),
            "{err}"
        );
        assert!(err.contains("219.5 MB of images"), "{err}");
        // The baseline fits 8 GB alone but not 10,000 copies of it.
        let err = check(fashion, [("aaaa", &small)], 10_000, data, limit).unwrap_err();
        assert_eq!(err.jobs, 10_000);
    }
}
