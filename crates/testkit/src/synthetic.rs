//! In-memory datasets of 28×28 images drawn by a test's own generator, and their splits.

use std::sync::Arc;

use fcnsweep_data::{Dataset, DatasetName, SplitOptions, Splits};

/// A 28×28 dataset (named MNIST) of `train` training and `test` test images drawn by
/// `image`, the training part first: `image(i, pixels)` appends image `i` of its part (784
/// values, row-major) to `pixels` and returns its label.
pub fn dataset(
    train: usize,
    test: usize,
    mut image: impl FnMut(usize, &mut Vec<f32>) -> u8,
) -> Arc<Dataset> {
    let mut part = |count: usize| {
        let mut pixels = Vec::with_capacity(count * 784);
        let labels: Vec<u8> = (0..count).map(|i| image(i, &mut pixels)).collect();
        (pixels, labels)
    };
    let (train_images, train_labels) = part(train);
    let (test_images, test_labels) = part(test);
    Arc::new(Dataset {
        name: DatasetName::Mnist,
        rows: 28,
        cols: 28,
        train_images,
        train_labels,
        test_images,
        test_labels,
    })
}

/// `dataset` split with `validation` validation images drawn with `split_seed` (no subset,
/// no standardization).
pub fn splits(dataset: Arc<Dataset>, validation: usize, split_seed: u64) -> Splits {
    let opts = SplitOptions {
        validation,
        split_seed,
        ..Default::default()
    };
    Splits::new(dataset, &opts).expect("split the synthetic dataset")
}
