//! Fetching tiny datasets from a local folder and from a local HTTP server.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use common::{dir_entries, TestServer};
use fcnsweep_data::fetch::sha256_hex;
use fcnsweep_data::idx::{read_file_bytes, write_bytes};
use fcnsweep_data::{
    fetch_files, verify_files, ChecksumStatus, DataError, Dataset, DatasetName, FetchProgress,
    FileAction, FileRole, FileSpec, NoProgress, Source,
};
use fcnsweep_testkit::idx::{file_name, write_dataset, Naming, Pixels, STEMS};
use tempfile::TempDir;

const ROLES: [FileRole; 4] = [
    FileRole::TrainImages,
    FileRole::TrainLabels,
    FileRole::TestImages,
    FileRole::TestLabels,
];

/// File specs for the tiny dataset in `dir`, with checksums of its decompressed content.
fn specs_for(dir: &Path) -> Vec<FileSpec> {
    STEMS
        .iter()
        .zip(ROLES)
        .map(|(&stem, role)| {
            let path = fcnsweep_data::idx::find_file(dir, stem).unwrap();
            let sha = sha256_hex(&read_file_bytes(&path).unwrap());
            FileSpec {
                role,
                stem,
                sha256: sha.leak(),
            }
        })
        .collect()
}

/// A spec whose checksum nothing matches.
fn wrong_spec(spec: &FileSpec) -> FileSpec {
    FileSpec {
        sha256: "0000000000000000000000000000000000000000000000000000000000000000",
        ..*spec
    }
}

/// Records progress calls.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<(String, Option<u64>, u64)>>,
}

impl FetchProgress for Recorder {
    fn start(&self, file: &str, total_bytes: Option<u64>) {
        self.events
            .lock()
            .unwrap()
            .push((file.to_string(), total_bytes, 0));
    }
    fn advance(&self, bytes: u64) {
        self.events.lock().unwrap().last_mut().unwrap().2 += bytes;
    }
    fn finish(&self, _file: &str) {}
}

#[test]
fn local_import_then_second_run_is_a_no_op() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 12, 5, Naming::Dotted, true, Pixels::Indexed);
    // One plain file among the gzip ones: it must be installed without the .gz suffix.
    let plain = std::fs::read(src.join(file_name(STEMS[3], Naming::Dotted, true))).unwrap();
    std::fs::remove_file(src.join(file_name(STEMS[3], Naming::Dotted, true))).unwrap();
    let plain = read_file_bytes_from(&plain);
    write_bytes(
        &src.join(file_name(STEMS[3], Naming::Dotted, false)),
        &plain,
        false,
    )
    .unwrap();
    let specs = specs_for(&src);

    let dest = tmp.path().join("data").join("mnist");
    let recorder = Recorder::default();
    let report = fetch_files(&specs, &[], &dest, &Source::Local(src.clone()), &recorder).unwrap();
    assert_eq!(report.dir, dest);
    assert!(report.files.iter().all(|(_, a)| *a == FileAction::Imported));
    assert_eq!(
        report
            .files
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        STEMS
    );
    assert_eq!(
        dir_entries(&dest),
        [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
        ]
    );
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events.len(), 4);
    for (_, total, advanced) in &events {
        assert_eq!(*total, Some(*advanced));
    }
    let ds = Dataset::load(&tmp.path().join("data"), DatasetName::Mnist).unwrap();
    assert_eq!((ds.train_len(), ds.test_len()), (12, 5));
    assert!(verify_files(&specs, &dest)
        .unwrap()
        .iter()
        .all(|s| s.status == ChecksumStatus::Ok));

    let again = fetch_files(&specs, &[], &dest, &Source::Local(src), &NoProgress).unwrap();
    assert!(again
        .files
        .iter()
        .all(|(_, a)| *a == FileAction::AlreadyPresent));
}

fn read_file_bytes_from(gz: &[u8]) -> Vec<u8> {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("x");
    std::fs::write(&path, gz).unwrap();
    read_file_bytes(&path).unwrap()
}

#[test]
fn local_checksum_mismatch_leaves_nothing_and_names_the_file() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 4, 2, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let dest = tmp.path().join("dest");
    let err = fetch_files(
        &[wrong_spec(&specs[0])],
        &[],
        &dest,
        &Source::Local(src),
        &NoProgress,
    )
    .unwrap_err();
    match &err {
        DataError::ChecksumMismatch {
            file,
            expected,
            actual,
        } => {
            assert!(file.contains("train-images-idx3-ubyte"), "{file}");
            assert_eq!(expected, wrong_spec(&specs[0]).sha256);
            assert_eq!(actual, specs[0].sha256);
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(specs[0].sha256) && msg.contains("train-images"),
        "{msg}"
    );
    assert!(dir_entries(&dest).is_empty(), "{:?}", dir_entries(&dest));
}

#[test]
fn local_source_without_the_file_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 4, 2, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let dest = tmp.path().join("dest");
    let err = fetch_files(&specs, &[], &dest, &Source::Local(empty), &NoProgress).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
    assert!(dir_entries(&dest).is_empty());
}

#[test]
fn a_corrupt_present_file_is_replaced() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 4, 2, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let dest = tmp.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    // A stale plain copy with wrong content, under the dotted name.
    write_bytes(&dest.join("train-images.idx3-ubyte"), b"garbage", false).unwrap();
    let statuses = verify_files(&specs, &dest).unwrap();
    assert!(matches!(
        statuses[0].status,
        ChecksumStatus::Mismatch { .. }
    ));
    assert_eq!(statuses[1].status, ChecksumStatus::Missing);
    assert_eq!(statuses[1].path, None);

    let report = fetch_files(&specs, &[], &dest, &Source::Local(src), &NoProgress).unwrap();
    assert_eq!(report.files[0].1, FileAction::Imported);
    assert!(verify_files(&specs, &dest)
        .unwrap()
        .iter()
        .all(|s| s.status == ChecksumStatus::Ok));
    assert!(!dest.join("train-images.idx3-ubyte").exists());
    assert_eq!(dir_entries(&dest).len(), 4);
}

/// Routes serving every file of the dataset in `src` under `/<folder>/<stem>.gz`.
fn routes(src: &Path, folder: &str) -> HashMap<String, Vec<u8>> {
    STEMS
        .iter()
        .map(|stem| {
            let path = fcnsweep_data::idx::find_file(src, stem).unwrap();
            (format!("/{folder}/{stem}.gz"), std::fs::read(path).unwrap())
        })
        .collect()
}

#[test]
fn http_download_falls_back_to_the_next_mirror() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 9, 4, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let server = TestServer::start(routes(&src, "good"));
    let mirrors = [server.url("missing"), server.url("good")];
    let dest = tmp.path().join("data").join("fashion-mnist");
    let recorder = Recorder::default();

    let report = fetch_files(&specs, &mirrors, &dest, &Source::Mirrors, &recorder).unwrap();
    for ((stem, action), expected_stem) in report.files.iter().zip(STEMS) {
        assert_eq!(stem, expected_stem);
        assert_eq!(
            action,
            &FileAction::Downloaded {
                url: format!("{}{stem}.gz", server.url("good"))
            }
        );
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "{requests:?}");
    assert!(requests[0].starts_with("/missing/") && requests[1].starts_with("/good/"));
    // Progress: one transfer per successful download, sized by Content-Length.
    let events = recorder.events.lock().unwrap().clone();
    assert!(!events.is_empty());
    for (file, total, advanced) in events.iter().filter(|e| e.2 > 0) {
        assert!(file.ends_with(".gz"));
        assert_eq!(*total, Some(*advanced));
    }
    assert_eq!(dir_entries(&dest).len(), 4);
    let ds = Dataset::load(&tmp.path().join("data"), DatasetName::FashionMnist).unwrap();
    assert_eq!((ds.train_len(), ds.test_len()), (9, 4));

    let again = fetch_files(&specs, &mirrors, &dest, &Source::Mirrors, &NoProgress).unwrap();
    assert!(again
        .files
        .iter()
        .all(|(_, a)| *a == FileAction::AlreadyPresent));
    assert_eq!(server.requests().len(), 8, "second run must not download");
}

#[test]
fn http_corrupt_bytes_give_a_checksum_mismatch_and_leave_nothing() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 9, 4, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let mut corrupt = routes(&src, "bad");
    let other = tmp.path().join("other");
    write_dataset(&other, 8, 4, Naming::Dashed, true, Pixels::Indexed);
    corrupt.extend(routes(&other, "bad")); // valid gzip, wrong content
    let server = TestServer::start(corrupt);
    let dest = tmp.path().join("dest");

    let err = fetch_files(
        &specs[..1],
        &[server.url("bad")],
        &dest,
        &Source::Mirrors,
        &NoProgress,
    )
    .unwrap_err();
    match &err {
        DataError::ChecksumMismatch { file, expected, .. } => {
            assert!(file.contains("train-images-idx3-ubyte.gz"), "{file}");
            assert_eq!(expected, specs[0].sha256);
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(dir_entries(&dest).is_empty(), "{:?}", dir_entries(&dest));
}

#[test]
fn http_all_mirrors_failing_lists_every_attempt() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    write_dataset(&src, 3, 2, Naming::Dashed, true, Pixels::Indexed);
    let specs = specs_for(&src);
    let server = TestServer::start(HashMap::new());
    let mirrors = [server.url("a"), server.url("b")];
    let dest = tmp.path().join("dest");
    let err = fetch_files(&specs, &mirrors, &dest, &Source::Mirrors, &NoProgress).unwrap_err();
    match &err {
        DataError::AllMirrorsFailed { file, attempts } => {
            assert_eq!(file, "train-images-idx3-ubyte.gz");
            assert_eq!(attempts.len(), 2);
            assert!(attempts[0].contains("/a/train-images-idx3-ubyte.gz"));
            assert!(attempts[1].contains("404"), "{attempts:?}");
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(dir_entries(&dest).is_empty());
}
