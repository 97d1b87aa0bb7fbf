//! Train/validation splits and batching over a tiny dataset.

use std::sync::Arc;

use fcnsweep_data::{Augment, DataError, Dataset, DatasetName, Part, SplitOptions, Splits};
use fcnsweep_testkit::idx::{write_dataset, Naming, Pixels};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tempfile::TempDir;

const TRAIN: usize = 300;
const TEST: usize = 23;

fn tiny() -> Arc<Dataset> {
    let tmp = TempDir::new().unwrap();
    write_dataset(
        tmp.path(),
        TRAIN,
        TEST,
        Naming::Dashed,
        true,
        Pixels::Indexed,
    );
    Dataset::load_dir(tmp.path(), DatasetName::Mnist).unwrap()
}

fn opts(validation: usize, split_seed: u64) -> SplitOptions {
    SplitOptions {
        validation,
        split_seed,
        train_subset: None,
        standardize: false,
    }
}

/// The training-image index a (non-standardized) batch row came from, decoded from its pixels.
fn row_index(row: &[f32]) -> usize {
    let byte = |x: f32| (x * 255.0).round() as usize;
    byte(row[0]) + 256 * byte(row[1])
}

#[test]
fn same_seed_same_split_other_seed_other_split() {
    let ds = tiny();
    let a = Splits::new(Arc::clone(&ds), &opts(50, 7)).unwrap();
    let b = Splits::new(Arc::clone(&ds), &opts(50, 7)).unwrap();
    let c = Splits::new(Arc::clone(&ds), &opts(50, 8)).unwrap();
    assert_eq!(a.train_indices(), b.train_indices());
    assert_eq!(a.validation_indices(), b.validation_indices());
    assert_ne!(a.validation_indices(), c.validation_indices());
    assert_eq!((a.train_len(), a.val_len(), a.test_len()), (250, 50, TEST));
    assert_eq!(a.features(), 784);
    assert!(Arc::ptr_eq(a.dataset(), &ds));
}

#[test]
fn validation_is_disjoint_from_train_and_together_they_cover_everything() {
    let ds = tiny();
    let s = Splits::new(ds, &opts(60, 1)).unwrap();
    let mut all: Vec<usize> = s
        .train_indices()
        .iter()
        .chain(s.validation_indices())
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..TRAIN).collect::<Vec<_>>());
}

#[test]
fn subset_takes_the_first_n_of_the_training_part() {
    let ds = tiny();
    let full = Splits::new(Arc::clone(&ds), &opts(40, 3)).unwrap();
    let subset = Splits::new(
        ds,
        &SplitOptions {
            train_subset: Some(17),
            ..opts(40, 3)
        },
    )
    .unwrap();
    assert_eq!(subset.train_indices(), &full.train_indices()[..17]);
    assert_eq!(subset.validation_indices(), full.validation_indices());
}

#[test]
fn impossible_splits_are_rejected() {
    let ds = tiny();
    for bad in [
        opts(TRAIN, 0),
        opts(TRAIN + 1, 0),
        SplitOptions {
            train_subset: Some(TRAIN - 10 + 1),
            ..opts(10, 0)
        },
        SplitOptions {
            train_subset: Some(0),
            ..opts(10, 0)
        },
    ] {
        let err = Splits::new(Arc::clone(&ds), &bad).unwrap_err();
        assert!(matches!(err, DataError::InvalidSplit { .. }), "{err}");
    }
    // The largest valid subset is fine.
    let s = Splits::new(
        ds,
        &SplitOptions {
            train_subset: Some(TRAIN - 10),
            ..opts(10, 0)
        },
    )
    .unwrap();
    assert_eq!(s.train_len(), TRAIN - 10);
}

#[test]
fn an_epoch_covers_every_training_image_once_with_a_partial_last_batch() {
    let ds = tiny();
    let s = Splits::new(Arc::clone(&ds), &opts(45, 2)).unwrap(); // 255 training images
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let batches: Vec<_> = s.train_epoch(32, &mut rng).collect();
    assert_eq!(batches.len(), 8);
    assert!(batches[..7].iter().all(|b| b.len() == 32));
    assert_eq!(batches[7].len(), 255 - 7 * 32);
    let mut seen = Vec::new();
    for batch in &batches {
        assert!(!batch.is_empty());
        assert_eq!(batch.images.len(), batch.len() * 784);
        for (row, &label) in batch.images.chunks(784).zip(&batch.labels) {
            let i = row_index(row);
            assert_eq!(label, u32::from(ds.train_labels[i]));
            assert_eq!(row, &ds.train_images[i * 784..(i + 1) * 784]);
            seen.push(i);
        }
    }
    let order = seen.clone();
    seen.sort_unstable();
    let mut expected = s.train_indices().to_vec();
    expected.sort_unstable();
    assert_eq!(seen, expected);
    // Shuffled, and reproducibly so for the same run seed.
    assert_ne!(order, s.train_indices());
    let again: Vec<usize> = s
        .train_epoch(32, &mut ChaCha8Rng::seed_from_u64(99))
        .flat_map(|b| b.images.chunks(784).map(row_index).collect::<Vec<_>>())
        .collect();
    assert_eq!(again, order);
    assert_eq!(s.train_epoch(256, &mut rng).len(), 1);
    assert_eq!(s.train_epoch(255, &mut rng).len(), 1);
    assert_eq!(s.train_epoch(1, &mut rng).len(), 255);
}

#[test]
fn eval_batches_come_in_fixed_order() {
    let ds = tiny();
    let s = Splits::new(Arc::clone(&ds), &opts(45, 2)).unwrap();
    let val: Vec<usize> = s
        .eval_batches(Part::Validation, 10)
        .flat_map(|b| b.images.chunks(784).map(row_index).collect::<Vec<_>>())
        .collect();
    assert_eq!(val, s.validation_indices());
    assert_eq!(s.eval_batches(Part::Validation, 10).len(), 5);

    let test: Vec<_> = s.eval_batches(Part::Test, 10).collect();
    assert_eq!(
        test.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [10, 10, 3]
    );
    let images: Vec<f32> = test.iter().flat_map(|b| b.images.clone()).collect();
    let labels: Vec<u32> = test.iter().flat_map(|b| b.labels.clone()).collect();
    assert_eq!(images, ds.test_images);
    assert_eq!(
        labels,
        ds.test_labels
            .iter()
            .map(|&l| u32::from(l))
            .collect::<Vec<_>>()
    );

    let no_val = Splits::new(ds, &opts(0, 2)).unwrap();
    assert_eq!(no_val.eval_batches(Part::Validation, 10).count(), 0);
}

#[test]
fn standardization_uses_the_training_part_statistics() {
    let ds = tiny();
    let s = Splits::new(
        Arc::clone(&ds),
        &SplitOptions {
            standardize: true,
            train_subset: Some(100),
            ..opts(50, 4)
        },
    )
    .unwrap();
    let (mean, std) = s.normalization().unwrap();
    assert!(mean > 0.0 && std > 0.0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let values: Vec<f64> = s
        .train_epoch(64, &mut rng)
        .flat_map(|b| b.images)
        .map(f64::from)
        .collect();
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
    assert!(m.abs() < 1e-4, "mean {m}");
    assert!((sd - 1.0).abs() < 1e-4, "std {sd}");

    // The same transform is applied to the held-out parts.
    let test = s.eval_batches(Part::Test, 100).next().unwrap();
    let expected = (ds.test_images[5] - mean) / std;
    assert!((test.images[5] - expected).abs() < 1e-6);
    assert!(Splits::new(ds, &opts(50, 4))
        .unwrap()
        .normalization()
        .is_none());
}

/// `image` (28x28) translated so that output (r, c) is input (r + dy, c + dx), black outside,
/// then mirrored left-right when `flip`.
fn moved(image: &[f32], dy: isize, dx: isize, flip: bool) -> Vec<f32> {
    let mut out = vec![0.0; 784];
    for r in 0..28isize {
        for c in 0..28isize {
            let (sr, sc) = (r + dy, c + dx);
            if (0..28).contains(&sr) && (0..28).contains(&sc) {
                out[(r * 28 + c) as usize] = image[(sr * 28 + sc) as usize];
            }
        }
    }
    if flip {
        out.chunks_mut(28).for_each(|row| row.reverse());
    }
    out
}

#[test]
fn augmented_epochs_keep_order_and_labels_and_move_each_image() {
    let ds = tiny();
    let s = Splits::new(Arc::clone(&ds), &opts(50, 4)).unwrap();
    let augment = Augment {
        shift: 2,
        flip: true,
    };
    let plain: Vec<_> = s
        .train_epoch(32, &mut ChaCha8Rng::seed_from_u64(1))
        .collect();
    let augmented: Vec<_> = s
        .train_epoch(32, &mut ChaCha8Rng::seed_from_u64(1))
        .augmented(augment, ChaCha8Rng::seed_from_u64(2))
        .collect();
    assert_eq!(plain.len(), augmented.len());
    let (mut changed, mut rows) = (0, 0);
    for (p, a) in plain.iter().zip(&augmented) {
        assert_eq!(p.labels, a.labels);
        for (orig, got) in p.images.chunks(784).zip(a.images.chunks(784)) {
            rows += 1;
            changed += usize::from(orig != got);
            let found = (-2..=2).any(|dy| {
                (-2..=2).any(|dx| [false, true].iter().any(|&f| moved(orig, dy, dx, f) == got))
            });
            assert!(
                found,
                "row {rows} is no shift of at most 2 pixels, flipped or not"
            );
        }
    }
    // 1 in 50 images draws no shift and no flip.
    assert!(
        changed * 10 > rows * 9,
        "{changed} of {rows} images changed"
    );
    // The identity augmentation is the plain epoch; held-out parts are never augmented.
    let same: Vec<_> = s
        .train_epoch(32, &mut ChaCha8Rng::seed_from_u64(1))
        .augmented(Augment::default(), ChaCha8Rng::seed_from_u64(2))
        .collect();
    assert_eq!(same, plain);
}

#[test]
fn augmentation_shifts_in_black_before_standardizing() {
    let ds = tiny();
    let s = Splits::new(
        Arc::clone(&ds),
        &SplitOptions {
            standardize: true,
            ..opts(50, 4)
        },
    )
    .unwrap();
    let (mean, std) = s.normalization().unwrap();
    let augment = Augment {
        shift: 3,
        flip: false,
    };
    let black = (0.0 - mean) / std;
    let batches = s
        .train_epoch(300, &mut ChaCha8Rng::seed_from_u64(1))
        .augmented(augment, ChaCha8Rng::seed_from_u64(2));
    // A shifted image has at least one whole row or column of black (standardized) pixels.
    let mut shifted = 0;
    for b in batches {
        for img in b.images.chunks(784) {
            let black_row = (0..28).any(|r| img[r * 28..(r + 1) * 28].iter().all(|&x| x == black));
            let black_col = (0..28).any(|c| (0..28).all(|r| img[r * 28 + c] == black));
            shifted += usize::from(black_row || black_col);
        }
    }
    assert!(
        shifted > 200,
        "{shifted} of 250 images show shifted-in black"
    );
}
