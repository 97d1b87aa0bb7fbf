//! Summary statistics of a loaded dataset, shown by `fcnsweep data info`.

use crate::dataset::Dataset;
use crate::idx::NUM_CLASSES;

/// Counts, class balance and pixel statistics of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetStats {
    /// Number of training images.
    pub train_count: usize,
    /// Number of test images.
    pub test_count: usize,
    /// Training images per class.
    pub train_class_counts: [usize; NUM_CLASSES],
    /// Test images per class.
    pub test_class_counts: [usize; NUM_CLASSES],
    /// Mean pixel value over the training images, on the [0, 1] scale.
    pub pixel_mean: f64,
    /// Standard deviation of the pixel values over the training images, on the [0, 1] scale.
    pub pixel_std: f64,
}

/// Computes [`DatasetStats`] for a dataset (pixel statistics over the training images).
pub fn stats(ds: &Dataset) -> DatasetStats {
    let (pixel_mean, pixel_std) = mean_std([ds.train_images.as_slice()]);
    DatasetStats {
        train_count: ds.train_len(),
        test_count: ds.test_len(),
        train_class_counts: class_counts(&ds.train_labels),
        test_class_counts: class_counts(&ds.test_labels),
        pixel_mean,
        pixel_std,
    }
}

fn class_counts(labels: &[u8]) -> [usize; NUM_CLASSES] {
    let mut counts = [0; NUM_CLASSES];
    for &label in labels {
        counts[usize::from(label)] += 1;
    }
    counts
}

/// Population mean and standard deviation of all values in `chunks`, accumulated in f64;
/// (0, 0) when there are no values.
pub(crate) fn mean_std<'a>(chunks: impl IntoIterator<Item = &'a [f32]>) -> (f64, f64) {
    let (mut sum, mut sum_sq, mut count) = (0.0f64, 0.0f64, 0usize);
    for chunk in chunks {
        for &v in chunk {
            let v = f64::from(v);
            sum += v;
            sum_sq += v * v;
        }
        count += chunk.len();
    }
    if count == 0 {
        return (0.0, 0.0);
    }
    let n = count as f64;
    let mean = sum / n;
    let var = (sum_sq / n - mean * mean).max(0.0);
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DatasetName;

    #[test]
    fn stats_count_classes_and_pixels() {
        let ds = Dataset {
            name: DatasetName::Mnist,
            rows: 1,
            cols: 2,
            train_images: vec![0.0, 1.0, 0.0, 1.0],
            train_labels: vec![3, 3],
            test_images: vec![0.5, 0.5],
            test_labels: vec![9],
        };
        let s = stats(&ds);
        assert_eq!(s.train_count, 2);
        assert_eq!(s.test_count, 1);
        assert_eq!(s.train_class_counts[3], 2);
        assert_eq!(s.test_class_counts[9], 1);
        assert!((s.pixel_mean - 0.5).abs() < 1e-12);
        assert!((s.pixel_std - 0.5).abs() < 1e-12);
    }
}
