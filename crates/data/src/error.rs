//! The error type of the data crate: every failure names the file or dataset involved.

use std::path::{Path, PathBuf};

/// Result alias used throughout the data crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// Everything that can go wrong while fetching, verifying, reading or splitting a dataset.
///
/// Each message names the file (or dataset folder) and what is wrong with it, so it can be
/// shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading, writing or decompressing a file failed.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying I/O error (part of the message, so it is not repeated as a source).
        cause: std::io::Error,
    },

    /// The file is neither gzip nor an IDX file of the expected kind.
    #[error(
        "{}: not an IDX {} file (nor gzip): magic number is 0x{found:08x}, expected 0x{expected:08x}",
        .path.display(),
        idx_kind(*.expected)
    )]
    BadMagic {
        /// The offending file.
        path: PathBuf,
        /// Magic number the file should start with (after decompression).
        expected: u32,
        /// Magic number actually found.
        found: u32,
    },

    /// The file length does not match what its header dimensions imply.
    #[error(
        "{}: {} ({actual} bytes of content, but the header implies {expected})",
        .path.display(),
        if .actual < .expected { "file is truncated" } else { "file has trailing bytes" }
    )]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// Length in bytes implied by the header (decompressed).
        expected: u64,
        /// Actual length in bytes (decompressed).
        actual: u64,
    },

    /// The header dimensions are invalid (zero, overflowing, or not what the dataset needs).
    #[error("{}: bad dimensions: {detail}", .path.display())]
    BadDimensions {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with the dimensions.
        detail: String,
    },

    /// An images file and its labels file hold different numbers of items.
    #[error(
        "{} holds {images_count} images but {} holds {labels_count} labels",
        .images.display(),
        .labels.display()
    )]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
        /// Number of images in the images file.
        images_count: usize,
        /// Number of labels in the labels file.
        labels_count: usize,
    },

    /// A label is not one of the ten classes.
    #[error("{}: label {label} at index {index} is out of range (expected 0..=9)", .path.display())]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// Position of the bad label.
        index: usize,
        /// The bad label value.
        label: u8,
    },

    /// The SHA-256 of a file's decompressed content is not the expected one.
    #[error("{file}: SHA-256 of the decompressed content is {actual}, expected {expected}")]
    ChecksumMismatch {
        /// The file (path, or name and origin) that failed verification.
        file: String,
        /// Expected hex digest.
        expected: String,
        /// Actual hex digest.
        actual: String,
    },

    /// A dataset's files are not in the data directory; the message says how to fetch them.
    #[error(
        "dataset '{name}' not found in {} (missing {missing}); run `fcnsweep data fetch --dataset {name} --data-dir {}`",
        .dir.display(),
        shell_quote(.data_dir)
    )]
    MissingDataset {
        /// Dataset name, e.g. "fashion-mnist".
        name: String,
        /// The dataset folder that was searched (`<data_dir>/<name>`).
        dir: PathBuf,
        /// The data directory holding all datasets, for the suggested command.
        data_dir: PathBuf,
        /// The missing file stems, e.g. "train-images-idx3-ubyte[.gz]".
        missing: String,
    },

    /// A dataset name that is not in the registry.
    #[error("unknown dataset '{value}': expected one of {valid}")]
    UnknownDataset {
        /// The name given.
        value: String,
        /// Comma-separated list of valid names.
        valid: String,
    },

    /// One download attempt failed (connection, HTTP status, or transfer error).
    #[error("download of {url} failed: {detail}")]
    Download {
        /// The URL tried.
        url: String,
        /// What went wrong.
        detail: String,
    },

    /// No mirror could provide a file with the expected checksum.
    #[error("could not fetch {file} from any mirror: {}", format_attempts(.attempts))]
    AllMirrorsFailed {
        /// The file name (e.g. "train-images-idx3-ubyte.gz").
        file: String,
        /// One line per attempt: the URL and why it failed.
        attempts: Vec<String>,
    },

    /// The requested train/validation split is impossible for this dataset.
    #[error("invalid split: {detail}")]
    InvalidSplit {
        /// What is wrong, with the numbers involved.
        detail: String,
    },
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            cause: source,
        }
    }
}

fn idx_kind(magic: u32) -> &'static str {
    match magic {
        crate::idx::IMAGES_MAGIC => "images",
        crate::idx::LABELS_MAGIC => "labels",
        _ => "data",
    }
}

fn format_attempts(attempts: &[String]) -> String {
    if attempts.is_empty() {
        "no mirrors configured".to_string()
    } else {
        attempts.join("; ")
    }
}

/// Quotes a path for a shell command line when it holds anything beyond safe characters.
fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c));
    if safe {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
