//! Train/validation splits and mini-batching, shared read-only across the runs of a sweep.

use std::fmt;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::augment::Augment;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::info::mean_std;

/// Standard deviations below this are treated as 1 when standardizing (constant pixels).
const MIN_STD: f32 = 1e-6;

/// How to carve a validation set and an optional training subset out of the training images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SplitOptions {
    /// Number of training images held out for validation.
    pub validation: usize,
    /// Seed of the permutation that decides the split (the same for every run seed).
    pub split_seed: u64,
    /// Use only the first N images of the (permuted) training part, if set.
    pub train_subset: Option<usize>,
    /// Standardize pixels with the training part's mean and std instead of [0, 1] scaling.
    pub standardize: bool,
}

/// Which held-out part to evaluate on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The validation images carved out of the training set.
    Validation,
    /// The official test set.
    Test,
}

/// A deterministic train/validation split of a dataset, with optional standardization.
///
/// Built once per configuration and shared read-only; each run shuffles batches with its
/// own RNG through [`Splits::train_epoch`].
#[derive(Clone)]
pub struct Splits {
    dataset: Arc<Dataset>,
    train: Vec<usize>,
    validation: Vec<usize>,
    normalization: Option<(f32, f32)>,
}

impl Splits {
    /// Splits the training images of `ds` as `opts` says.
    ///
    /// The indices `0..train_len` are permuted with ChaCha8 seeded by `split_seed`; the first
    /// `validation` become the validation set and the rest the training part, of which
    /// `train_subset` keeps the first N. Fails with [`DataError::InvalidSplit`] when no
    /// training image would be left or the subset is larger than what is available.
    pub fn new(ds: Arc<Dataset>, opts: &SplitOptions) -> Result<Splits> {
        let available = ds.train_len();
        if opts.validation >= available {
            return Err(DataError::InvalidSplit {
                detail: format!(
                    "validation size {} leaves no training images: the {} dataset has {available}",
                    opts.validation, ds.name
                ),
            });
        }
        let mut order: Vec<usize> = (0..available).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(opts.split_seed));
        let mut train = order.split_off(opts.validation);
        let validation = order;
        if let Some(subset) = opts.train_subset {
            if subset == 0 || subset > train.len() {
                return Err(DataError::InvalidSplit {
                    detail: format!(
                        "train subset {subset} must be between 1 and the {} training images left after holding out {} for validation",
                        train.len(),
                        validation.len()
                    ),
                });
            }
            train.truncate(subset);
        }
        let normalization = opts.standardize.then(|| {
            let features = ds.features();
            let rows = train
                .iter()
                .map(|&i| &ds.train_images[i * features..(i + 1) * features]);
            let (mean, std) = mean_std(rows);
            let std = if (std as f32) < MIN_STD {
                1.0
            } else {
                std as f32
            };
            (mean as f32, std)
        });
        Ok(Splits {
            dataset: ds,
            train,
            validation,
            normalization,
        })
    }

    /// The dataset this split is drawn from.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// Number of input features per image.
    pub fn features(&self) -> usize {
        self.dataset.features()
    }

    /// Number of images in the training part (after subsetting).
    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    /// Number of validation images.
    pub fn val_len(&self) -> usize {
        self.validation.len()
    }

    /// Number of test images.
    pub fn test_len(&self) -> usize {
        self.dataset.test_len()
    }

    /// Number of images in a held-out part.
    pub fn part_len(&self, part: Part) -> usize {
        match part {
            Part::Validation => self.val_len(),
            Part::Test => self.test_len(),
        }
    }

    /// Indices (into the dataset's training images) of the training part, in split order.
    pub fn train_indices(&self) -> &[usize] {
        &self.train
    }

    /// Indices (into the dataset's training images) of the validation set.
    pub fn validation_indices(&self) -> &[usize] {
        &self.validation
    }

    /// The `(mean, std)` applied as `(x - mean) / std`, when standardizing.
    pub fn normalization(&self) -> Option<(f32, f32)> {
        self.normalization
    }

    /// One epoch of training mini-batches, shuffled with `rng` (owned by the run).
    ///
    /// Every training image appears exactly once; the last batch may be smaller.
    ///
    /// # Panics
    /// If `batch_size` is zero.
    pub fn train_epoch(&self, batch_size: usize, rng: &mut impl rand::Rng) -> TrainBatches<'_> {
        assert!(batch_size > 0, "batch size must be positive");
        let mut order = self.train.clone();
        order.shuffle(rng);
        TrainBatches {
            splits: self,
            order,
            next: 0,
            batch_size,
            augment: None,
        }
    }

    /// Mini-batches over the validation or test images, in a fixed order.
    ///
    /// # Panics
    /// If `batch_size` is zero.
    pub fn eval_batches(&self, part: Part, batch_size: usize) -> EvalBatches<'_> {
        assert!(batch_size > 0, "batch size must be positive");
        EvalBatches {
            splits: self,
            part,
            next: 0,
            batch_size,
        }
    }

    /// Copies the given training images (and labels) into a batch, augmenting each one first
    /// when asked to.
    fn gather_train(&self, indices: &[usize], augment: Option<&mut Augmenter>) -> Batch {
        let features = self.features();
        let ds = &self.dataset;
        let mut images = Vec::with_capacity(indices.len() * features);
        for &i in indices {
            images.extend_from_slice(&ds.train_images[i * features..(i + 1) * features]);
        }
        if let Some(a) = augment {
            for image in images.chunks_exact_mut(features) {
                a.augment
                    .apply(image, ds.rows, ds.cols, &mut a.scratch, &mut a.rng);
            }
        }
        let labels = indices
            .iter()
            .map(|&i| u32::from(ds.train_labels[i]))
            .collect();
        self.finish(images, labels)
    }

    /// Copies the contiguous test images `start..end` into a batch.
    fn gather_test(&self, start: usize, end: usize) -> Batch {
        let features = self.features();
        let ds = &self.dataset;
        let images = ds.test_images[start * features..end * features].to_vec();
        let labels = ds.test_labels[start..end]
            .iter()
            .map(|&l| u32::from(l))
            .collect();
        self.finish(images, labels)
    }

    fn finish(&self, mut images: Vec<f32>, labels: Vec<u32>) -> Batch {
        if let Some((mean, std)) = self.normalization {
            for x in &mut images {
                *x = (*x - mean) / std;
            }
        }
        Batch { images, labels }
    }
}

impl fmt::Debug for Splits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Splits")
            .field("dataset", &self.dataset.name)
            .field("train_len", &self.train_len())
            .field("val_len", &self.val_len())
            .field("test_len", &self.test_len())
            .field("normalization", &self.normalization)
            .finish()
    }
}

/// A mini-batch: images row-major (`len() * features` values) and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Pixel values, one image after another.
    pub images: Vec<f32>,
    /// Class index of each image.
    pub labels: Vec<u32>,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Iterator over one shuffled epoch of training batches; see [`Splits::train_epoch`].
#[derive(Debug)]
pub struct TrainBatches<'a> {
    splits: &'a Splits,
    order: Vec<usize>,
    next: usize,
    batch_size: usize,
    augment: Option<Augmenter>,
}

/// An augmentation with the random stream it draws from and a buffer for its translations.
#[derive(Debug)]
struct Augmenter {
    augment: Augment,
    rng: ChaCha8Rng,
    scratch: Vec<f32>,
}

impl TrainBatches<'_> {
    /// Augments every image of the following batches with `augment`, drawing from `rng`
    /// (image after image, in batch order); an identity augmentation draws nothing.
    pub fn augmented(mut self, augment: Augment, rng: ChaCha8Rng) -> Self {
        self.augment = (!augment.is_identity()).then(|| Augmenter {
            augment,
            rng,
            scratch: vec![0.0; self.splits.features()],
        });
        self
    }
}

impl Iterator for TrainBatches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let batch = self
            .splits
            .gather_train(&self.order[self.next..end], self.augment.as_mut());
        self.next = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for TrainBatches<'_> {}

/// Iterator over validation or test batches in fixed order; see [`Splits::eval_batches`].
#[derive(Debug)]
pub struct EvalBatches<'a> {
    splits: &'a Splits,
    part: Part,
    next: usize,
    batch_size: usize,
}

impl Iterator for EvalBatches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let len = self.splits.part_len(self.part);
        if self.next >= len {
            return None;
        }
        let end = (self.next + self.batch_size).min(len);
        let batch = match self.part {
            Part::Validation => self
                .splits
                .gather_train(&self.splits.validation[self.next..end], None),
            Part::Test => self.splits.gather_test(self.next, end),
        };
        self.next = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.splits.part_len(self.part) - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for EvalBatches<'_> {}
