//! The known datasets: names, class names, files with their checksums, and download mirrors.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::DataError;

/// Environment variable naming the data directory when none is given explicitly.
pub const DATA_DIR_ENV: &str = "FCNSWEEP_DATA";

/// Data directory used when neither an explicit one nor [`DATA_DIR_ENV`] is given.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// A dataset fcnsweep knows how to fetch and load.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// Fashion-MNIST (Zalando Research): 28x28 grey images of clothing, 10 classes.
    FashionMnist,
    /// MNIST handwritten digits: 28x28 grey images, 10 classes.
    Mnist,
}

impl DatasetName {
    /// The names of the ten classes, by label.
    pub fn class_names(self) -> [&'static str; 10] {
        match self {
            Self::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            Self::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
        }
    }

    /// Every dataset, in the order of [`DatasetName::NAMES`].
    pub const ALL: [DatasetName; 2] = [DatasetName::FashionMnist, DatasetName::Mnist];

    /// The accepted names, as used on the command line and in folder names.
    pub const NAMES: &'static [&'static str] = &["fashion-mnist", "mnist"];

    /// Parses a dataset name ("fashion-mnist" or "mnist"), naming the valid ones on error.
    pub fn parse(s: &str) -> Result<Self, DataError> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| DataError::UnknownDataset {
                value: s.to_string(),
                valid: Self::NAMES.join(", "),
            })
    }

    /// The canonical name, which is also the dataset's folder name under the data directory.
    pub fn name(self) -> &'static str {
        match self {
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Mnist => "mnist",
        }
    }

    /// The static description of this dataset: classes, files and mirrors.
    pub fn spec(self) -> &'static DatasetSpec {
        match self {
            DatasetName::FashionMnist => &FASHION_MNIST,
            DatasetName::Mnist => &MNIST,
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetName {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatasetName::parse(s)
    }
}

/// Static description of a dataset: its classes, its four files and where to download them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// Which dataset this describes.
    pub name: DatasetName,
    /// Human-readable class names, indexed by label.
    pub classes: [&'static str; 10],
    /// The four IDX files (train/test images/labels).
    pub files: [FileSpec; 4],
    /// Base URLs (ending in '/') tried in order; the `.gz` file name is appended.
    pub mirrors: &'static [&'static str],
}

impl DatasetSpec {
    /// The file playing the given role.
    pub fn file(&self, role: FileRole) -> &FileSpec {
        self.files
            .iter()
            .find(|f| f.role == role)
            .expect("every dataset spec lists all four file roles")
    }
}

/// What one of the four IDX files of a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileRole {
    /// Training images (IDX3).
    TrainImages,
    /// Training labels (IDX1).
    TrainLabels,
    /// Test images (IDX3).
    TestImages,
    /// Test labels (IDX1).
    TestLabels,
}

/// One IDX file of a dataset, identified by its stem and the SHA-256 of its uncompressed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// What the file holds.
    pub role: FileRole,
    /// File name without compression suffix, e.g. "train-images-idx3-ubyte".
    pub stem: &'static str,
    /// Hex SHA-256 of the decompressed content (independent of the compressor used).
    pub sha256: &'static str,
}

impl FileSpec {
    /// The compressed file name, as found on the mirrors: `<stem>.gz`.
    pub fn gz_name(&self) -> String {
        format!("{}.gz", self.stem)
    }
}

static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::FashionMnist,
    classes: [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    files: [
        FileSpec {
            role: FileRole::TrainImages,
            stem: "train-images-idx3-ubyte",
            sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        },
        FileSpec {
            role: FileRole::TrainLabels,
            stem: "train-labels-idx1-ubyte",
            sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        FileSpec {
            role: FileRole::TestImages,
            stem: "t10k-images-idx3-ubyte",
            sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        },
        FileSpec {
            role: FileRole::TestLabels,
            stem: "t10k-labels-idx1-ubyte",
            sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ],
    mirrors: &[
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
};

static MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::Mnist,
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    files: [
        FileSpec {
            role: FileRole::TrainImages,
            stem: "train-images-idx3-ubyte",
            sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        },
        FileSpec {
            role: FileRole::TrainLabels,
            stem: "train-labels-idx1-ubyte",
            sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        FileSpec {
            role: FileRole::TestImages,
            stem: "t10k-images-idx3-ubyte",
            sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        },
        FileSpec {
            role: FileRole::TestLabels,
            stem: "t10k-labels-idx1-ubyte",
            sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ],
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
};

/// Chooses the data directory: `explicit` if given, else `$FCNSWEEP_DATA`, else `./data`.
///
/// Each dataset lives in `<data_dir>/<name>/`.
pub fn resolve_data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DATA_DIR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for name in DatasetName::ALL {
            assert_eq!(DatasetName::parse(name.name()).unwrap(), name);
            assert_eq!(name.to_string(), name.name());
            assert_eq!(name.spec().name, name);
        }
        let err = DatasetName::parse("cifar").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown dataset 'cifar': expected one of fashion-mnist, mnist"
        );
    }

    #[test]
    fn serde_uses_the_canonical_names() {
        for name in DatasetName::ALL {
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(json, format!("\"{}\"", name.name()));
            assert_eq!(serde_json::from_str::<DatasetName>(&json).unwrap(), name);
        }
    }

    #[test]
    fn specs_are_complete() {
        for name in DatasetName::ALL {
            let spec = name.spec();
            assert!(spec.mirrors.len() >= 2);
            assert!(spec.mirrors.iter().all(|m| m.ends_with('/')));
            for role in [
                FileRole::TrainImages,
                FileRole::TrainLabels,
                FileRole::TestImages,
                FileRole::TestLabels,
            ] {
                let file = spec.file(role);
                assert_eq!(file.sha256.len(), 64);
                assert!(file.gz_name().ends_with("-ubyte.gz"));
            }
        }
    }

    #[test]
    fn explicit_data_dir_wins() {
        assert_eq!(
            resolve_data_dir(Some(Path::new("/x/data"))),
            PathBuf::from("/x/data")
        );
    }
}
