//! Datasets: damaged IDX files are refused with a message naming the file and the problem;
//! `data fetch --from` imports and verifies; `data info` reports counts and checksums.

use std::fs;
use std::path::{Path, PathBuf};

use fcnsweep_data::idx::{write_bytes, write_images, write_labels};
use fcnsweep_data::{IdxImages, IdxLabels};

use crate::common::{self, real_data, s, tempdir, tiny_part, write_tiny_dataset, Rng, STEMS};

/// Something wrong with one file of an otherwise valid tiny dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The training images file replaced by random bytes (neither gzip nor IDX).
    RandomBytes,
    /// The training images file is gzip magic followed by garbage.
    CorruptGzip,
    /// The training images file ends early (header says 100 images, 10 present).
    Truncated,
    /// The training images file, uncompressed and raw-named, ends early.
    TruncatedRaw,
    /// The training labels file carries the images magic number.
    WrongMagic,
    /// The test images are 20x20.
    WrongDimensions,
    /// 30 test images but 31 test labels.
    CountMismatch,
    /// The training labels file is empty.
    EmptyFile,
    /// A training label is 12.
    LabelOutOfRange,
    /// The dataset folder does not exist.
    Missing,
    /// The test labels file is absent.
    MissingFile,
}

/// Training and test images of the tiny datasets.
pub const TINY_TRAIN: usize = 100;
/// See [`TINY_TRAIN`].
pub const TINY_TEST: usize = 30;

/// Writes the tiny dataset `<data_dir>/fashion-mnist` with `fault`; returns the path of
/// the file at fault (the dataset folder for `Missing`).
pub fn write_faulty(data_dir: &Path, fault: Fault) -> PathBuf {
    let dir = data_dir.join("fashion-mnist");
    let gz = |stem: &str| dir.join(format!("{stem}.gz"));
    if fault == Fault::Missing {
        fs::create_dir_all(data_dir).unwrap();
        return dir;
    }
    let raw = fault == Fault::TruncatedRaw;
    write_tiny_dataset(&dir, TINY_TRAIN, TINY_TEST, !raw);
    let mut rng = Rng::new(7);
    match fault {
        Fault::RandomBytes => {
            let mut bytes = rng.bytes(5000);
            bytes[0] = 0x42;
            fs::write(gz(STEMS[0]), bytes).unwrap();
            gz(STEMS[0])
        }
        Fault::CorruptGzip => {
            let mut bytes = vec![0x1f, 0x8b, 0x08, 0x00];
            bytes.extend(rng.bytes(5000));
            fs::write(gz(STEMS[0]), bytes).unwrap();
            gz(STEMS[0])
        }
        Fault::Truncated | Fault::TruncatedRaw => {
            let (mut images, _) = tiny_part(TINY_TRAIN, 0);
            images.pixels.truncate(10 * 784);
            let path = if raw {
                dir.join(STEMS[0])
            } else {
                gz(STEMS[0])
            };
            write_images(&path, &images, !raw).unwrap();
            path
        }
        Fault::WrongMagic => {
            let mut bytes = 0x0803u32.to_be_bytes().to_vec();
            bytes.extend((TINY_TRAIN as u32).to_be_bytes());
            bytes.extend(vec![1u8; TINY_TRAIN]);
            write_bytes(&gz(STEMS[1]), &bytes, true).unwrap();
            gz(STEMS[1])
        }
        Fault::WrongDimensions => {
            let images = IdxImages {
                count: TINY_TEST,
                rows: 20,
                cols: 20,
                pixels: vec![7; TINY_TEST * 400],
            };
            write_images(&gz(STEMS[2]), &images, true).unwrap();
            gz(STEMS[2])
        }
        Fault::CountMismatch => {
            let labels = IdxLabels {
                labels: (0..TINY_TEST + 1).map(|i| (i % 10) as u8).collect(),
            };
            write_labels(&gz(STEMS[3]), &labels, true).unwrap();
            gz(STEMS[2])
        }
        Fault::EmptyFile => {
            fs::write(gz(STEMS[1]), b"").unwrap();
            gz(STEMS[1])
        }
        Fault::LabelOutOfRange => {
            let (_, mut labels) = tiny_part(TINY_TRAIN, 0);
            labels.labels[17] = 12;
            write_labels(&gz(STEMS[1]), &labels, true).unwrap();
            gz(STEMS[1])
        }
        Fault::MissingFile => {
            fs::remove_file(gz(STEMS[3])).unwrap();
            gz(STEMS[3])
        }
        Fault::Missing => unreachable!(),
    }
}

/// A one-epoch `train` on the tiny dataset in `data_dir`.
fn train_tiny(cwd: &Path, data_dir: &Path) -> common::Out {
    common::run_env(
        cwd,
        &[
            "train",
            "--data-dir",
            s(data_dir),
            "--epochs",
            "1",
            "--validation",
            "20",
            "--hidden",
            "8",
            "--batch-size",
            "16",
        ],
        &[("RAYON_NUM_THREADS", "1")],
    )
}

#[test]
fn tiny_dataset_trains() {
    // The control for the fault tests: the undamaged tiny dataset, gzip and raw, works.
    for gzip in [true, false] {
        let dir = tempdir();
        let data = dir.path().join("data");
        write_tiny_dataset(&data.join("fashion-mnist"), TINY_TRAIN, TINY_TEST, gzip);
        train_tiny(dir.path(), &data)
            .ok()
            .stdout_has(&["test accuracy"]);
    }
}

#[test]
fn damaged_data_files_are_named_with_the_problem() {
    let cases: &[(Fault, &[&str])] = &[
        (
            Fault::RandomBytes,
            &["not an IDX images file (nor gzip)", "magic number is 0x"],
        ),
        (Fault::CorruptGzip, &["corrupt deflate stream"]),
        (
            Fault::Truncated,
            &["file is truncated", "the header implies 78416"],
        ),
        (
            Fault::TruncatedRaw,
            &["file is truncated", "7856 bytes of content"],
        ),
        (
            Fault::WrongMagic,
            &[
                "not an IDX labels file",
                "magic number is 0x00000803, expected 0x00000801",
            ],
        ),
        (
            Fault::WrongDimensions,
            &["bad dimensions", "images are 20x20, expected 28x28"],
        ),
        (
            Fault::CountMismatch,
            &[
                "holds 30 images but",
                "t10k-labels-idx1-ubyte.gz holds 31 labels",
            ],
        ),
        (
            Fault::EmptyFile,
            &["file is truncated", "0 bytes of content"],
        ),
        (
            Fault::LabelOutOfRange,
            &["label 12 at index 17 is out of range", "0..=9"],
        ),
        (
            Fault::MissingFile,
            &[
                "dataset 'fashion-mnist' not found",
                "missing t10k-labels-idx1-ubyte[.gz]",
                "fcnsweep data fetch --dataset fashion-mnist",
            ],
        ),
        (
            Fault::Missing,
            &[
                "dataset 'fashion-mnist' not found",
                "fcnsweep data fetch --dataset fashion-mnist --data-dir",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (fault, fragments) in cases {
        let dir = tempdir();
        let data = dir.path().join("data");
        let file = write_faulty(&data, *fault);
        let out = train_tiny(dir.path(), &data);
        let file_name = if *fault == Fault::MissingFile {
            // The message names the dataset folder and the missing stem.
            file.parent().unwrap().display().to_string()
        } else {
            file.display().to_string()
        };
        let mut missing: Vec<&str> = fragments
            .iter()
            .copied()
            .filter(|f| !out.stderr.contains(f))
            .collect();
        if !out.stderr.contains(&file_name) {
            missing.push(&file_name);
        }
        if out.code != Some(1) || !missing.is_empty() || out.stderr.contains("panicked") {
            failures.push(format!(
                "{fault:?}: expected exit 1 and {missing:?} in stderr:\n{out}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fetch_from_local_folder_imports_verifies_and_is_idempotent() {
    let Some(real) = real_data("fetch_from_local_folder") else {
        return;
    };
    let dir = tempdir();
    let data = dir.path().join("data");
    let from = real.join("mnist");
    let fetch = [
        "data",
        "fetch",
        "--dataset",
        "mnist",
        "--from",
        s(&from),
        "--data-dir",
        s(&data),
    ];
    let first = common::run(dir.path(), &fetch).ok();
    for stem in STEMS {
        assert!(
            first
                .stdout
                .contains(&format!("{stem}: imported, checksum ok")),
            "{first}"
        );
    }
    assert!(first.stdout.contains("mnist is ready in"), "{first}");
    let second = common::run(dir.path(), &fetch).ok();
    for stem in STEMS {
        assert!(
            second
                .stdout
                .contains(&format!("{stem}: already present, checksum ok")),
            "{second}"
        );
    }
    let files = common::list_files(&data.join("mnist"));
    let mut expected: Vec<String> = STEMS.iter().map(|s| format!("{s}.gz")).collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "only the four verified files, no temp files"
    );
    let info = common::run(
        dir.path(),
        &["data", "info", "--dataset", "mnist", "--data-dir", s(&data)],
    )
    .ok();
    assert!(
        info.stdout
            .contains("images       60000 train, 10000 test, 28x28"),
        "{info}"
    );
    assert_eq!(info.stdout.matches("sha256 ok").count(), 4, "{info}");
}

#[test]
fn fetch_of_a_corrupted_file_fails_naming_it_and_leaves_nothing_for_it() {
    let Some(real) = real_data("fetch_of_a_corrupted_file") else {
        return;
    };
    let dir = tempdir();
    let src = dir.path().join("src");
    fs::create_dir_all(&src).unwrap();
    for stem in STEMS {
        let name = format!("{stem}.gz");
        fs::copy(real.join("mnist").join(&name), src.join(&name)).unwrap();
    }
    // A well-formed labels file with the wrong content: only the checksum can tell.
    let bad = src.join("train-labels-idx1-ubyte.gz");
    let labels = IdxLabels {
        labels: vec![3; 60_000],
    };
    write_labels(&bad, &labels, true).unwrap();
    let data = dir.path().join("data");
    let out = common::run(
        dir.path(),
        &[
            "data",
            "fetch",
            "--dataset",
            "mnist",
            "--from",
            s(&src),
            "--data-dir",
            s(&data),
        ],
    )
    .code(1)
    .stderr_has(&[
        s(&bad),
        "SHA-256 of the decompressed content is",
        "expected 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ]);
    let left = common::list_files(&data.join("mnist"));
    assert!(
        left.iter().all(|f| !f.contains("train-labels")),
        "a file was left for the corrupted one: {left:?}\n{out}"
    );
    assert!(
        left.iter().all(|f| f.ends_with("-ubyte.gz")),
        "temp files left behind: {left:?}"
    );
}
