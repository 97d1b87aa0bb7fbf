//! Fetching datasets from mirrors or a local folder, with SHA-256 verification.
//!
//! Files are verified on their decompressed content, written to a temporary file in the
//! destination folder and only renamed into place once verified, so a failed fetch leaves
//! nothing behind.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{DataError, Result};
use crate::idx::{self, candidate_names};
use crate::registry::{DatasetName, FileSpec};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(60);
const COPY_BUFFER: usize = 64 * 1024;

/// Receives progress of file transfers, e.g. to draw progress bars.
pub trait FetchProgress {
    /// A transfer of `file` begins; `total_bytes` is its size when known.
    fn start(&self, file: &str, total_bytes: Option<u64>);
    /// `bytes` more bytes of the current file were transferred.
    fn advance(&self, bytes: u64);
    /// The transfer of `file` ended (successfully or not).
    fn finish(&self, file: &str);
}

/// A [`FetchProgress`] that ignores all progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl FetchProgress for NoProgress {
    fn start(&self, _file: &str, _total_bytes: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self, _file: &str) {}
}

/// Where missing files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Download from the mirrors, in order.
    Mirrors,
    /// Import from a local folder (for machines without internet access).
    Local(PathBuf),
}

/// What [`fetch`] did for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// A verified copy was already in place; nothing was done.
    AlreadyPresent,
    /// Copied from the local source folder.
    Imported,
    /// Downloaded from this URL.
    Downloaded {
        /// The URL the file came from.
        url: String,
    },
}

/// Outcome of a successful fetch: where the dataset is and what happened to each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The dataset folder the files are in.
    pub dir: PathBuf,
    /// Each file's stem and what was done with it, in registry order.
    pub files: Vec<(String, FileAction)>,
}

/// Result of checking one file of a dataset against its registered checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// File stem, e.g. "train-images-idx3-ubyte".
    pub stem: String,
    /// Where the file was found, if it was.
    pub path: Option<PathBuf>,
    /// Whether its decompressed content has the registered SHA-256.
    pub status: ChecksumStatus,
}

/// Verification outcome for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// The checksum matches.
    Ok,
    /// The file is there but its content differs.
    Mismatch {
        /// The hex SHA-256 actually found.
        actual: String,
    },
    /// No file under any accepted name.
    Missing,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Makes dataset `name` available in `<data_dir>/<name>/`, verifying every file.
///
/// Files already present with the right checksum are left alone, so a second run does
/// nothing. See [`fetch_files`] for the details.
pub fn fetch(
    name: DatasetName,
    data_dir: &Path,
    source: &Source,
    progress: &dyn FetchProgress,
) -> Result<FetchReport> {
    let spec = name.spec();
    let mirrors: Vec<String> = spec.mirrors.iter().map(|m| m.to_string()).collect();
    fetch_files(
        &spec.files,
        &mirrors,
        &data_dir.join(name.name()),
        source,
        progress,
    )
}

/// Makes each file of `files` available in `dest_dir`, verified against its SHA-256.
///
/// A file already present (either naming style, gzip or plain) with the right checksum is
/// kept. Otherwise it is taken from `source`: a local folder, or each mirror in turn as
/// `{mirror}{stem}.gz`. The bytes are verified on their decompressed content before being
/// renamed into place as `<stem>.gz` (gzip) or `<stem>` (plain); a bad present copy is
/// replaced. On failure nothing new is left in `dest_dir`.
pub fn fetch_files(
    files: &[FileSpec],
    mirrors: &[String],
    dest_dir: &Path,
    source: &Source,
    progress: &dyn FetchProgress,
) -> Result<FetchReport> {
    if let Source::Local(dir) = source {
        if !dir.is_dir() {
            return Err(DataError::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the folder to import from does not exist",
                ),
            ));
        }
    }
    fs::create_dir_all(dest_dir).map_err(|e| DataError::io(dest_dir, e))?;
    let mut agent = None;
    let mut report = FetchReport {
        dir: dest_dir.to_path_buf(),
        files: Vec::with_capacity(files.len()),
    };
    for file in files {
        let stale = match idx::find_file(dest_dir, file.stem) {
            Some(path) => match file_sha256(&path) {
                Ok(actual) if actual == file.sha256 => {
                    tracing::debug!(file = %path.display(), "already present and verified");
                    report
                        .files
                        .push((file.stem.to_string(), FileAction::AlreadyPresent));
                    continue;
                }
                Ok(actual) => {
                    tracing::warn!(
                        file = %path.display(),
                        expected = file.sha256,
                        actual = %actual,
                        "present file fails verification; replacing it"
                    );
                    Some(path)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "present file is unreadable; replacing it");
                    Some(path)
                }
            },
            None => None,
        };
        let (temp, action) = match source {
            Source::Local(dir) => (
                import_local(file, dir, dest_dir, progress)?,
                FileAction::Imported,
            ),
            Source::Mirrors => {
                let agent = agent.get_or_insert_with(new_agent);
                let (temp, url) = download_verified(agent, file, mirrors, dest_dir, progress)?;
                (temp, FileAction::Downloaded { url })
            }
        };
        let installed = install(temp, file, dest_dir)?;
        if let Some(stale) = stale.filter(|p| *p != installed) {
            if let Err(err) = fs::remove_file(&stale) {
                tracing::warn!(file = %stale.display(), error = %err, "could not remove replaced file");
            }
        }
        tracing::info!(file = %installed.display(), ?action, "fetched");
        report.files.push((file.stem.to_string(), action));
    }
    Ok(report)
}

/// Checks every file of dataset `name` in `<data_dir>/<name>/` against the registry.
///
/// Fails only when a present file cannot be read or decompressed.
pub fn verify(name: DatasetName, data_dir: &Path) -> Result<Vec<FileStatus>> {
    verify_files(&name.spec().files, &data_dir.join(name.name()))
}

/// Checks each file of `files` in `dir` against its SHA-256 (of decompressed content).
pub fn verify_files(files: &[FileSpec], dir: &Path) -> Result<Vec<FileStatus>> {
    files
        .iter()
        .map(|file| {
            let Some(path) = idx::find_file(dir, file.stem) else {
                return Ok(FileStatus {
                    stem: file.stem.to_string(),
                    path: None,
                    status: ChecksumStatus::Missing,
                });
            };
            let actual = file_sha256(&path)?;
            let status = if actual == file.sha256 {
                ChecksumStatus::Ok
            } else {
                ChecksumStatus::Mismatch { actual }
            };
            Ok(FileStatus {
                stem: file.stem.to_string(),
                path: Some(path),
                status,
            })
        })
        .collect()
}

/// SHA-256 of a file's decompressed content.
fn file_sha256(path: &Path) -> Result<String> {
    Ok(sha256_hex(&idx::read_file_bytes(path)?))
}

/// Fails with `ChecksumMismatch` naming `what` unless the temp file's content matches.
fn check_temp(temp: &NamedTempFile, file: &FileSpec, what: String) -> Result<()> {
    let actual = file_sha256(temp.path())?;
    if actual != file.sha256 {
        return Err(DataError::ChecksumMismatch {
            file: what,
            expected: file.sha256.to_string(),
            actual,
        });
    }
    Ok(())
}

/// Copies the file from the local folder `dir` into a verified temp file in `dest_dir`.
fn import_local(
    file: &FileSpec,
    dir: &Path,
    dest_dir: &Path,
    progress: &dyn FetchProgress,
) -> Result<NamedTempFile> {
    let path = idx::find_file(dir, file.stem).ok_or_else(|| {
        DataError::io(
            dir,
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no file named any of {} in this folder",
                    candidate_names(file.stem).join(", ")
                ),
            ),
        )
    })?;
    let mut input = File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let total = input.metadata().ok().map(|m| m.len());
    let mut temp = new_temp(dest_dir)?;
    let label = file.gz_name();
    progress.start(&label, total);
    let copied = copy_with_progress(&mut input, temp.as_file_mut(), progress);
    progress.finish(&label);
    copied.map_err(|e| DataError::io(&path, e))?;
    check_temp(&temp, file, path.display().to_string())?;
    Ok(temp)
}

/// Tries each mirror in order until one serves the file with the right checksum.
fn download_verified(
    agent: &ureq::Agent,
    file: &FileSpec,
    mirrors: &[String],
    dest_dir: &Path,
    progress: &dyn FetchProgress,
) -> Result<(NamedTempFile, String)> {
    let mut attempts = Vec::with_capacity(mirrors.len());
    let mut mismatches = 0;
    let mut last_mismatch = None;
    for mirror in mirrors {
        let url = format!("{mirror}{}", file.gz_name());
        let outcome = download(agent, &url, &file.gz_name(), dest_dir, progress).and_then(|temp| {
            check_temp(&temp, file, format!("{} (from {url})", file.gz_name()))?;
            Ok(temp)
        });
        match outcome {
            Ok(temp) => return Ok((temp, url)),
            Err(err) => {
                tracing::warn!(url = %url, error = %err, "mirror failed; trying the next one");
                attempts.push(format!("{url}: {err}"));
                if matches!(err, DataError::ChecksumMismatch { .. }) {
                    mismatches += 1;
                    last_mismatch = Some(err);
                }
            }
        }
    }
    // When every mirror served wrong bytes, the checksum is the real story.
    match last_mismatch {
        Some(err) if mismatches == attempts.len() => Err(err),
        _ => Err(DataError::AllMirrorsFailed {
            file: file.gz_name(),
            attempts,
        }),
    }
}

/// Streams `url` into a temp file in `dest_dir`, reporting progress.
fn download(
    agent: &ureq::Agent,
    url: &str,
    label: &str,
    dest_dir: &Path,
    progress: &dyn FetchProgress,
) -> Result<NamedTempFile> {
    let download_err = |detail: String| DataError::Download {
        url: url.to_string(),
        detail,
    };
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| download_err(e.to_string()))?;
    let total = response.body().content_length();
    let mut temp = new_temp(dest_dir)?;
    progress.start(label, total);
    let copied = copy_with_progress(
        &mut response.body_mut().as_reader(),
        temp.as_file_mut(),
        progress,
    );
    progress.finish(label);
    copied.map_err(|e| download_err(e.to_string()))?;
    Ok(temp)
}

fn new_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .user_agent(concat!("fcnsweep/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

fn new_temp(dest_dir: &Path) -> Result<NamedTempFile> {
    NamedTempFile::new_in(dest_dir).map_err(|e| DataError::io(dest_dir, e))
}

fn copy_with_progress(
    reader: &mut dyn Read,
    writer: &mut File,
    progress: &dyn FetchProgress,
) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        total += n as u64;
        progress.advance(n as u64);
    }
    writer.sync_all()?;
    Ok(total)
}

/// Renames a verified temp file into place as `<stem>.gz` or `<stem>`, by its content.
fn install(temp: NamedTempFile, file: &FileSpec, dest_dir: &Path) -> Result<PathBuf> {
    let mut magic = [0u8; 2];
    let is_gzip = {
        let mut f = File::open(temp.path()).map_err(|e| DataError::io(temp.path(), e))?;
        f.read_exact(&mut magic).is_ok() && idx::is_gzip(&magic)
    };
    let name = if is_gzip {
        file.gz_name()
    } else {
        file.stem.to_string()
    };
    let dest = dest_dir.join(name);
    temp.persist(&dest)
        .map_err(|e| DataError::io(&dest, e.error))?;
    Ok(dest)
}
