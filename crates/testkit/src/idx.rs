//! Tiny datasets as IDX files: the four files' names and a deterministic pixel pattern.

use std::path::Path;

use fcnsweep_data::idx::{write_images, write_labels};
use fcnsweep_data::{IdxImages, IdxLabels};

/// Stems of a dataset's four files, in registry order.
pub const STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Naming style of files written by [`write_dataset`].
#[derive(Clone, Copy, Debug)]
pub enum Naming {
    /// `train-images-idx3-ubyte`
    Dashed,
    /// `train-images.idx3-ubyte`
    Dotted,
}

/// File name of `stem` in the given style, with `.gz` when `gzip`.
pub fn file_name(stem: &str, naming: Naming, gzip: bool) -> String {
    let base = match naming {
        Naming::Dashed => stem.to_string(),
        Naming::Dotted => stem.replacen("-idx", ".idx", 1),
    };
    if gzip {
        format!("{base}.gz")
    } else {
        base
    }
}

/// The pixel pattern of a tiny dataset.
#[derive(Clone, Copy, Debug)]
pub enum Pixels {
    /// The first two pixels encode the image index (`i % 256`, `i / 256`), so a test can tell
    /// which image a batch row came from; the rest is a fixed pattern.
    Indexed,
    /// Each class has its own bright band of rows, so that a network can learn something.
    Banded,
}

impl Pixels {
    /// Pixel `p` of image `i`, whose label is `label`.
    fn value(self, i: usize, p: usize, label: u8) -> u8 {
        match self {
            Pixels::Indexed => match p {
                0 => (i % 256) as u8,
                1 => (i / 256) as u8,
                _ => ((p * 7 + i * 13) % 256) as u8,
            },
            Pixels::Banded if (p / 28) / 3 == usize::from(label) => 200,
            Pixels::Banded => ((p * 7 + i * 13) % 40) as u8,
        }
    }
}

/// `count` 28×28 images in the `pixels` pattern, labelled `(i + offset) % 10`.
pub fn tiny_part(count: usize, offset: usize, pixels: Pixels) -> (IdxImages, IdxLabels) {
    let labels: Vec<u8> = (0..count).map(|i| ((i + offset) % 10) as u8).collect();
    let mut data = Vec::with_capacity(count * 784);
    for (i, &label) in labels.iter().enumerate() {
        data.extend((0..784).map(|p| pixels.value(i, p, label)));
    }
    let images = IdxImages {
        count,
        rows: 28,
        cols: 28,
        pixels: data,
    };
    (images, IdxLabels { labels })
}

/// Writes a tiny dataset into the dataset folder `dir` (created if missing): `train`
/// training images (labels from 0) and `test` test images (labels from 3), gzip-compressed
/// when `gzip`.
pub fn write_dataset(
    dir: &Path,
    train: usize,
    test: usize,
    naming: Naming,
    gzip: bool,
    pixels: Pixels,
) {
    std::fs::create_dir_all(dir).expect("create dataset dir");
    let (train_images, train_labels) = tiny_part(train, 0, pixels);
    let (test_images, test_labels) = tiny_part(test, 3, pixels);
    let path = |stem: &str| dir.join(file_name(stem, naming, gzip));
    write_images(&path(STEMS[0]), &train_images, gzip).expect("write images");
    write_labels(&path(STEMS[1]), &train_labels, gzip).expect("write labels");
    write_images(&path(STEMS[2]), &test_images, gzip).expect("write images");
    write_labels(&path(STEMS[3]), &test_labels, gzip).expect("write labels");
}
