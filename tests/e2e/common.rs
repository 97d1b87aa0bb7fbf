//! Helpers shared by the end-to-end tests: running the binary, temp dirs, tiny IDX datasets,
//! the real datasets, read-only looks into result databases, and a seeded RNG.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fcnsweep_data::{IdxImages, IdxLabels};
pub use fcnsweep_testkit::idx::STEMS;
use fcnsweep_testkit::idx::{self, Naming, Pixels};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_fcnsweep");

/// The repository root (tests/e2e/../..).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A path as a `&str` argument.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fcnsweep-e2e-")
        .tempdir()
        .expect("create temp dir")
}

static HEAVY: Mutex<()> = Mutex::new(());

/// Serializes the CPU-heavy tests (training on real data, several processes) so that they
/// do not oversubscribe the machine; light tests run beside them.
pub fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The real datasets: `FCNSWEEP_DATA` (relative to the repository root), else
/// `<repo root>/../shared/data`; `None` (after printing why) when they are not there.
pub fn real_data(test: &str) -> Option<PathBuf> {
    let root = repo_root();
    let dir = match std::env::var_os("FCNSWEEP_DATA") {
        Some(v) if !v.is_empty() => {
            let p = PathBuf::from(v);
            if p.is_absolute() {
                p
            } else {
                root.join(p)
            }
        }
        _ => root.join("../shared/data"),
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    if dir.join("fashion-mnist").is_dir() && dir.join("mnist").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "{test}: skipped: no real datasets at {} (set FCNSWEEP_DATA)",
            dir.display()
        );
        None
    }
}

/// A finished command: exit code and output.
pub struct Out {
    /// The command line, for messages.
    pub cmdline: String,
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "$ {}\nexit code {:?} (signal {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.signal, self.stdout, self.stderr
        )
    }
}

impl Out {
    /// Panics with the whole output unless the command exited 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed:\n{self}");
        self
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "unexpected exit code:\n{self}");
        self
    }

    /// Panics unless stderr contains every fragment.
    #[track_caller]
    pub fn stderr_has(self, fragments: &[&str]) -> Self {
        for f in fragments {
            assert!(self.stderr.contains(f), "stderr lacks {f:?}:\n{self}");
        }
        self
    }

    /// Panics unless stdout contains every fragment.
    #[track_caller]
    pub fn stdout_has(self, fragments: &[&str]) -> Self {
        for f in fragments {
            assert!(self.stdout.contains(f), "stdout lacks {f:?}:\n{self}");
        }
        self
    }
}

/// The binary with `args`, run in `cwd` (so that the default `db/` and `./data` land in a
/// temp dir), without the caller's `FCNSWEEP_*` and `RUST_LOG` settings.
pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(cwd)
        .env_remove("FCNSWEEP_DB")
        .env_remove("FCNSWEEP_DATA")
        .env_remove("RUST_LOG")
        .env_remove("RAYON_NUM_THREADS")
        .stdin(Stdio::null());
    c
}

fn cmdline(args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = envs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.push("fcnsweep".into());
    parts.extend(args.iter().map(|a| {
        if a.is_empty() || a.contains(' ') {
            format!("'{a}'")
        } else {
            a.to_string()
        }
    }));
    parts.join(" ")
}

fn out_of(cmdline: String, status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Out {
    Out {
        cmdline,
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(stdout).into_owned(),
        stderr: String::from_utf8_lossy(stderr).into_owned(),
    }
}

/// Runs the binary to completion.
pub fn run(cwd: &Path, args: &[&str]) -> Out {
    run_env(cwd, args, &[])
}

/// Runs the binary to completion with extra environment variables.
pub fn run_env(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Out {
    let mut c = command(cwd, args);
    c.envs(envs.iter().copied());
    let o = c.output().expect("spawn fcnsweep");
    out_of(cmdline(args, envs), o.status, &o.stdout, &o.stderr)
}

/// A child process whose output goes to files (so that it can never block on a full pipe).
pub struct Proc {
    /// The child.
    pub child: Child,
    /// Command line, for messages.
    pub cmdline: String,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// Starts the binary; its stdout/stderr go to `<log_dir>/<tag>.out|.err`.
    pub fn spawn(cwd: &Path, args: &[&str], log_dir: &Path, tag: &str) -> Proc {
        Self::spawn_env(cwd, args, log_dir, tag, &[])
    }

    /// [`Proc::spawn`] with extra environment variables.
    pub fn spawn_env(
        cwd: &Path,
        args: &[&str],
        log_dir: &Path,
        tag: &str,
        envs: &[(&str, &str)],
    ) -> Proc {
        let out = log_dir.join(format!("{tag}.out"));
        let err = log_dir.join(format!("{tag}.err"));
        let child = command(cwd, args)
            .envs(envs.iter().copied())
            .stdout(fs::File::create(&out).expect("create stdout file"))
            .stderr(fs::File::create(&err).expect("create stderr file"))
            .spawn()
            .expect("spawn fcnsweep");
        Proc {
            child,
            cmdline: cmdline(args, envs),
            out,
            err,
        }
    }

    /// Starts the binary in a UTS namespace of its own whose hostname is `host`: another
    /// machine, as far as the store can tell, on the same loopback network.
    pub fn spawn_on_host(cwd: &Path, args: &[&str], log_dir: &Path, tag: &str, host: &str) -> Proc {
        let out = log_dir.join(format!("{tag}.out"));
        let err = log_dir.join(format!("{tag}.err"));
        let mut wrapped = Command::new("unshare");
        wrapped
            .args([
                "--uts",
                "sh",
                "-c",
                "hostname \"$0\" && exec \"$@\"",
                host,
                BIN,
            ])
            .args(args)
            .current_dir(cwd)
            .env_remove("FCNSWEEP_DB")
            .env_remove("FCNSWEEP_DATA")
            .env_remove("RUST_LOG")
            .env_remove("RAYON_NUM_THREADS")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("create stdout file"))
            .stderr(fs::File::create(&err).expect("create stderr file"));
        let child = wrapped.spawn().expect("spawn unshare");
        Proc {
            child,
            cmdline: format!("(host {host}) {}", cmdline(args, &[])),
            out,
            err,
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends SIGINT (Ctrl-C) with kill(1).
    pub fn sigint(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .expect("run kill -INT");
        assert!(status.success(), "kill -INT {} failed", self.pid());
    }

    /// SIGKILLs the process and reaps it; true when the kill hit a live process (it died of
    /// SIGKILL rather than exiting on its own).
    pub fn kill(mut self) -> (bool, Out) {
        let _ = self.child.kill();
        let out = self.wait();
        (out.signal == Some(9), out)
    }

    /// Waits for the process to end.
    pub fn wait(mut self) -> Out {
        let status = self.child.wait().expect("wait");
        let stdout = fs::read(&self.out).unwrap_or_default();
        let stderr = fs::read(&self.err).unwrap_or_default();
        out_of(self.cmdline.clone(), status, &stdout, &stderr)
    }

    /// Waits at most `limit`; SIGKILLs it after that and panics.
    #[track_caller]
    pub fn wait_timeout(mut self, limit: Duration) -> Out {
        let start = Instant::now();
        while self.running() {
            if start.elapsed() > limit {
                let (_, out) = self.kill();
                panic!("process did not finish within {limit:?}; killed:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.wait()
    }
}

/// Polls `cond` every 10 ms until it holds (true) or `limit` passes (false).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// Tiny datasets

/// `count` 28x28 images and labels `(i + offset) % 10`; each class has its own bright band
/// of rows so that a network can learn something.
pub fn tiny_part(count: usize, offset: usize) -> (IdxImages, IdxLabels) {
    idx::tiny_part(count, offset, Pixels::Banded)
}

/// Writes a valid tiny dataset into the dataset folder `dir` (`<data_dir>/<name>`):
/// `train` training and `test` test images, gzip-compressed `<stem>.gz` files or raw `<stem>`.
pub fn write_tiny_dataset(dir: &Path, train: usize, test: usize, gzip: bool) {
    idx::write_dataset(dir, train, test, Naming::Dashed, gzip, Pixels::Banded);
}

// ---------------------------------------------------------------------------------------
// Result databases, read-only

/// Opens a result database read-only (never creating or changing it).
pub fn open_ro(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn)
}

/// Number of stored epoch rows, or `None` while the database or its schema does not exist.
pub fn epoch_count(db: &Path) -> Option<i64> {
    if !db.is_file() {
        return None;
    }
    let conn = open_ro(db).ok()?;
    conn.query_row("SELECT count(*) FROM epochs", [], |r| r.get(0))
        .ok()
}

/// Number of trials with `status`, or `None` while the database or schema does not exist.
pub fn status_count(db: &Path, status: &str) -> Option<i64> {
    if !db.is_file() {
        return None;
    }
    let conn = open_ro(db).ok()?;
    conn.query_row(
        "SELECT count(*) FROM trials WHERE status = ?1",
        [status],
        |r| r.get(0),
    )
    .ok()
}

/// Whether the database holds a sweep of that name (false while it does not exist).
pub fn has_sweep(db: &Path, name: &str) -> bool {
    if !db.is_file() {
        return false;
    }
    open_ro(db)
        .ok()
        .and_then(|c| {
            c.query_row("SELECT 1 FROM sweeps WHERE name = ?1", [name], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .ok()
            .flatten()
        })
        .is_some()
}

/// One row of the `trials` table.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub id: i64,
    pub config_hash: String,
    pub seed: i64,
    pub status: String,
    pub superseded: i64,
    pub attempts: i64,
    pub epochs_done: i64,
    pub test_acc: Option<f64>,
    pub test_loss: Option<f64>,
    pub final_train_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub final_val_acc: Option<f64>,
}

pub const TRIAL_COLUMNS: &str =
    "id, config_hash, seed, status, superseded, attempts, epochs_done, \
     test_acc, test_loss, final_train_loss, final_val_loss, final_val_acc";

fn trial_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrialRow> {
    Ok(TrialRow {
        id: r.get(0)?,
        config_hash: r.get(1)?,
        seed: r.get(2)?,
        status: r.get(3)?,
        superseded: r.get(4)?,
        attempts: r.get(5)?,
        epochs_done: r.get(6)?,
        test_acc: r.get(7)?,
        test_loss: r.get(8)?,
        final_train_loss: r.get(9)?,
        final_val_loss: r.get(10)?,
        final_val_acc: r.get(11)?,
    })
}

/// Every row of the `trials` table (all sweeps, superseded ones included), by id.
pub fn all_trials(db: &Path) -> Vec<TrialRow> {
    let conn = open_ro(db).expect("open db");
    let mut st = conn
        .prepare(&format!("SELECT {TRIAL_COLUMNS} FROM trials ORDER BY id"))
        .expect("prepare");
    let rows = st
        .query_map([], trial_row)
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    rows
}

/// The current trials of one sweep (the `sweep_trials` view), by config hash and seed.
pub fn sweep_trials(db: &Path, sweep: &str) -> Vec<TrialRow> {
    let conn = open_ro(db).expect("open db");
    let mut st = conn
        .prepare(&format!(
            "SELECT {TRIAL_COLUMNS} FROM sweep_trials WHERE sweep = ?1 ORDER BY config_hash, seed"
        ))
        .expect("prepare");
    let rows = st
        .query_map([sweep], trial_row)
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    rows
}

/// Config hashes of a sweep, in spec order.
pub fn sweep_configs(db: &Path, sweep: &str) -> Vec<String> {
    let conn = open_ro(db).expect("open db");
    let mut st = conn
        .prepare(
            "SELECT sc.config_hash FROM sweep_configs sc JOIN sweeps s ON s.id = sc.sweep_id
             WHERE s.name = ?1 ORDER BY sc.position",
        )
        .expect("prepare");
    let rows = st
        .query_map([sweep], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows");
    rows
}

/// One epoch row without its wall time: (epoch, train_loss, train_acc, val_loss, val_acc).
pub type EpochMetrics = (i64, Option<f64>, f64, Option<f64>, Option<f64>);

/// Epoch rows of each trial id, in epoch order.
pub fn epochs_by_trial(db: &Path) -> BTreeMap<i64, Vec<EpochMetrics>> {
    let conn = open_ro(db).expect("open db");
    let mut st = conn
        .prepare(
            "SELECT trial_id, epoch, train_loss, train_acc, val_loss, val_acc FROM epochs
             ORDER BY trial_id, epoch",
        )
        .expect("prepare");
    let mut map: BTreeMap<i64, Vec<EpochMetrics>> = BTreeMap::new();
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
            ))
        })
        .expect("query");
    for row in rows {
        let (id, m) = row.expect("row");
        map.entry(id).or_default().push(m);
    }
    map
}

/// Epochs committed over all attempts of every trial (`trials.epochs_trained`).
pub fn epochs_trained(db: &Path) -> usize {
    let conn = open_ro(db).expect("open db");
    conn.query_row(
        "SELECT coalesce(sum(epochs_trained), 0) FROM trials",
        [],
        |r| r.get::<_, i64>(0),
    )
    .expect("sum epochs_trained") as usize
}

/// Files ending in `.tmp` in `dir` (0 when it does not exist).
pub fn temporary_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

/// `PRAGMA integrity_check`.
pub fn integrity(db: &Path) -> String {
    let conn = open_ro(db).expect("open db");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

/// Final metrics and epoch metrics of every current trial of a sweep, keyed by
/// (config hash, seed): what a deterministic rerun must reproduce exactly.
pub type Metrics = BTreeMap<(String, i64), (TrialMetrics, Vec<EpochMetrics>)>;

/// test_acc, test_loss, final_train_loss, final_val_loss, final_val_acc.
pub type TrialMetrics = [Option<f64>; 5];

/// See [`Metrics`].
pub fn sweep_metrics(db: &Path, sweep: &str) -> Metrics {
    metrics_of(sweep_trials(db, sweep), &epochs_by_trial(db))
}

/// [`Metrics`] of a sweep's current trials and the epoch rows by trial id, whatever the
/// database they were read from.
pub fn metrics_of(trials: Vec<TrialRow>, epochs: &BTreeMap<i64, Vec<EpochMetrics>>) -> Metrics {
    trials
        .into_iter()
        .map(|t| {
            let m = [
                t.test_acc,
                t.test_loss,
                t.final_train_loss,
                t.final_val_loss,
                t.final_val_acc,
            ];
            let e = epochs.get(&t.id).cloned().unwrap_or_default();
            ((t.config_hash, t.seed), (m, e))
        })
        .collect()
}

/// Checks that a sweep is complete and sound: `configs x seeds` current trials, each done
/// exactly once (one current row per (config, seed)), each with epoch rows exactly
/// 1..=`epochs`; no trial of the database running; no epoch rows of unfinished trials;
/// integrity ok. Returns a description of every violation.
pub fn check_complete(
    db: &Path,
    sweep: &str,
    configs: usize,
    seeds: usize,
    epochs: i64,
) -> Vec<String> {
    let mut problems = check_rows(
        &sweep_trials(db, sweep),
        &all_trials(db),
        &epochs_by_trial(db),
        configs * seeds,
        epochs,
    );
    let ic = integrity(db);
    if ic != "ok" {
        problems.push(format!("integrity_check: {ic}"));
    }
    problems
}

/// The checks of [`check_complete`] on rows read from any database: `trials` the sweep's
/// current trials, `all` every trial row, `epoch_rows` every epoch row by trial id.
pub fn check_rows(
    trials: &[TrialRow],
    all: &[TrialRow],
    epoch_rows: &BTreeMap<i64, Vec<EpochMetrics>>,
    expected_trials: usize,
    epochs: i64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if trials.len() != expected_trials {
        problems.push(format!(
            "{} current trials, expected {expected_trials}",
            trials.len()
        ));
    }
    let mut keys: Vec<_> = trials.iter().map(|t| (&t.config_hash, t.seed)).collect();
    keys.dedup();
    if keys.len() != trials.len() {
        problems.push("duplicate current trials for one (config, seed)".into());
    }
    let expected: Vec<i64> = (1..=epochs).collect();
    for t in trials {
        if t.status != "done" {
            problems.push(format!(
                "trial {} ({}, seed {}) is {}",
                t.id,
                &t.config_hash[..10],
                t.seed,
                t.status
            ));
            continue;
        }
        let got: Vec<i64> = epoch_rows
            .get(&t.id)
            .map(|v| v.iter().map(|e| e.0).collect())
            .unwrap_or_default();
        if got != expected || t.epochs_done != epochs {
            problems.push(format!(
                "trial {} ({}, seed {}): epoch rows {got:?}, epochs_done {}, expected 1..={epochs}",
                t.id,
                &t.config_hash[..10],
                t.seed,
                t.epochs_done
            ));
        }
        if t.test_acc.is_none() || t.test_loss.is_none() {
            problems.push(format!("trial {} is done without test metrics", t.id));
        }
    }
    let mut current: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for t in all {
        if t.status == "running" {
            problems.push(format!("trial {} left running", t.id));
        }
        if t.superseded == 0 {
            *current.entry((t.config_hash.clone(), t.seed)).or_default() += 1;
        }
    }
    for (k, n) in current {
        if n > 1 {
            problems.push(format!("{n} current rows for {k:?}"));
        }
    }
    let by_id: BTreeMap<i64, &TrialRow> = all.iter().map(|t| (t.id, t)).collect();
    for (id, rows) in epoch_rows {
        match by_id.get(id) {
            None => problems.push(format!("{} epoch rows of missing trial {id}", rows.len())),
            Some(t) if t.status != "done" && t.status != "diverged" => problems.push(format!(
                "{} orphan epoch rows of {} trial {id}",
                rows.len(),
                t.status
            )),
            _ => {}
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Search spaces

/// `sweep run SPEC --db DB -j JOBS --data-dir DATA`: how most tests start a sweep.
pub fn sweep_run<'a>(spec: &'a Path, db: &'a Path, jobs: &'a str, data: &'a Path) -> [&'a str; 9] {
    [
        "sweep",
        "run",
        s(spec),
        "--db",
        s(db),
        "-j",
        jobs,
        "--data-dir",
        s(data),
    ]
}

/// A small real-data sweep: fashion-mnist, hidden [32], 3 configurations (sgd lr 0.1 as
/// base and grid point, sgd lr 0.05, adam lr 0.001) x 2 seeds; `epochs` epochs on the first
/// `subset` training images, 1000 held out for validation.
pub fn small_sweep(name: &str, epochs: u32, subset: u32) -> String {
    format!(
        "name: {name}\n\
         dataset: fashion-mnist\n\
         seeds: 2\n\
         epochs: {epochs}\n\
         batch_size: 64\n\
         validation: 1000\n\
         train_subset: {subset}\n\
         base:\n  hidden: [32]\n  optimizer: sgd\n  lr: 0.1\n\
         search:\n  - grid:\n      lr: [0.1, 0.05]\n  - list:\n      - {{optimizer: adam, lr: 0.001}}\n"
    )
}

/// [`small_sweep`] with `seeds` seeds, written to `<dir>/spec.yaml`, and the metrics of its
/// uninterrupted run (in `<dir>/reference.sqlite`): what the fault tests must end equal to.
pub fn reference_sweep(
    dir: &Path,
    name: &str,
    epochs: u32,
    subset: u32,
    seeds: usize,
    data: &Path,
) -> (PathBuf, Metrics) {
    let spec = dir.join("spec.yaml");
    let text = small_sweep(name, epochs, subset).replace("seeds: 2", &format!("seeds: {seeds}"));
    fs::write(&spec, text).unwrap();
    let reference_db = dir.join("reference.sqlite");
    run(dir, &sweep_run(&spec, &reference_db, "2", data)).ok();
    let reference = sweep_metrics(&reference_db, name);
    assert_eq!(reference.len(), SMALL_CONFIGS * seeds, "the reference run");
    (spec, reference)
}

/// Configurations and seeds of [`small_sweep`].
pub const SMALL_CONFIGS: usize = 3;
/// Seeds of [`small_sweep`].
pub const SMALL_SEEDS: usize = 2;

// ---------------------------------------------------------------------------------------
// Seeded randomness for fault schedules

/// SplitMix64: tiny, seedable, good enough for schedules.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// `n` pseudo-random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Files under `dir` (recursively, relative paths), sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The database file and its write-ahead log (an empty or absent log counts as none),
/// byte for byte: equal before and after a command that must not write.
pub fn db_bytes(db: &Path) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let wal = db.with_file_name(format!(
        "{}-wal",
        db.file_name().expect("file name").to_string_lossy()
    ));
    (
        fs::read(db).ok(),
        fs::read(wal).ok().filter(|b| !b.is_empty()),
    )
}
