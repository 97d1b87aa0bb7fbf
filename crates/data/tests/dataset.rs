//! Loading datasets from tiny IDX files, and the errors loading reports.

use fcnsweep_data::idx::{write_images, write_labels};
use fcnsweep_data::{stats, DataError, Dataset, DatasetName, IdxImages, IdxLabels};
use fcnsweep_testkit::idx::{file_name, tiny_part, write_dataset, Naming, Pixels, STEMS};
use tempfile::TempDir;

#[test]
fn loads_gzip_and_raw_in_both_naming_styles() {
    for (naming, gzip) in [
        (Naming::Dashed, true),
        (Naming::Dashed, false),
        (Naming::Dotted, true),
        (Naming::Dotted, false),
    ] {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().join("mnist");
        write_dataset(&dir, 37, 11, naming, gzip, Pixels::Indexed);
        let ds = Dataset::load(tmp.path(), DatasetName::Mnist).unwrap();
        assert_eq!(ds.name, DatasetName::Mnist);
        assert_eq!((ds.rows, ds.cols, ds.features()), (28, 28, 784));
        assert_eq!((ds.train_len(), ds.test_len()), (37, 11));
        assert_eq!(ds.train_images.len(), 37 * 784);
        assert_eq!(ds.test_images.len(), 11 * 784);
        let (images, labels) = tiny_part(37, 0, Pixels::Indexed);
        assert_eq!(ds.train_labels, labels.labels);
        for (x, p) in ds.train_images.iter().zip(&images.pixels) {
            assert_eq!(*x, f32::from(*p) / 255.0);
        }
        assert!(ds.test_images.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}

#[test]
fn load_dir_reads_a_folder_directly() {
    let tmp = TempDir::new().unwrap();
    write_dataset(tmp.path(), 5, 3, Naming::Dashed, true, Pixels::Indexed);
    let ds = Dataset::load_dir(tmp.path(), DatasetName::FashionMnist).unwrap();
    assert_eq!((ds.train_len(), ds.test_len()), (5, 3));
    let s = stats(&ds);
    assert_eq!(s.train_count, 5);
    assert_eq!(s.test_count, 3);
    assert_eq!(s.train_class_counts.iter().sum::<usize>(), 5);
    assert_eq!(s.test_class_counts, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]);
    assert!(s.pixel_mean > 0.0 && s.pixel_mean < 1.0);
    assert!(s.pixel_std > 0.0);
}

#[test]
fn missing_dataset_says_how_to_fetch_it() {
    let tmp = TempDir::new().unwrap();
    let data_dir = tmp.path().join("data");
    let err = Dataset::load(&data_dir, DatasetName::FashionMnist).unwrap_err();
    assert!(matches!(err, DataError::MissingDataset { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("dataset 'fashion-mnist' not found in"),
        "{msg}"
    );
    assert!(msg.contains("train-images-idx3-ubyte[.gz]"), "{msg}");
    let command = format!(
        "`fcnsweep data fetch --dataset fashion-mnist --data-dir {}`",
        data_dir.display()
    );
    assert!(msg.contains(&command), "{msg}");

    // One file missing out of four: it is the one named.
    let dir = data_dir.join("fashion-mnist");
    write_dataset(&dir, 4, 2, Naming::Dashed, true, Pixels::Indexed);
    std::fs::remove_file(dir.join(file_name(STEMS[3], Naming::Dashed, true))).unwrap();
    let msg = Dataset::load(&data_dir, DatasetName::FashionMnist)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("(missing t10k-labels-idx1-ubyte[.gz])"),
        "{msg}"
    );
    assert!(msg.contains("fcnsweep data fetch --dataset"), "{msg}");
}

#[test]
fn count_mismatch_names_both_files() {
    let tmp = TempDir::new().unwrap();
    write_dataset(tmp.path(), 6, 4, Naming::Dashed, false, Pixels::Indexed);
    let (_, labels) = tiny_part(5, 0, Pixels::Indexed);
    let labels_path = tmp.path().join(STEMS[1]);
    write_labels(&labels_path, &labels, false).unwrap();
    let err = Dataset::load_dir(tmp.path(), DatasetName::Mnist).unwrap_err();
    match &err {
        DataError::CountMismatch {
            images,
            labels,
            images_count,
            labels_count,
        } => {
            assert_eq!(images, &tmp.path().join(STEMS[0]));
            assert_eq!(labels, &labels_path);
            assert_eq!((*images_count, *labels_count), (6, 5));
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn images_must_be_28_by_28() {
    let tmp = TempDir::new().unwrap();
    write_dataset(tmp.path(), 3, 2, Naming::Dashed, true, Pixels::Indexed);
    let images = IdxImages {
        count: 2,
        rows: 27,
        cols: 27,
        pixels: vec![0; 2 * 27 * 27],
    };
    write_images(&tmp.path().join(format!("{}.gz", STEMS[2])), &images, true).unwrap();
    let err = Dataset::load_dir(tmp.path(), DatasetName::Mnist).unwrap_err();
    assert!(matches!(err, DataError::BadDimensions { .. }), "{err}");
    assert!(err.to_string().contains("27x27"), "{err}");
}

#[test]
fn label_errors_surface_through_load() {
    let tmp = TempDir::new().unwrap();
    write_dataset(tmp.path(), 3, 2, Naming::Dashed, true, Pixels::Indexed);
    let labels = IdxLabels {
        labels: vec![0, 200, 1],
    };
    write_labels(&tmp.path().join(format!("{}.gz", STEMS[1])), &labels, true).unwrap();
    let err = Dataset::load_dir(tmp.path(), DatasetName::Mnist).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 200,
                ..
            }
        ),
        "{err}"
    );
}
