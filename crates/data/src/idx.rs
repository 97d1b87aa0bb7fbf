//! Reading and writing IDX files (the MNIST file format), plain or gzip-compressed.
//!
//! Compression is detected from the gzip magic bytes, never from the file name. Readers
//! validate the magic number, the dimensions and the exact file length.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{DataError, Result};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Number of classes; every label must be below this.
pub const NUM_CLASSES: usize = 10;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;
/// Upper bound on the capacity pre-allocated from a gzip trailer, to resist bogus trailers.
const MAX_PREALLOC: usize = 1 << 30;

/// The content of an IDX3 images file: `count` images of `rows` x `cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// `count * rows * cols` pixel values (0..=255), image after image.
    pub pixels: Vec<u8>,
}

/// The content of an IDX1 labels file: one class index (0..=9) per item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxLabels {
    /// One label per item.
    pub labels: Vec<u8>,
}

/// True when `bytes` start with the gzip magic bytes.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads a file whole and returns its decompressed content (gzip is detected by magic bytes).
pub fn read_file_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = fs::read(path).map_err(|e| DataError::io(path, e))?;
    decompress(path, raw)
}

/// Returns `raw` itself when it is not gzip, else its decompressed content.
pub(crate) fn decompress(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    if !is_gzip(&raw) {
        return Ok(raw);
    }
    // The gzip trailer stores the uncompressed size modulo 2^32: a good capacity hint.
    let hint = raw
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(raw[at..].try_into().expect("4 bytes")) as usize)
        .unwrap_or(0)
        .min(MAX_PREALLOC);
    let mut out = Vec::with_capacity(hint);
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| DataError::io(path, e))?;
    Ok(out)
}

/// Reads and validates an IDX3 images file (plain or gzip).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    parse_images(path, read_file_bytes(path)?)
}

/// Reads and validates an IDX1 labels file (plain or gzip); every label must be below 10.
pub fn read_labels(path: &Path) -> Result<IdxLabels> {
    parse_labels(path, read_file_bytes(path)?)
}

/// Validates decompressed IDX3 bytes and takes the pixels out of them without copying.
fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<IdxImages> {
    check_magic(path, &bytes, IMAGES_MAGIC)?;
    check_len(path, &bytes, IMAGES_HEADER as u64)?;
    let count = header_u32(&bytes, 1);
    let rows = header_u32(&bytes, 2);
    let cols = header_u32(&bytes, 3);
    if count == 0 || rows == 0 || cols == 0 {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            detail: format!("{count} images of {rows}x{cols}: every dimension must be nonzero"),
        });
    }
    let expected = (count as u64)
        .checked_mul(rows as u64)
        .and_then(|n| n.checked_mul(cols as u64))
        .and_then(|n| n.checked_add(IMAGES_HEADER as u64))
        .ok_or_else(|| DataError::BadDimensions {
            path: path.to_path_buf(),
            detail: format!("{count} images of {rows}x{cols} is too large"),
        })?;
    if bytes.len() as u64 != expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual: bytes.len() as u64,
        });
    }
    bytes.drain(..IMAGES_HEADER);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes,
    })
}

/// Validates decompressed IDX1 bytes, including the label range.
fn parse_labels(path: &Path, mut bytes: Vec<u8>) -> Result<IdxLabels> {
    check_magic(path, &bytes, LABELS_MAGIC)?;
    check_len(path, &bytes, LABELS_HEADER as u64)?;
    let count = header_u32(&bytes, 1);
    if count == 0 {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            detail: "0 labels: the count must be nonzero".to_string(),
        });
    }
    let expected = LABELS_HEADER as u64 + count as u64;
    if bytes.len() as u64 != expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual: bytes.len() as u64,
        });
    }
    bytes.drain(..LABELS_HEADER);
    if let Some(index) = bytes.iter().position(|&l| usize::from(l) >= NUM_CLASSES) {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: bytes[index],
        });
    }
    Ok(IdxLabels { labels: bytes })
}

fn check_magic(path: &Path, bytes: &[u8], expected: u32) -> Result<()> {
    check_len(path, bytes, 4)?;
    let found = header_u32(bytes, 0) as u32;
    if found != expected {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    Ok(())
}

/// Fails with `Truncated` when `bytes` is shorter than `min` (a header that is cut off).
fn check_len(path: &Path, bytes: &[u8], min: u64) -> Result<()> {
    if (bytes.len() as u64) < min {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: min,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}

/// The `i`-th big-endian u32 of the header.
fn header_u32(bytes: &[u8], i: usize) -> usize {
    let at = 4 * i;
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// Finds a dataset file in `dir` under either naming style, gzip or plain.
///
/// For the stem `train-images-idx3-ubyte` this accepts `train-images-idx3-ubyte.gz`,
/// `train-images-idx3-ubyte`, `train-images.idx3-ubyte.gz` and `train-images.idx3-ubyte`,
/// in that order of preference.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    candidate_names(stem)
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Every file name under which the file with this stem is accepted, most preferred first.
pub(crate) fn candidate_names(stem: &str) -> Vec<String> {
    let mut names = vec![format!("{stem}.gz"), stem.to_string()];
    if let Some(at) = stem.find("-idx") {
        let dotted = format!("{}.{}", &stem[..at], &stem[at + 1..]);
        names.push(format!("{dotted}.gz"));
        names.push(dotted);
    }
    names
}

/// Writes an IDX3 images file, gzip-compressed if `gzip`.
///
/// Used by tests (here and in other crates) to create tiny datasets; it does not validate
/// that `pixels` matches the dimensions, so it can also write deliberately broken files.
pub fn write_images(path: &Path, images: &IdxImages, gzip: bool) -> Result<()> {
    let mut bytes = Vec::with_capacity(IMAGES_HEADER + images.pixels.len());
    for dim in [
        IMAGES_MAGIC as usize,
        images.count,
        images.rows,
        images.cols,
    ] {
        bytes.extend_from_slice(&(dim as u32).to_be_bytes());
    }
    bytes.extend_from_slice(&images.pixels);
    write_bytes(path, &bytes, gzip)
}

/// Writes an IDX1 labels file, gzip-compressed if `gzip`.
///
/// Used by tests to create tiny datasets; labels are written as given, even out of range.
pub fn write_labels(path: &Path, labels: &IdxLabels, gzip: bool) -> Result<()> {
    let mut bytes = Vec::with_capacity(LABELS_HEADER + labels.labels.len());
    bytes.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&(labels.labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&labels.labels);
    write_bytes(path, &bytes, gzip)
}

/// Writes `bytes` to `path`, gzip-compressed if `gzip`.
///
/// Used by tests to write raw or corrupted IDX content.
pub fn write_bytes(path: &Path, bytes: &[u8], gzip: bool) -> Result<()> {
    let io_err = |e| DataError::io(path, e);
    if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).map_err(io_err)?;
        let compressed = encoder.finish().map_err(io_err)?;
        fs::write(path, compressed).map_err(io_err)
    } else {
        fs::write(path, bytes).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    fn tiny_images(count: usize) -> IdxImages {
        IdxImages {
            count,
            rows: 28,
            cols: 28,
            pixels: (0..count * 784).map(|i| (i % 251) as u8).collect(),
        }
    }

    #[test]
    fn images_round_trip_plain_and_gzip() {
        let dir = TempDir::new().unwrap();
        let images = tiny_images(3);
        for gzip in [false, true] {
            let path = dir.path().join(format!("img-{gzip}"));
            write_images(&path, &images, gzip).unwrap();
            let raw = fs::read(&path).unwrap();
            assert_eq!(is_gzip(&raw), gzip);
            assert_eq!(read_images(&path).unwrap(), images);
        }
    }

    #[test]
    fn labels_round_trip_plain_and_gzip() {
        let dir = TempDir::new().unwrap();
        let labels = IdxLabels {
            labels: vec![0, 9, 3, 3],
        };
        for gzip in [false, true] {
            // The name says .gz even when it is not: detection is by content.
            let path = dir.path().join("labels.gz");
            write_labels(&path, &labels, gzip).unwrap();
            assert_eq!(read_labels(&path).unwrap(), labels);
        }
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("labels");
        write_labels(&path, &IdxLabels { labels: vec![1] }, false).unwrap();
        match read_images(&path).unwrap_err() {
            DataError::BadMagic {
                expected, found, ..
            } => {
                assert_eq!(expected, IMAGES_MAGIC);
                assert_eq!(found, LABELS_MAGIC);
            }
            other => panic!("unexpected error {other}"),
        }
        let path = dir.path().join("text");
        fs::write(&path, b"hello world, not idx").unwrap();
        let err = read_labels(&path).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains("text"), "{err}");
    }

    #[test]
    fn truncated_and_too_long_files_are_rejected() {
        let dir = TempDir::new().unwrap();
        let mut images = tiny_images(2);
        images.pixels.pop();
        let path = dir.path().join("short.gz");
        write_images(&path, &images, true).unwrap();
        let err = read_images(&path).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { expected, actual, .. } if expected == 16 + 2 * 784 && actual == expected - 1),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");

        let mut images = tiny_images(2);
        images.pixels.push(7);
        let path = dir.path().join("long");
        write_images(&path, &images, false).unwrap();
        let err = read_images(&path).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("trailing bytes"), "{err}");

        let path = dir.path().join("header-only");
        fs::write(&path, [0, 0, 8, 3, 0, 0]).unwrap();
        let err = read_images(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    actual: 6,
                    ..
                }
            ),
            "{err}"
        );

        let mut bytes = LABELS_MAGIC.to_be_bytes().to_vec();
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let path = dir.path().join("labels-long");
        write_bytes(&path, &bytes, true).unwrap();
        let err = read_labels(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 11,
                    actual: 12,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn zero_dimensions_are_rejected() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("zero-rows");
        let images = IdxImages {
            count: 2,
            rows: 0,
            cols: 28,
            pixels: Vec::new(),
        };
        write_images(&path, &images, false).unwrap();
        let err = read_images(&path).unwrap_err();
        assert!(matches!(err, DataError::BadDimensions { .. }), "{err}");

        let path = dir.path().join("zero-labels");
        write_labels(&path, &IdxLabels { labels: vec![] }, true).unwrap();
        let err = read_labels(&path).unwrap_err();
        assert!(matches!(err, DataError::BadDimensions { .. }), "{err}");
    }

    #[test]
    fn label_out_of_range_is_rejected() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("labels");
        write_labels(
            &path,
            &IdxLabels {
                labels: vec![1, 2, 10, 3],
            },
            true,
        )
        .unwrap();
        let err = read_labels(&path).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::LabelOutOfRange {
                    index: 2,
                    label: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn corrupt_gzip_is_an_io_error_naming_the_file() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("broken.gz");
        fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
        let err = read_images(&path).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err}");
        assert!(err.to_string().contains("broken.gz"), "{err}");
    }

    #[test]
    fn find_file_accepts_both_naming_styles() {
        let dir = TempDir::new().unwrap();
        assert_eq!(find_file(dir.path(), "train-images-idx3-ubyte"), None);
        for name in [
            "train-images-idx3-ubyte.gz",
            "train-images-idx3-ubyte",
            "train-images.idx3-ubyte.gz",
            "train-images.idx3-ubyte",
            "t10k-labels.idx1-ubyte",
        ] {
            let sub = TempDir::new_in(dir.path()).unwrap();
            fs::write(sub.path().join(name), b"x").unwrap();
            let stem = if name.starts_with("t10k") {
                "t10k-labels-idx1-ubyte"
            } else {
                "train-images-idx3-ubyte"
            };
            assert_eq!(find_file(sub.path(), stem), Some(sub.path().join(name)));
        }
    }
}
