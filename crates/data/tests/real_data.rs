//! Checks against the real datasets; runs only when FCNSWEEP_DATA points at them.

use std::time::Instant;

use fcnsweep_data::{stats, verify, ChecksumStatus, Dataset, DatasetName};
use fcnsweep_testkit::real_data_dir;

#[test]
fn real_datasets_match_the_sanity_figures() {
    let Some(data_dir) = real_data_dir() else {
        return;
    };
    for name in DatasetName::ALL {
        for status in verify(name, &data_dir).unwrap() {
            assert_eq!(status.status, ChecksumStatus::Ok, "{name} {}", status.stem);
        }

        let started = Instant::now();
        let ds = Dataset::load(&data_dir, name).unwrap();
        eprintln!("{name}: loaded in {:?}", started.elapsed());
        let s = stats(&ds);
        assert_eq!((s.train_count, s.test_count), (60_000, 10_000));
        assert_eq!(ds.features(), 784);
        let mean_255 = s.pixel_mean * 255.0;
        match name {
            DatasetName::Mnist => {
                assert_eq!(
                    s.train_class_counts,
                    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
                );
                assert!((mean_255 - 33.32).abs() < 0.01, "mean {mean_255}");
            }
            DatasetName::FashionMnist => {
                assert_eq!(s.train_class_counts, [6000; 10]);
                assert_eq!(s.test_class_counts, [1000; 10]);
                assert!((mean_255 - 72.94).abs() < 0.01, "mean {mean_255}");
            }
        }
        assert_eq!(s.test_class_counts.iter().sum::<usize>(), 10_000);
    }
}
