//! A whole dataset decoded into memory, pixels scaled to [0, 1].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{DataError, Result};
use crate::idx::{self, IdxImages};
use crate::registry::{DatasetName, FileRole};

/// Image height every dataset of ours must have.
pub const IMAGE_ROWS: usize = 28;
/// Image width every dataset of ours must have.
pub const IMAGE_COLS: usize = 28;
/// Training images of every dataset of ours (FashionMNIST and MNIST both have 60,000).
pub const TRAIN_IMAGES: usize = 60_000;

/// A dataset decoded into memory: train and test images as f32 in [0, 1], with labels.
///
/// Loaded once and shared read-only (behind an `Arc`) by every run of a sweep.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    /// Which dataset this is.
    pub name: DatasetName,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// `train_len() * features()` values, pixel/255, image after image (row-major).
    pub train_images: Vec<f32>,
    /// One class index (0..=9) per training image.
    pub train_labels: Vec<u8>,
    /// `test_len() * features()` values, pixel/255, image after image (row-major).
    pub test_images: Vec<f32>,
    /// One class index (0..=9) per test image.
    pub test_labels: Vec<u8>,
}

impl Dataset {
    /// Number of input features per image (`rows * cols`).
    pub fn features(&self) -> usize {
        self.rows * self.cols
    }

    /// Number of training images.
    pub fn train_len(&self) -> usize {
        self.train_labels.len()
    }

    /// Number of test images.
    pub fn test_len(&self) -> usize {
        self.test_labels.len()
    }

    /// Loads dataset `name` from `<data_dir>/<name>/`.
    ///
    /// Fails with [`DataError::MissingDataset`] (which tells how to fetch it) when a file is
    /// missing. Checksums are not verified here; `fetch` and `verify` do that.
    pub fn load(data_dir: &Path, name: DatasetName) -> Result<Arc<Dataset>> {
        Self::load_dir(&data_dir.join(name.name()), name)
    }

    /// Loads dataset `name` from the folder `dir` holding its four IDX files directly.
    ///
    /// Files may be gzip or plain and use either naming style; counts are taken from the
    /// files, which must hold 28x28 images and matching image and label counts.
    pub fn load_dir(dir: &Path, name: DatasetName) -> Result<Arc<Dataset>> {
        let started = Instant::now();
        let spec = name.spec();
        let mut found = Vec::with_capacity(spec.files.len());
        let mut missing = Vec::new();
        for file in &spec.files {
            match idx::find_file(dir, file.stem) {
                Some(path) => found.push((file.role, path)),
                None => missing.push(format!("{}[.gz]", file.stem)),
            }
        }
        if !missing.is_empty() {
            let data_dir = match dir.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            };
            return Err(DataError::MissingDataset {
                name: name.name().to_string(),
                dir: dir.to_path_buf(),
                data_dir,
                missing: missing.join(", "),
            });
        }
        let path_of = |role: FileRole| -> &Path {
            found
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, p)| p.as_path())
                .expect("all roles found")
        };

        // The training images dominate decoding time: decode them on a second thread.
        let (train, test) = std::thread::scope(|scope| {
            let train = scope.spawn(|| {
                load_part(
                    path_of(FileRole::TrainImages),
                    path_of(FileRole::TrainLabels),
                )
            });
            let test = load_part(path_of(FileRole::TestImages), path_of(FileRole::TestLabels));
            let train = train.join().expect("decoding thread panicked");
            (train, test)
        });
        let (train_images, train_labels) = train?;
        let (test_images, test_labels) = test?;

        let dataset = Dataset {
            name,
            rows: IMAGE_ROWS,
            cols: IMAGE_COLS,
            train_images,
            train_labels,
            test_images,
            test_labels,
        };
        tracing::debug!(
            dataset = %name,
            dir = %dir.display(),
            train = dataset.train_len(),
            test = dataset.test_len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "dataset loaded"
        );
        Ok(Arc::new(dataset))
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pixel vectors are far too long to print.
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("train_len", &self.train_len())
            .field("test_len", &self.test_len())
            .finish()
    }
}

/// Reads one images/labels pair, checks dims and counts, and scales pixels to [0, 1].
fn load_part(images_path: &Path, labels_path: &Path) -> Result<(Vec<f32>, Vec<u8>)> {
    let images = idx::read_images(images_path)?;
    let labels = idx::read_labels(labels_path)?.labels;
    check_dims(images_path, &images)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            images_count: images.count,
            labels_count: labels.len(),
        });
    }
    let pixels = images
        .pixels
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    Ok((pixels, labels))
}

fn check_dims(path: &Path, images: &IdxImages) -> Result<()> {
    if images.rows != IMAGE_ROWS || images.cols != IMAGE_COLS {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            detail: format!(
                "images are {}x{}, expected {IMAGE_ROWS}x{IMAGE_COLS}",
                images.rows, images.cols
            ),
        });
    }
    Ok(())
}
