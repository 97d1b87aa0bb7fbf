//! The SQLite implementation of [`Store`]: WAL mode, a busy timeout, foreign keys, a schema
//! version with forward migrations, and refusal to touch databases that are not fcnsweep's.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fcnsweep_data::DatasetName;
use fcnsweep_model::{EpochMetrics, RunConfig};
use rusqlite::{
    params, Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::columns::{config_columns, missing_column_statements, Column};

use crate::plan::{self, plan_hash, ExistingSweep};
use crate::recovery::{self, RunningTrial, Verdict};
use crate::{
    finite, json_column, BaselineRecord, CheckpointRef, ClaimOptions, ClaimedTrial, EpochRecord,
    ExternalTrial, ProposalOutcome, ProposalRequest, RegisterOptions, Registered, StatusCounts,
    Store, StoreError, StoredConfig, SweepListing, SweepPlan, SweepRecord, TrialId, TrialOutcome,
    TrialRecord, TrialStatus, Worker, DEFAULT_DB, SCHEMA_VERSION,
};
/// `PRAGMA application_id` of fcnsweep databases ("FCNS").
const APPLICATION_ID: i32 = 0x4643_4e53;
/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Forward migrations: entry `i` upgrades version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
];

/// Unix time in seconds.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The result database in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database for writing, creating it (and the default `db/` folder) if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = parent {
                if !dir.is_dir() {
                    if path == Path::new(DEFAULT_DB) {
                        fs::create_dir_all(dir)
                            .map_err(|_| StoreError::MissingDirectory(dir.into()))?;
                    } else {
                        return Err(StoreError::MissingDirectory(dir.into()));
                    }
                }
            }
        } else if fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false)
        {
            return Err(read_only(path));
        }
        Self::open_inner(path, true)
    }

    /// Checks, without creating or writing anything, that `open(path)` would accept the file:
    /// its directory exists, and an existing file is a writable fcnsweep database of a
    /// supported version. Lets a command refuse a bad database before any slow work.
    ///
    /// With a plan, also checks that registering it would be accepted (same spec under its
    /// name, or `extend`).
    pub fn preflight(
        path: &Path,
        plan: Option<(&SweepPlan, RegisterOptions)>,
    ) -> Result<(), StoreError> {
        if path.is_dir() {
            return Err(StoreError::IsDirectory(path.into()));
        }
        if !path.exists() {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            return match dir {
                Some(d) if !d.is_dir() && path != Path::new(DEFAULT_DB) => {
                    Err(StoreError::MissingDirectory(d.into()))
                }
                _ => Ok(()),
            };
        }
        if fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false)
        {
            return Err(read_only(path));
        }
        // With a write-ahead log present (another connection is open, or one did not close
        // cleanly), read through it: the latest commits may not be in the main file yet.
        // Without one, `immutable=1` reads the main file only: no locks, no -wal/-shm files.
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let mode = if wal.exists() {
            "mode=ro"
        } else {
            "immutable=1"
        };
        let encoded = path
            .to_string_lossy()
            .replace('%', "%25")
            .replace('?', "%3f")
            .replace('#', "%23");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(format!("file:{encoded}?{mode}"), flags)
            .map_err(|e| map_err(path, e))?;
        let tx = conn.transaction().map_err(|e| map_err(path, e))?;
        Self::identity_in(&tx, path)?;
        let has_schema: bool = tx
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'sweeps'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| map_err(path, e))?;
        if let (true, Some((plan, options))) = (has_schema, plan) {
            compare_plan(&tx, path, plan, options)?;
        }
        Ok(())
    }

    /// Opens an existing database for writing; a missing file is [`StoreError::NoDatabase`].
    pub fn open_existing_for_writing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::NoDatabase(path.display().to_string()));
        }
        Self::open(path)
    }

    /// Opens an existing database; a missing file is [`StoreError::NoDatabase`].
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if path.is_dir() {
            return Err(StoreError::IsDirectory(path.into()));
        }
        if !path.is_file() {
            return Err(StoreError::NoDatabase(path.display().to_string()));
        }
        let writable = !fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(true);
        Self::open_inner(path, writable)
    }

    /// Opens a connection. The file is only ever opened through SQLite: POSIX releases all
    /// of a process's locks on a file when any descriptor of it is closed, so reading the
    /// header with `std::fs` while another connection of this process is open would drop
    /// that connection's lock, and a closing `sqlite3` could then delete the live WAL. A
    /// file that is not SQLite is refused by SQLite itself (`NotADatabase`).
    fn open_inner(path: &Path, writable: bool) -> Result<Self, StoreError> {
        if path.is_dir() {
            return Err(StoreError::IsDirectory(path.into()));
        }
        let flags = if writable {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = |e| map_err(path, e);
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
        };
        store.check_identity()?;
        if writable {
            store
                .conn
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            store
                .conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
            store.migrate()?;
        }
        store
            .conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(store)
    }

    /// Builds a database as schema version `version` left it (for tests of the migrations);
    /// a version above [`SCHEMA_VERSION`] marks a current schema as written by a newer build.
    pub fn create_at_version(path: &Path, version: i64) -> Result<(), StoreError> {
        let err = |e| map_err(path, e);
        let conn = Connection::open(path).map_err(err)?;
        let upto = (version.max(0) as usize).min(MIGRATIONS.len());
        for sql in &MIGRATIONS[..upto] {
            conn.execute_batch(sql).map_err(err)?;
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(err)?;
        conn.pragma_update(None, "user_version", version)
            .map_err(err)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA integrity_check`'s answer (`"ok"` for a sound file).
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Direct access for queries the trait does not cover (tests, reports).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    /// Refuses files of other programs and of newer fcnsweep versions, before writing anything.
    /// The header fields and the table list are read in one transaction, so a database that
    /// another process is creating at this moment is seen either empty or complete.
    fn check_identity(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| map_err(&path, e))?;
        let result = Self::identity_in(&tx, &path);
        tx.commit().map_err(|e| map_err(&path, e))?;
        result
    }

    fn identity_in(conn: &Connection, path: &Path) -> Result<(), StoreError> {
        let err = |e| map_err(path, e);
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name LIMIT 5")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let fresh = app == 0 && version == 0 && tables.is_empty();
        if app != APPLICATION_ID && !fresh {
            return Err(StoreError::Foreign {
                db: path.display().to_string(),
                found: format!("SQLite application_id {app:#x}"),
                tables: if tables.is_empty() {
                    "none".into()
                } else {
                    tables.join(", ")
                },
            });
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                db: path.display().to_string(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Applies the missing forward migrations in one transaction.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tracing::info!(from, to = from + 1, "migrating database schema");
            tx.execute_batch(sql).map_err(err)?;
        }
        add_axis_columns(&tx).map_err(err)?;
        if version < SCHEMA_VERSION {
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn immediate(&mut self) -> Result<Transaction<'_>, StoreError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_err(&path, e))
    }

    /// The epochs of the sweep's current trials that match `filter` (a condition on `t` and
    /// `e` with its ORDER BY; `?1` is the sweep id).
    fn epoch_rows(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<EpochRecord>, StoreError> {
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT e.trial_id, t.seed, e.epoch, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds
                 FROM epochs e JOIN sweep_trials t ON t.id = e.trial_id
                 WHERE t.sweep_id = ?1 AND {filter}"
            ))
            .map_err(|e| map_err(&path, e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(EpochRecord {
                    trial_id: r.get(0)?,
                    seed: r.get::<_, i64>(1)? as u64,
                    metrics: EpochMetrics {
                        epoch: r.get::<_, i64>(2)? as usize,
                        train_loss: r.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN),
                        train_acc: r.get(4)?,
                        val_loss: r.get(5)?,
                        val_acc: r.get(6)?,
                        seconds: r.get(7)?,
                        eval_seconds: f64::NAN,
                    },
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| map_err(&path, e))?;
        Ok(rows)
    }

    fn sweep_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT id FROM sweeps WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }
}

fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
        match f.code {
            ErrorCode::NotADatabase => return StoreError::NotSqlite(path.into()),
            ErrorCode::ReadOnly => return read_only(path),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Locked {
                    db: path.display().to_string(),
                    detail: msg.clone().unwrap_or_else(|| f.to_string()),
                }
            }
            _ => {}
        }
    }
    StoreError::Backend {
        db: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn read_only(path: &Path) -> StoreError {
    StoreError::ReadOnly {
        db: path.display().to_string(),
        detail: "check the file and directory permissions".into(),
    }
}

/// Adds a `configs` column for every axis the table lacks.
fn add_axis_columns(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let existing: BTreeSet<String> = tx
        .prepare("SELECT name FROM pragma_table_info('configs')")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for sql in missing_column_statements(&existing, ["INTEGER", "REAL", "TEXT"]) {
        tx.execute_batch(&sql)?;
    }
    Ok(())
}

fn to_sql(c: Column) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match c {
        Column::Integer(i) => Value::Integer(i),
        Column::Real(r) => Value::Real(r),
        Column::Text(t) => Value::Text(t),
        Column::Null => Value::Null,
    }
}

fn insert_config(
    tx: &Transaction<'_>,
    dataset: DatasetName,
    hash: &str,
    run: &RunConfig,
) -> rusqlite::Result<()> {
    let axes = config_columns(run);
    let names: Vec<&str> = axes.iter().map(|(k, _)| *k).collect();
    let placeholders = vec!["?"; names.len() + 3].join(", ");
    let sql = format!(
        "INSERT OR IGNORE INTO configs (hash, dataset, params, {}) VALUES ({placeholders})",
        names.join(", ")
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        hash.to_string().into(),
        dataset.name().to_string().into(),
        serde_json::to_string(run)
            .expect("RunConfig serializes")
            .into(),
    ];
    values.extend(axes.into_iter().map(|(_, v)| to_sql(v)));
    tx.execute(&sql, rusqlite::params_from_iter(values))?;
    Ok(())
}

/// How `plan` relates to a stored sweep of the same name: `None` if there is none.
fn compare_plan(
    conn: &Connection,
    path: &Path,
    plan: &SweepPlan,
    options: RegisterOptions,
) -> Result<Option<plan::Comparison>, StoreError> {
    let err = |e| map_err(path, e);
    let existing: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, dataset FROM sweeps WHERE name = ?1",
            [&plan.name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(err)?;
    let Some((id, dataset)) = existing else {
        return Ok(None);
    };
    let configs = conn
        .prepare("SELECT config_hash FROM sweep_configs WHERE sweep_id = ?1 AND proposal IS NULL")
        .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect())
        .map_err(err)?;
    let seeds = conn
        .prepare("SELECT seed FROM sweep_seeds WHERE sweep_id = ?1")
        .and_then(|mut s| {
            s.query_map([id], |r| r.get::<_, i64>(0))?
                .map(|r| r.map(|s| s as u64))
                .collect()
        })
        .map_err(err)?;
    let existing = ExistingSweep {
        id,
        dataset,
        configs,
        seeds,
    };
    plan::compare(&path.display().to_string(), plan, existing, options).map(Some)
}

/// Inserts a pending trial for every (configuration, seed) of the sweep that has none.
fn ensure_trials(tx: &Transaction<'_>, sweep_id: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO trials (config_hash, seed, status)
         SELECT sc.config_hash, ss.seed, 'pending'
         FROM sweep_configs sc JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id
         WHERE sc.sweep_id = ?1
         ORDER BY sc.position, ss.seed",
        [sweep_id],
    )
}

fn insert_epoch(tx: &Transaction<'_>, trial: TrialId, m: &EpochMetrics) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO epochs (trial_id, epoch, train_loss, train_acc, val_loss, val_acc, seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            trial,
            m.epoch as i64,
            finite(m.train_loss),
            m.train_acc,
            m.val_loss.and_then(finite),
            m.val_acc,
            m.seconds
        ],
    )
    .map(|_| ())
}

fn checkpoint_ref(epoch: Option<i64>, sha256: Option<String>) -> Option<CheckpointRef> {
    match (epoch, sha256) {
        (Some(e), Some(sha256)) if e > 0 => Some(CheckpointRef {
            epoch: e as usize,
            sha256,
        }),
        _ => None,
    }
}

fn run_config(path: &Path, json: &str) -> Result<RunConfig, StoreError> {
    json_column(
        &path.display().to_string(),
        "configuration parameters",
        json,
    )
}

fn status(path: &Path, s: &str) -> Result<TrialStatus, StoreError> {
    TrialStatus::parse(s).ok_or_else(|| StoreError::Corrupt {
        db: path.display().to_string(),
        detail: format!("unknown trial status '{s}'"),
    })
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn check_plan(&mut self, plan: &SweepPlan, options: RegisterOptions) -> Result<(), StoreError> {
        compare_plan(&self.conn, &self.path, plan, options).map(|_| ())
    }

    fn store_copied_trial(
        &mut self,
        sweep_id: i64,
        trial: &TrialRecord,
        epochs: &[EpochMetrics],
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let current: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, status FROM sweep_trials
                 WHERE sweep_id = ?1 AND config_hash = ?2 AND seed = ?3",
                params![sweep_id, trial.config_hash, trial.seed as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((id, st)) = current else {
            return Ok(false);
        };
        let st = status(&path, &st)?;
        if st.is_finished() || matches!(st, TrialStatus::Running | TrialStatus::Pruned) {
            return Ok(false);
        }
        tx.execute("DELETE FROM epochs WHERE trial_id = ?1", [id])
            .map_err(err)?;
        tx.execute(
            "UPDATE trials SET status = ?2, worker = ?3, host = NULL, pid = NULL, heartbeat_at = NULL,
                    finished_at = ?4, epochs_done = ?5, test_acc = ?6, test_loss = ?7,
                    final_val_acc = ?8, final_val_loss = ?9, final_train_loss = ?10, seconds = ?11,
                    error = ?12
             WHERE id = ?1",
            params![
                id,
                trial.status.as_str(),
                trial.worker,
                now(),
                trial.epochs_done as i64,
                trial.test_acc,
                trial.test_loss,
                trial.final_val_acc,
                trial.final_val_loss,
                trial.final_train_loss,
                trial.seconds,
                trial.error
            ],
        )
        .map_err(err)?;
        for m in epochs {
            insert_epoch(&tx, id, m).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn register_sweep(
        &mut self,
        plan: &SweepPlan,
        spec_text: &str,
        options: RegisterOptions,
    ) -> Result<Registered, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let t = now();
        let (sweep_id, outcome) = match compare_plan(&tx, &path, plan, options)? {
            None => {
                let (configs, seeds) = plan.sets();
                tx.execute(
                    "INSERT INTO sweeps (name, dataset, spec, plan_hash, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![
                        plan.name,
                        plan.dataset.name(),
                        spec_text,
                        plan_hash(&configs, &seeds),
                        t
                    ],
                )
                .map_err(err)?;
                (tx.last_insert_rowid(), Registered::Created)
            }
            Some(
                c @ plan::Comparison {
                    outcome: Registered::Extended { .. },
                    ..
                },
            ) => {
                tx.execute(
                    "UPDATE sweeps SET spec = ?2, plan_hash = ?3, updated_at = ?4 WHERE id = ?1",
                    params![c.id, spec_text, plan_hash(&c.configs, &c.seeds), t],
                )
                .map_err(err)?;
                (c.id, c.outcome)
            }
            Some(c) => (c.id, c.outcome),
        };
        let base_position: i64 = tx
            .query_row(
                "SELECT coalesce(max(position) + 1, 0) FROM sweep_configs WHERE sweep_id = ?1",
                [sweep_id],
                |r| r.get(0),
            )
            .map_err(err)?;
        let mut position = base_position;
        for c in &plan.configs {
            insert_config(&tx, plan.dataset, &c.hash, &c.run).map_err(err)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO sweep_configs (sweep_id, config_hash, position, baseline, sources)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        sweep_id,
                        c.hash,
                        position,
                        c.baseline,
                        serde_json::to_string(&c.sources).expect("strings serialize")
                    ],
                )
                .map_err(err)?;
            position += inserted as i64;
        }
        for s in &plan.seeds {
            tx.execute(
                "INSERT OR IGNORE INTO sweep_seeds (sweep_id, seed) VALUES (?1, ?2)",
                params![sweep_id, *s as i64],
            )
            .map_err(err)?;
        }
        if options.no_reuse {
            // Keep the old trials for history; fresh pending ones replace them below.
            tx.execute(
                "UPDATE trials SET superseded = 1
                 WHERE superseded = 0 AND status IN ('done', 'diverged', 'failed', 'pruned')
                   AND id IN (SELECT id FROM sweep_trials WHERE sweep_id = ?1)",
                [sweep_id],
            )
            .map_err(err)?;
            // An adaptive search starts over: its proposals go (their trials stay, superseded).
            tx.execute(
                "DELETE FROM sweep_configs WHERE sweep_id = ?1 AND proposal IS NOT NULL",
                [sweep_id],
            )
            .map_err(err)?;
        }
        ensure_trials(&tx, sweep_id).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(outcome)
    }

    fn sweep(&mut self, name: &str) -> Result<SweepRecord, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let row: Option<(i64, String, String, f64)> = self
            .conn
            .query_row(
                "SELECT id, dataset, spec, created_at FROM sweeps WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(err)?;
        let Some((id, dataset, spec, created_at)) = row else {
            let known: Vec<String> = self
                .conn
                .prepare("SELECT name FROM sweeps ORDER BY name")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(err)?;
            return Err(StoreError::UnknownSweep {
                name: name.to_string(),
                db: path.display().to_string(),
                known,
            });
        };
        let dataset = DatasetName::parse(&dataset).map_err(|e| StoreError::Corrupt {
            db: path.display().to_string(),
            detail: e.to_string(),
        })?;
        type Row = (String, String, bool, String, Option<i64>);
        let rows: Vec<Row> = self
            .conn
            .prepare(
                "SELECT sc.config_hash, c.params, sc.baseline, sc.sources, sc.proposal
                 FROM sweep_configs sc
                 JOIN configs c ON c.hash = sc.config_hash
                 WHERE sc.sweep_id = ?1 ORDER BY sc.position",
            )
            .and_then(|mut s| {
                s.query_map([id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .map_err(err)?;
        let configs = rows
            .into_iter()
            .map(|(hash, params, baseline, sources, proposal)| {
                Ok(StoredConfig {
                    proposal: proposal.map(|n| n as usize),
                    hash,
                    run: run_config(&path, &params)?,
                    baseline,
                    sources: json_column(
                        &path.display().to_string(),
                        "configuration sources",
                        &sources,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let seeds: Vec<u64> = self
            .conn
            .prepare("SELECT seed FROM sweep_seeds WHERE sweep_id = ?1 ORDER BY seed")
            .and_then(|mut s| {
                s.query_map([id], |r| r.get::<_, i64>(0))?
                    .map(|r| r.map(|s| s as u64))
                    .collect()
            })
            .map_err(err)?;
        Ok(SweepRecord {
            id,
            name: name.to_string(),
            dataset,
            spec,
            created_at,
            configs,
            seeds,
        })
    }

    fn list_sweeps(&mut self) -> Result<Vec<SweepListing>, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let rows: Vec<(i64, String, String, f64, i64, i64)> = self
            .conn
            .prepare(
                "SELECT s.id, s.name, s.dataset, s.created_at,
                        (SELECT count(*) FROM sweep_configs WHERE sweep_id = s.id),
                        (SELECT count(*) FROM sweep_seeds WHERE sweep_id = s.id)
                 FROM sweeps s ORDER BY s.created_at, s.name",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect()
            })
            .map_err(err)?;
        rows.into_iter()
            .map(|(id, name, dataset, created_at, configs, seeds)| {
                Ok(SweepListing {
                    counts: self.status_counts(id)?,
                    name,
                    dataset,
                    configs: configs as usize,
                    seeds: seeds as usize,
                    created_at,
                })
            })
            .collect()
    }

    fn claim(
        &mut self,
        sweep_id: i64,
        worker: &Worker,
        options: &ClaimOptions,
    ) -> Result<Option<ClaimedTrial>, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let t = now();
        // Return abandoned trials (dead process on this host, or a silent heartbeat) to
        // pending, keeping the epochs their checkpoint covers, or fail those that kill
        // their process without progress.
        let running: Vec<RunningTrial> = tx
            .prepare(
                "SELECT id, worker, host, pid, ?2 - heartbeat_at, epochs_done, checkpoint_epoch,
                        claim_checkpoint_epoch, stalled_deaths, deaths
                 FROM sweep_trials WHERE sweep_id = ?1 AND status = 'running'",
            )
            .and_then(|mut s| {
                s.query_map(params![sweep_id, t], |r| {
                    Ok(RunningTrial {
                        id: r.get(0)?,
                        worker: r.get(1)?,
                        host: r.get(2)?,
                        pid: r.get::<_, Option<i64>>(3)?.map(|p| p as u32),
                        heartbeat_age: r.get(4)?,
                        epochs_done: r.get::<_, i64>(5)? as usize,
                        checkpoint_epoch: r.get::<_, Option<i64>>(6)?.map(|e| e as usize),
                        claim_checkpoint_epoch: r.get::<_, Option<i64>>(7)?.map(|e| e as usize),
                        stalled_deaths: r.get::<_, i64>(8)? as u32,
                        deaths: r.get(9)?,
                    })
                })?
                .collect()
            })
            .map_err(err)?;
        let mut recovered = BTreeSet::new();
        for trial in running {
            let Some(why) = recovery::abandoned(&trial, worker, options) else {
                continue;
            };
            tx.execute(
                "DELETE FROM epochs WHERE trial_id = ?1 AND epoch > coalesce(
                   (SELECT checkpoint_epoch FROM trials WHERE id = ?1), 0)",
                [trial.id],
            )
            .map_err(err)?;
            match recovery::verdict(&trial, options.max_attempts) {
                Verdict::Requeue {
                    stalled_deaths,
                    deaths,
                } => {
                    tracing::warn!(trial = trial.id, host = ?trial.host, pid = ?trial.pid, why, "recovering abandoned trial");
                    tx.execute(
                        "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                                heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0),
                                stalled_deaths = ?2, deaths = ?3
                         WHERE id = ?1",
                        params![trial.id, stalled_deaths, deaths],
                    )
                    .map_err(err)?;
                    recovered.insert(trial.id);
                }
                Verdict::Fail(message) => {
                    tracing::warn!(trial = trial.id, %message, "failing a trial that kills its process");
                    tx.execute(
                        "UPDATE trials SET status = 'failed', worker = NULL, host = NULL, pid = NULL,
                                heartbeat_at = NULL, finished_at = ?3, epochs_done = coalesce(checkpoint_epoch, 0),
                                stalled_deaths = stalled_deaths + 1, error = ?2
                         WHERE id = ?1",
                        params![trial.id, message, t],
                    )
                    .map_err(err)?;
                }
            }
        }
        type Next = (
            i64,
            String,
            i64,
            String,
            Option<i64>,
            Option<String>,
            String,
        );
        let next: Option<Next> = tx
            .query_row(
                "SELECT t.id, t.config_hash, t.seed, c.params, t.checkpoint_epoch,
                        t.checkpoint_sha256, t.status
                 FROM sweep_configs sc
                 JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id
                 JOIN trials t ON t.config_hash = sc.config_hash AND t.seed = ss.seed AND t.superseded = 0
                 JOIN configs c ON c.hash = t.config_hash
                 WHERE sc.sweep_id = ?1
                   AND (t.status = 'pending' OR (?2 AND t.status = 'failed'))
                 ORDER BY sc.position, ss.seed LIMIT 1",
                params![sweep_id, options.retry_failed],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()
            .map_err(err)?;
        let Some((id, config_hash, seed, params_json, ck_epoch, ck_sha, was)) = next else {
            tx.commit().map_err(err)?;
            return Ok(None);
        };
        tx.execute(
            "DELETE FROM epochs WHERE trial_id = ?1 AND epoch > coalesce(?2, 0)",
            params![id, ck_epoch],
        )
        .map_err(err)?;
        tx.execute(
            "UPDATE trials SET status = 'running', worker = ?2, host = ?3, pid = ?4,
                    claimed_at = ?5, heartbeat_at = ?5, finished_at = NULL, attempts = attempts + 1,
                    epochs_done = coalesce(checkpoint_epoch, 0), claim_checkpoint_epoch = checkpoint_epoch,
                    stalled_deaths = CASE WHEN ?6 THEN 0 ELSE stalled_deaths END,
                    deaths = CASE WHEN ?6 THEN NULL ELSE deaths END,
                    error = NULL, test_acc = NULL, test_loss = NULL,
                    final_train_loss = NULL, final_val_loss = NULL, final_val_acc = NULL, seconds = NULL
             WHERE id = ?1",
            params![id, worker.id, worker.host, worker.pid, t, was == "failed"],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Some(ClaimedTrial {
            id,
            run: run_config(&path, &params_json)?,
            config_hash,
            seed: seed as u64,
            recovered: recovered.contains(&id),
            checkpoint: checkpoint_ref(ck_epoch, ck_sha),
        }))
    }

    fn heartbeat(&mut self, worker: &Worker) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE trials SET heartbeat_at = ?2 WHERE worker = ?1 AND status = 'running'",
                params![worker.id, now()],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn record_epoch(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        m: &EpochMetrics,
        checkpoint: Option<&CheckpointRef>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let owned = tx
            .execute(
                "UPDATE trials SET heartbeat_at = ?3, epochs_done = ?4,
                        epochs_trained = epochs_trained + 1,
                        checkpoint_epoch = CASE WHEN ?5 IS NULL THEN checkpoint_epoch ELSE ?5 END,
                        checkpoint_sha256 = CASE WHEN ?5 IS NULL THEN checkpoint_sha256 ELSE ?6 END
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![
                    trial,
                    worker.id,
                    now(),
                    m.epoch as i64,
                    checkpoint.map(|c| c.epoch as i64),
                    checkpoint.map(|c| c.sha256.as_str())
                ],
            )
            .map_err(err)?;
        if owned == 0 {
            return Err(StoreError::LostClaim(trial));
        }
        insert_epoch(&tx, trial, m).map_err(err)?;
        tx.commit().map_err(err)
    }

    fn finish(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let t = now();
        let owned = match outcome {
            TrialOutcome::Finished(r) => {
                let last = r.epochs.last();
                let status = if r.diverged { "diverged" } else { "done" };
                tx.execute(
                    "UPDATE trials SET status = ?3, finished_at = ?4, heartbeat_at = ?4,
                            epochs_done = ?5, test_loss = ?6, test_acc = ?7, final_train_loss = ?8,
                            final_val_loss = ?9, final_val_acc = ?10, seconds = ?11, error = NULL,
                            checkpoint_epoch = NULL, checkpoint_sha256 = NULL, stalled_deaths = 0,
                            deaths = NULL
                     WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                    params![
                        trial,
                        worker.id,
                        status,
                        t,
                        r.epochs.len() as i64,
                        finite(r.test_loss),
                        r.test_acc,
                        last.and_then(|e| finite(e.train_loss)),
                        last.and_then(|e| e.val_loss).and_then(finite),
                        last.and_then(|e| e.val_acc),
                        r.seconds
                    ],
                )
            }
            TrialOutcome::Failed(msg) => tx.execute(
                "UPDATE trials SET status = 'failed', finished_at = ?3, heartbeat_at = ?3, error = ?4
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![trial, worker.id, t, msg],
            ),
            TrialOutcome::Pruned { last, seconds } => tx.execute(
                "UPDATE trials SET status = 'pruned', finished_at = ?3, heartbeat_at = ?3,
                        epochs_done = ?4, test_loss = NULL, test_acc = NULL, final_train_loss = ?5,
                        final_val_loss = ?6, final_val_acc = ?7, seconds = ?8, error = NULL,
                        checkpoint_epoch = NULL, checkpoint_sha256 = NULL, stalled_deaths = 0,
                        deaths = NULL
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![
                    trial,
                    worker.id,
                    t,
                    last.epoch as i64,
                    finite(last.train_loss),
                    last.val_loss.and_then(finite),
                    last.val_acc,
                    seconds
                ],
            ),
        }
        .map_err(err)?;
        if owned == 0 {
            return Err(StoreError::LostClaim(trial));
        }
        tx.commit().map_err(err)
    }

    fn release(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let owned = tx
            .execute(
                "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                        heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0)
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![trial, worker.id],
            )
            .map_err(err)?;
        if owned > 0 {
            tx.execute(
                "DELETE FROM epochs WHERE trial_id = ?1 AND epoch > coalesce(
                   (SELECT checkpoint_epoch FROM trials WHERE id = ?1), 0)",
                [trial],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn discard_progress(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let owned = tx
            .execute(
                "UPDATE trials SET epochs_done = 0, checkpoint_epoch = NULL, checkpoint_sha256 = NULL,
                        claim_checkpoint_epoch = NULL
                 WHERE id = ?1 AND worker = ?2 AND status = 'running'",
                params![trial, worker.id],
            )
            .map_err(err)?;
        if owned == 0 {
            return Err(StoreError::LostClaim(trial));
        }
        tx.execute("DELETE FROM epochs WHERE trial_id = ?1", [trial])
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn release_orphans(&mut self, worker: &Worker) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        tx.execute(
            "DELETE FROM epochs WHERE trial_id IN
               (SELECT id FROM trials WHERE worker = ?1 AND status = 'running'
                  AND epochs.epoch > coalesce(checkpoint_epoch, 0))",
            [&worker.id],
        )
        .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                        heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0)
                 WHERE worker = ?1 AND status = 'running'",
                [&worker.id],
            )
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(n)
    }

    fn status_counts(&mut self, sweep_id: i64) -> Result<StatusCounts, StoreError> {
        let path = self.path.clone();
        let rows: Vec<(String, i64)> = self
            .conn
            .prepare(
                "SELECT status, count(*) FROM sweep_trials WHERE sweep_id = ?1 GROUP BY status",
            )
            .and_then(|mut s| {
                s.query_map([sweep_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| map_err(&path, e))?;
        let mut c = StatusCounts::default();
        for (s, n) in rows {
            c.add(status(&path, &s)?, n as usize);
        }
        Ok(c)
    }

    fn mean_trial_seconds(&mut self, sweep_id: i64) -> Result<Option<f64>, StoreError> {
        self.conn
            .query_row(
                "SELECT avg(seconds) FROM sweep_trials WHERE sweep_id = ?1 AND status IN ('done', 'diverged')",
                [sweep_id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    fn trials(&mut self, sweep_id: i64) -> Result<Vec<TrialRecord>, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t.id, t.config_hash, t.seed, t.status, t.worker, t.epochs_done, t.test_acc,
                        t.test_loss, t.final_val_acc, t.final_val_loss, t.final_train_loss,
                        t.seconds, t.error
                 FROM sweep_trials t
                 JOIN sweep_configs sc ON sc.sweep_id = t.sweep_id AND sc.config_hash = t.config_hash
                 WHERE t.sweep_id = ?1 ORDER BY sc.position, t.seed",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([sweep_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                    [
                        r.get::<_, Option<f64>>(6)?,
                        r.get::<_, Option<f64>>(7)?,
                        r.get::<_, Option<f64>>(8)?,
                        r.get::<_, Option<f64>>(9)?,
                        r.get::<_, Option<f64>>(10)?,
                        r.get::<_, Option<f64>>(11)?,
                    ],
                    r.get::<_, Option<String>>(12)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(err)?;
        rows.into_iter()
            .map(
                |(id, config_hash, seed, st, worker, epochs_done, m, error)| {
                    Ok(TrialRecord {
                        id,
                        config_hash,
                        seed: seed as u64,
                        status: status(&path, &st)?,
                        worker,
                        epochs_done: epochs_done as usize,
                        test_acc: m[0],
                        test_loss: m[1],
                        final_val_acc: m[2],
                        final_val_loss: m[3],
                        final_train_loss: m[4],
                        seconds: m[5],
                        error,
                    })
                },
            )
            .collect()
    }

    fn epochs(&mut self, sweep_id: i64, config_hash: &str) -> Result<Vec<EpochRecord>, StoreError> {
        self.epoch_rows(
            "t.config_hash = ?2 AND t.status IN ('done', 'diverged') ORDER BY t.seed, e.epoch",
            params![sweep_id, config_hash],
        )
    }

    fn sweep_epochs(&mut self, sweep_id: i64) -> Result<Vec<EpochRecord>, StoreError> {
        self.epoch_rows("1 ORDER BY e.trial_id, e.epoch", params![sweep_id])
    }

    fn propose(
        &mut self,
        sweep_id: i64,
        _worker: &Worker,
        request: &ProposalRequest,
    ) -> Result<ProposalOutcome, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        let (proposals, exists, dataset): (i64, bool, String) = tx
            .query_row(
                "SELECT (SELECT count(*) FROM sweep_configs WHERE sweep_id = ?1 AND proposal IS NOT NULL),
                        EXISTS (SELECT 1 FROM sweep_configs WHERE sweep_id = ?1 AND config_hash = ?2),
                        (SELECT dataset FROM sweeps WHERE id = ?1)",
                params![sweep_id, request.config.hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(err)?;
        if proposals as usize >= request.budget {
            return Ok(ProposalOutcome::BudgetSpent);
        }
        if proposals as usize != request.number || exists {
            return Ok(ProposalOutcome::Conflict);
        }
        let dataset = DatasetName::parse(&dataset).map_err(|e| StoreError::Corrupt {
            db: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let c = &request.config;
        insert_config(&tx, dataset, &c.hash, &c.run).map_err(err)?;
        tx.execute(
            "INSERT INTO sweep_configs (sweep_id, config_hash, position, baseline, sources, proposal)
             VALUES (?1, ?2, (SELECT coalesce(max(position) + 1, 0) FROM sweep_configs WHERE sweep_id = ?1),
                     ?3, ?4, ?5)",
            params![
                sweep_id,
                c.hash,
                c.baseline,
                serde_json::to_string(&[&request.block]).expect("strings serialize"),
                request.number as i64
            ],
        )
        .map_err(err)?;
        ensure_trials(&tx, sweep_id).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(ProposalOutcome::Stored)
    }

    /// Stores (or replaces) a classical baseline's result for its dataset and split.
    fn record_baseline(&mut self, b: &BaselineRecord) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO baselines
                 (dataset, method, k, validation, split_seed, val_acc, test_acc, seconds, val_curve, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    b.dataset,
                    b.method,
                    b.k as i64,
                    b.validation as i64,
                    b.split_seed as i64,
                    b.val_acc,
                    b.test_acc,
                    b.seconds,
                    serde_json::to_string(&b.val_curve).expect("pairs serialize"),
                    now()
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Every stored classical baseline of a dataset, best test accuracy first.
    fn baselines(&mut self, dataset: &str) -> Result<Vec<BaselineRecord>, StoreError> {
        let path = self.path.clone();
        let rows = self
            .conn
            .prepare(
                "SELECT dataset, method, k, validation, split_seed, val_acc, test_acc, seconds, val_curve
                 FROM baselines WHERE dataset = ?1 ORDER BY test_acc DESC",
            )
            .and_then(|mut s| {
                s.query_map([dataset], |r| {
                    Ok((
                        BaselineRecord {
                            dataset: r.get(0)?,
                            method: r.get(1)?,
                            k: r.get::<_, i64>(2)? as usize,
                            validation: r.get::<_, i64>(3)? as usize,
                            split_seed: r.get::<_, i64>(4)? as u64,
                            val_acc: r.get(5)?,
                            test_acc: r.get(6)?,
                            seconds: r.get(7)?,
                            val_curve: Vec::new(),
                        },
                        r.get::<_, String>(8)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_err(&path, e))?;
        rows.into_iter()
            .map(|(mut b, curve)| {
                b.val_curve = json_column(
                    &path.display().to_string(),
                    "baseline validation curve",
                    &curve,
                )?;
                Ok(b)
            })
            .collect()
    }
    /// Stores results of another framework under `source`, replacing earlier rows of the
    /// same (source, configuration, seed) and keeping the others, in one transaction: an
    /// import is all or nothing and can be repeated. Every configuration must already be in
    /// the database.
    fn import_external(
        &mut self,
        source: &str,
        trials: &[ExternalTrial],
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |e| map_err(&path, e);
        let tx = self.immediate()?;
        for t in trials {
            let known: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM configs WHERE hash = ?1)",
                    [&t.config_hash],
                    |r| r.get(0),
                )
                .map_err(err)?;
            if !known {
                return Err(StoreError::UnknownConfig {
                    db: path.display().to_string(),
                    hash: t.config_hash.clone(),
                    source_name: source.to_string(),
                });
            }
            tx.execute(
                "INSERT OR REPLACE INTO external_trials
                 (source, framework, config_hash, seed, test_acc, test_loss, final_train_loss,
                  final_val_loss, final_val_acc, seconds, epochs, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    source,
                    t.framework,
                    t.config_hash,
                    t.seed as i64,
                    t.test_acc,
                    t.test_loss,
                    t.final_train_loss,
                    t.final_val_loss,
                    t.final_val_acc,
                    t.seconds,
                    serde_json::to_string(&t.epochs).expect("epochs serialize"),
                    now()
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(trials.len())
    }

    /// The imported results of `source` (empty when there are none), by configuration and
    /// seed.
    fn external_trials(&mut self, source: &str) -> Result<Vec<ExternalTrial>, StoreError> {
        if !self.has_external_trials()? {
            return Ok(Vec::new());
        }
        let path = self.path.clone();
        let rows = self
            .conn
            .prepare(
                "SELECT framework, config_hash, seed, test_acc, test_loss, final_train_loss,
                        final_val_loss, final_val_acc, seconds, epochs
                 FROM external_trials WHERE source = ?1 ORDER BY config_hash, seed",
            )
            .and_then(|mut s| {
                s.query_map([source], |r| {
                    Ok((
                        ExternalTrial {
                            framework: r.get(0)?,
                            config_hash: r.get(1)?,
                            seed: r.get::<_, i64>(2)? as u64,
                            test_acc: r.get(3)?,
                            test_loss: r.get(4)?,
                            final_train_loss: r.get(5)?,
                            final_val_loss: r.get(6)?,
                            final_val_acc: r.get(7)?,
                            seconds: r.get(8)?,
                            epochs: Vec::new(),
                        },
                        r.get::<_, String>(9)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| map_err(&path, e))?;
        rows.into_iter()
            .map(|(mut t, epochs)| {
                t.epochs = json_column(&path.display().to_string(), "imported epochs", &epochs)?;
                Ok(t)
            })
            .collect()
    }

    /// The names of the imported sources, for messages.
    fn external_sources(&mut self) -> Result<Vec<String>, StoreError> {
        if !self.has_external_trials()? {
            return Ok(Vec::new());
        }
        self.conn
            .prepare("SELECT DISTINCT source FROM external_trials ORDER BY source")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.err(e))
    }

    fn find_sweep(&mut self, name: &str) -> Result<Option<i64>, StoreError> {
        self.sweep_id(name)
    }
}

impl SqliteStore {
    /// Whether the table of imported runs exists: a database of schema 4 or older opened
    /// read-only has none (it is created by the first write).
    fn has_external_trials(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'external_trials')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use fcnsweep_model::axes::Axis;

    use super::*;

    /// A database as a build with schema version 2 left it, holding one configuration.
    fn version_2_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO configs (hash, dataset, params, hidden, optimizer, lr, momentum,
                 weight_decay, nesterov, beta1, beta2, alpha, eps, centered, dropout, init,
                 init_std, norm, epochs, batch_size, validation, train_subset, standardize,
                 split_seed)
             VALUES ('abc', 'mnist', '{}', '500-50', 'sgd', 0.1, 0, 0, 0, 0.9, 0.999, 0.99,
                 1e-8, 0, 0, 'default', 0.1, 'none', 15, 64, 10000, NULL, 0, 0)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn version_2_databases_migrate_to_constant_schedules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        version_2_database(&path);
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let row: (String, i64, f64) = store
            .conn
            .query_row(
                "SELECT lr_schedule, lr_step_size, lr_gamma FROM configs WHERE hash = 'abc'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("constant".to_string(), 10, 0.1));
        // The rebuilt summary view has the schedule column and still runs.
        let columns: Vec<String> = store
            .conn
            .prepare("SELECT * FROM config_summary")
            .unwrap()
            .column_names()
            .map(String::from)
            .collect();
        assert!(columns.iter().any(|c| c == "lr_schedule"), "{columns:?}");
        // Version 4 adds Adagrad's columns, filled with the defaults.
        let adagrad: (f64, f64) = store
            .conn
            .query_row(
                "SELECT lr_decay, initial_accumulator_value FROM configs WHERE hash = 'abc'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(adagrad, (0.0, 0.0));
        drop(store);
        // Opening again applies nothing twice.
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn every_axis_has_a_column_and_old_params_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        version_2_database(&path);
        // Schema 1-3 stored every optimizer field; this Adam configuration must read back.
        let old = r#"{"model":{"hidden":[500,50],"dropout":0.0,"init":"default","init_std":0.1,"norm":"none"},"optimizer":{"kind":"adam","lr":0.001,"momentum":0.0,"weight_decay":0.0,"nesterov":false,"betas":[0.9,0.99],"alpha":0.99,"eps":1e-8,"centered":false},"train":{"epochs":15,"batch_size":100,"validation":10000,"train_subset":null,"standardize":false,"split_seed":0}}"#;
        let run = run_config(&path, old).unwrap();
        assert_eq!(run.optimizer.kind(), fcnsweep_model::OptimizerKind::Adam);
        assert_eq!(
            run.optimizer.get("beta2"),
            Some(fcnsweep_model::HyperValue::Float(0.99))
        );
        let store = SqliteStore::open(&path).unwrap();
        let columns: BTreeSet<String> = store
            .conn
            .prepare("SELECT name FROM pragma_table_info('configs')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for axis in Axis::all() {
            assert!(columns.contains(axis.name()), "no column {axis}");
        }
    }
}
