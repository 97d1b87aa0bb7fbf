//! The PostgreSQL implementation of [`Store`], for sweeps that many workers on many machines
//! share: the same tables, columns, views and schema version as SQLite; claims with
//! `SELECT … FOR UPDATE SKIP LOCKED`; every time (`claimed_at`, heartbeats, staleness,
//! `finished_at`) on the server's clock.
//!
//! Each store holds one connection (the runner opens one per worker thread). A connection
//! that breaks (server restart, `pg_terminate_backend`, a cut network) is made again with
//! backoff for a bounded time ([`RECONNECT_FOR`], `FCNSWEEP_PG_RECONNECT_SECS`), and the
//! operation is retried. Every operation is safe to retry: the writes of a trial are
//! conditional on the worker still owning it, epochs are inserted once, and a finish whose
//! commit was acknowledged late is recognised.

mod target;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fcnsweep_data::DatasetName;
use fcnsweep_model::{EpochMetrics, RunConfig};
use postgres::error::SqlState;
use postgres::{Client, GenericClient, Transaction};

pub use target::{redact, Target};

use crate::columns::{config_columns, missing_column_statements};
use crate::plan::{self, plan_hash, Comparison, ExistingSweep};
use crate::recovery::{self, RunningTrial, Verdict};
use crate::{
    finite, json_column, BaselineRecord, CheckpointRef, ClaimOptions, ClaimedTrial, EpochRecord,
    ExternalTrial, ProposalOutcome, ProposalRequest, RegisterOptions, Registered, StatusCounts,
    Store, StoreError, StoredConfig, SweepListing, SweepPlan, SweepRecord, TrialId, TrialOutcome,
    TrialRecord, TrialStatus, Worker, SCHEMA_VERSION,
};

/// How long a broken connection is retried before the operation fails, unless
/// `FCNSWEEP_PG_RECONNECT_SECS` says otherwise.
pub const RECONNECT_FOR: Duration = Duration::from_secs(60);

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

/// The key of the advisory lock that serializes schema changes and registrations ("FCNS").
const LOCK_KEY: i64 = 0x4643_4e53;

/// The tables of fcnsweep's schema; finding some of them without `fcnsweep_meta` means the
/// schema belongs to another program.
const TABLES: &[&str] = &[
    "baselines",
    "configs",
    "epochs",
    "external_trials",
    "fcnsweep_meta",
    "sweep_configs",
    "sweep_seeds",
    "sweeps",
    "trials",
];

/// The name prefix of scratch schemas, the only ones fcnsweep ever drops.
pub const SCRATCH_PREFIX: &str = "fcnsweep_scratch_";

/// Server time in unix seconds, as every time column holds it.
const NOW: &str = "extract(epoch from clock_timestamp())::double precision";

/// The result database in a PostgreSQL schema.
pub struct PostgresStore {
    target: Target,
    client: Client,
    reconnect_for: Duration,
    /// `configs` column types, for the casts of inserted axis values.
    column_types: BTreeMap<String, String>,
}

/// Why an operation stopped: a client error (maybe a broken connection, retried) or a
/// store-level answer.
enum Failure {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Self::Pg(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

type Op<T> = Result<T, Failure>;

/// What is in the connection's current schema.
struct Inspection {
    schema: Option<String>,
    tables: Vec<String>,
    version: Option<i64>,
}

fn code(e: &postgres::Error) -> Option<&SqlState> {
    e.code()
}

/// Whether `e` means the connection is gone (or the server is going away).
fn is_disconnect(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match code(e) {
        Some(c) => {
            *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || c.code().starts_with("08")
        }
        // Only an I/O failure is a broken connection; other client errors (a parameter of
        // the wrong type) would fail again after a reconnect.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// Whether `e` is a conflict between transactions that a plain retry resolves.
fn is_conflict(e: &postgres::Error) -> bool {
    matches!(code(e), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
        || *c == SqlState::T_R_SERIALIZATION_FAILURE
        || *c == SqlState::UNIQUE_VIOLATION)
}

/// The server's message (and detail), or the client's.
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let t = s.to_string();
                if !text.contains(&t) {
                    text.push_str(": ");
                    text.push_str(&t);
                }
                source = s.source();
            }
            text
        }
    }
}

impl PostgresStore {
    /// Connects and creates or migrates fcnsweep's tables in the connection's schema (the
    /// first of `search_path`, created if it does not exist).
    pub fn open(target: &Target) -> Result<Self, StoreError> {
        let mut store = Self::connect(target)?;
        let found = store.inspect()?;
        store.check_found(&found)?;
        store.check_writable(&found)?;
        store.migrate()?;
        store.load_columns()?;
        Ok(store)
    }

    /// Connects to a database that already holds fcnsweep's tables; with `for_writing`, also
    /// checks that the role may write them. Older schemas are migrated where the role may.
    pub fn open_existing(target: &Target, for_writing: bool) -> Result<Self, StoreError> {
        let mut store = Self::connect(target)?;
        let found = store.inspect()?;
        store.check_found(&found)?;
        if found.version.is_none() {
            return Err(StoreError::NoDatabase(format!(
                "{} (it holds no fcnsweep tables)",
                target.describe()
            )));
        }
        if for_writing {
            store.check_writable(&found)?;
        }
        if found.version < Some(SCHEMA_VERSION) {
            match store.migrate() {
                Err(StoreError::ReadOnly { .. }) if !for_writing => {}
                other => other?,
            }
        }
        store.load_columns()?;
        Ok(store)
    }

    /// Checks, writing nothing, that [`PostgresStore::open`] would accept the database and,
    /// with a plan, that registering it would be accepted.
    pub fn preflight(
        target: &Target,
        plan: Option<(&SweepPlan, RegisterOptions)>,
    ) -> Result<(), StoreError> {
        let mut store = Self::connect(target)?;
        let found = store.inspect()?;
        store.check_found(&found)?;
        store.check_writable(&found)?;
        if let (Some(_), Some((plan, options))) = (found.version, plan) {
            store.check_plan(plan, options)?;
        }
        Ok(())
    }

    /// Builds fcnsweep's tables as schema version `version` left them (for tests of the
    /// migrations), in an empty schema; a version above [`SCHEMA_VERSION`] marks a current
    /// schema as written by a newer build.
    pub fn create_at_version(target: &Target, version: i64) -> Result<(), StoreError> {
        let mut store = Self::connect(target)?;
        store.ensure_schema()?;
        let db = store.target.describe();
        store.run(|c| {
            let mut tx = c.transaction()?;
            for sql in &MIGRATIONS[..(version.max(0) as usize).min(MIGRATIONS.len())] {
                tx.batch_execute(sql)?;
            }
            write_meta(&mut tx, version)?;
            tx.commit()?;
            Ok(())
        })?;
        tracing::debug!(db, version, "created an old schema");
        Ok(())
    }

    /// Drops the connection's schema, which must be a scratch schema
    /// (`fcnsweep_scratch_…`, see [`crate::Location::scratch`]).
    pub fn drop_scratch_schema(target: &Target) -> Result<(), StoreError> {
        let mut store = Self::connect(target)?;
        let db = store.db();
        store.run(|c| {
            let schema: Option<String> = c.query_one("SELECT current_schema()", &[])?.get(0);
            match schema {
                Some(s) if s.starts_with(SCRATCH_PREFIX) => {
                    c.batch_execute(&format!("DROP SCHEMA \"{s}\" CASCADE"))?;
                    Ok(())
                }
                None => Ok(()),
                Some(s) => Err(StoreError::Backend {
                    db: db.clone(),
                    detail: format!("schema {s} is not a scratch schema; not dropping it"),
                }
                .into()),
            }
        })
    }

    /// Runs one SQL statement of the caller's (tests, reports) and returns the rows.
    pub fn query(&mut self, sql: &str) -> Result<Vec<postgres::Row>, StoreError> {
        self.run(|c| Ok(c.query(sql, &[])?))
    }

    fn connect(target: &Target) -> Result<Self, StoreError> {
        let client = target.connect()?;
        let reconnect_for = std::env::var("FCNSWEEP_PG_RECONNECT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(RECONNECT_FOR);
        Ok(Self {
            target: target.clone(),
            client,
            reconnect_for,
            column_types: BTreeMap::new(),
        })
    }

    fn db(&self) -> String {
        self.target.describe()
    }

    /// The epochs of the sweep's current trials that match `filter` (a condition on `t` and
    /// `e` with its ORDER BY; `$1` is the sweep id).
    fn epoch_rows(
        &mut self,
        filter: &str,
        args: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<EpochRecord>, StoreError> {
        let sql = format!(
            "SELECT e.trial_id, t.seed, e.epoch, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds
             FROM epochs e JOIN sweep_trials t ON t.id = e.trial_id
             WHERE t.sweep_id = $1 AND {filter}"
        );
        let rows = self.run(|c| Ok(c.query(&sql, args)?))?;
        Ok(rows
            .iter()
            .map(|r| EpochRecord {
                trial_id: r.get(0),
                seed: r.get::<_, i64>(1) as u64,
                metrics: EpochMetrics {
                    epoch: r.get::<_, i64>(2) as usize,
                    train_loss: r.get::<_, Option<f64>>(3).unwrap_or(f64::NAN),
                    train_acc: r.get(4),
                    val_loss: r.get(5),
                    val_acc: r.get(6),
                    seconds: r.get(7),
                    eval_seconds: f64::NAN,
                },
            })
            .collect())
    }

    /// Maps a client error that is not a broken connection.
    fn map(&self, e: &postgres::Error) -> StoreError {
        let db = self.db();
        match code(e) {
            Some(c)
                if *c == SqlState::INSUFFICIENT_PRIVILEGE
                    || *c == SqlState::READ_ONLY_SQL_TRANSACTION =>
            {
                StoreError::ReadOnly {
                    db,
                    detail: message(e),
                }
            }
            Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => StoreError::Locked {
                db,
                detail: message(e),
            },
            _ => StoreError::Backend {
                db,
                detail: message(e),
            },
        }
    }

    /// Runs `op`, reconnecting after a broken connection and retrying after a conflict.
    fn run<T>(&mut self, mut op: impl FnMut(&mut Client) -> Op<T>) -> Result<T, StoreError> {
        let mut conflicts = 0;
        loop {
            match op(&mut self.client) {
                Ok(v) => return Ok(v),
                Err(Failure::Store(e)) => return Err(e),
                Err(Failure::Pg(e)) if is_disconnect(&e) || self.client.is_closed() => {
                    self.reconnect(&e)?;
                }
                Err(Failure::Pg(e)) if is_conflict(&e) && conflicts < 20 => {
                    conflicts += 1;
                    std::thread::sleep(Duration::from_millis(5 * conflicts));
                }
                Err(Failure::Pg(e)) => return Err(self.map(&e)),
            }
        }
    }

    /// Connects again with exponential backoff, for at most `reconnect_for`.
    fn reconnect(&mut self, cause: &postgres::Error) -> Result<(), StoreError> {
        let db = self.db();
        tracing::warn!(db, error = %message(cause), "lost the database connection; reconnecting");
        let start = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempts = 0;
        loop {
            std::thread::sleep(delay);
            attempts += 1;
            match self.target.connect() {
                Ok(client) => {
                    self.client = client;
                    tracing::warn!(
                        db,
                        attempts,
                        seconds = start.elapsed().as_secs_f64(),
                        "reconnected to the database"
                    );
                    return Ok(());
                }
                Err(e @ StoreError::Authentication { .. }) => return Err(e),
                Err(e) if start.elapsed() >= self.reconnect_for => {
                    return Err(StoreError::Disconnected {
                        db,
                        seconds: self.reconnect_for.as_secs(),
                        detail: e.to_string(),
                    })
                }
                Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
            }
        }
    }

    fn inspect(&mut self) -> Result<Inspection, StoreError> {
        self.run(|c| {
            let schema: Option<String> = c.query_one("SELECT current_schema()", &[])?.get(0);
            let tables: Vec<String> = c
                .query(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name = ANY($1)
                     ORDER BY 1",
                    &[&TABLES],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let version = if tables.iter().any(|t| t == "fcnsweep_meta") {
                c.query_opt(
                    "SELECT value FROM fcnsweep_meta WHERE key = 'schema_version'",
                    &[],
                )?
                .and_then(|r| r.get::<_, String>(0).parse().ok())
            } else {
                None
            };
            Ok(Inspection {
                schema,
                tables,
                version,
            })
        })
    }

    /// Refuses schemas of other programs and of newer fcnsweep versions.
    fn check_found(&self, found: &Inspection) -> Result<(), StoreError> {
        if found.version.is_none() && !found.tables.is_empty() {
            return Err(StoreError::Foreign {
                db: self.db(),
                found: format!(
                    "schema {} has tables of fcnsweep's names but no fcnsweep_meta",
                    found.schema.as_deref().unwrap_or("?")
                ),
                tables: found.tables.join(", "),
            });
        }
        match found.version {
            Some(v) if v > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                db: self.db(),
                found: v,
                supported: SCHEMA_VERSION,
            }),
            _ => Ok(()),
        }
    }

    /// Refuses, before writing anything, a read-only server or a role that may not write.
    fn check_writable(&mut self, found: &Inspection) -> Result<(), StoreError> {
        let db = self.db();
        let has_tables = found.version.is_some();
        let (read_only, user, may): (String, String, bool) = self.run(|c| {
            let row = c.query_one(
                "SELECT current_setting('transaction_read_only'), current_user::text,
                        CASE WHEN $1 THEN has_table_privilege(current_schema() || '.trials', 'INSERT, UPDATE, DELETE')
                             WHEN current_schema() IS NULL THEN has_database_privilege(current_database(), 'CREATE')
                             ELSE has_schema_privilege(current_schema(), 'CREATE') END",
                &[&has_tables],
            )?;
            Ok((row.get(0), row.get(1), row.get::<_, Option<bool>>(2).unwrap_or(false)))
        })?;
        if read_only == "on" {
            return Err(StoreError::ReadOnly {
                db,
                detail: "the server only accepts read-only transactions (a standby?)".into(),
            });
        }
        if !may {
            let what = if has_tables {
                "write fcnsweep's tables"
            } else {
                "create tables here"
            };
            return Err(StoreError::ReadOnly {
                db,
                detail: format!("role '{user}' may not {what}"),
            });
        }
        Ok(())
    }

    /// Creates the first schema of `search_path` when it does not exist.
    fn ensure_schema(&mut self) -> Result<(), StoreError> {
        self.run(|c| {
            let current: Option<String> = c.query_one("SELECT current_schema()", &[])?.get(0);
            if current.is_some() {
                return Ok(());
            }
            let path: String = c.query_one("SHOW search_path", &[])?.get(0);
            let user: String = c.query_one("SELECT current_user::text", &[])?.get(0);
            let first = path
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            let name = if first == "$user" || first.is_empty() {
                user
            } else {
                first.to_string()
            };
            c.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                name.replace('"', "\"\"")
            ))?;
            Ok(())
        })
    }

    /// Applies the missing forward migrations and axis columns in one transaction, under an
    /// advisory lock so that workers starting together migrate once.
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.ensure_schema()?;
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
            let has_meta: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_name = 'fcnsweep_meta')",
                    &[],
                )?
                .get(0);
            let version: i64 = if has_meta {
                tx.query_opt(
                    "SELECT value FROM fcnsweep_meta WHERE key = 'schema_version'",
                    &[],
                )?
                .and_then(|r| r.get::<_, String>(0).parse().ok())
                .unwrap_or(0)
            } else {
                0
            };
            for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tracing::info!(from, to = from + 1, "migrating database schema");
                tx.batch_execute(sql)?;
            }
            let existing: BTreeSet<String> = tx
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = 'configs'",
                    &[],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for sql in missing_column_statements(&existing, ["BIGINT", "DOUBLE PRECISION", "TEXT"])
            {
                tx.batch_execute(&sql)?;
            }
            if version < SCHEMA_VERSION {
                write_meta(&mut tx, SCHEMA_VERSION)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn load_columns(&mut self) -> Result<(), StoreError> {
        self.column_types = self.run(|c| {
            Ok(c.query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = 'configs'",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        Ok(())
    }
}

/// Marks the schema as fcnsweep's, at `version`.
fn write_meta(tx: &mut Transaction<'_>, version: i64) -> Result<(), postgres::Error> {
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fcnsweep_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )?;
    tx.execute(
        "INSERT INTO fcnsweep_meta (key, value) VALUES ('application', 'fcnsweep'), ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&version.to_string()],
    )?;
    Ok(())
}

fn corrupt(db: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        db: db.to_string(),
        detail,
    }
}

fn run_config(db: &str, json: &str) -> Result<RunConfig, StoreError> {
    json_column(db, "configuration parameters", json)
}

fn status(db: &str, s: &str) -> Result<TrialStatus, StoreError> {
    TrialStatus::parse(s).ok_or_else(|| corrupt(db, format!("unknown trial status '{s}'")))
}

/// The stored sweep named `name`, as registration compares it.
fn existing_sweep(
    c: &mut impl GenericClient,
    name: &str,
) -> Result<Option<ExistingSweep>, postgres::Error> {
    let Some(row) = c.query_opt("SELECT id, dataset FROM sweeps WHERE name = $1", &[&name])? else {
        return Ok(None);
    };
    let id: i64 = row.get(0);
    let configs = c
        .query(
            "SELECT config_hash FROM sweep_configs WHERE sweep_id = $1 AND proposal IS NULL",
            &[&id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let seeds = c
        .query("SELECT seed FROM sweep_seeds WHERE sweep_id = $1", &[&id])?
        .iter()
        .map(|r| r.get::<_, i64>(0) as u64)
        .collect();
    Ok(Some(ExistingSweep {
        id,
        dataset: row.get(1),
        configs,
        seeds,
    }))
}

/// Inserts a pending trial for every (configuration, seed) of the sweep that has none.
fn ensure_trials(tx: &mut Transaction<'_>, sweep_id: i64) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO trials (config_hash, seed, status)
         SELECT sc.config_hash, ss.seed, 'pending'
         FROM sweep_configs sc JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id
         WHERE sc.sweep_id = $1
         ORDER BY sc.position, ss.seed
         ON CONFLICT DO NOTHING",
        &[&sweep_id],
    )
}

/// Inserts an epoch row unless it is there; returns how many rows it inserted (0 or 1).
fn insert_epoch(
    tx: &mut Transaction<'_>,
    trial: TrialId,
    m: &EpochMetrics,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO epochs (trial_id, epoch, train_loss, train_acc, val_loss, val_acc, seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (trial_id, epoch) DO NOTHING",
        &[
            &trial,
            &(m.epoch as i64),
            &finite(m.train_loss),
            &m.train_acc,
            &m.val_loss.and_then(finite),
            &m.val_acc,
            &m.seconds,
        ],
    )
}

fn trial_record(db: &str, r: &postgres::Row) -> Result<TrialRecord, StoreError> {
    Ok(TrialRecord {
        id: r.get(0),
        config_hash: r.get(1),
        seed: r.get::<_, i64>(2) as u64,
        status: status(db, r.get(3))?,
        worker: r.get(4),
        epochs_done: r.get::<_, i64>(5) as usize,
        test_acc: r.get(6),
        test_loss: r.get(7),
        final_val_acc: r.get(8),
        final_val_loss: r.get(9),
        final_train_loss: r.get(10),
        seconds: r.get(11),
        error: r.get(12),
    })
}

impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.db()
    }

    fn register_sweep(
        &mut self,
        plan: &SweepPlan,
        spec_text: &str,
        options: RegisterOptions,
    ) -> Result<Registered, StoreError> {
        let db = self.db();
        let types = self.column_types.clone();
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
            let comparison = match existing_sweep(&mut tx, &plan.name)? {
                Some(existing) => Some(plan::compare(&db, plan, existing, options)?),
                None => None,
            };
            let (sweep_id, outcome) = match comparison {
                None => {
                    let (configs, seeds) = plan.sets();
                    let row = tx.query_one(
                        &format!(
                            "INSERT INTO sweeps (name, dataset, spec, plan_hash, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, {NOW}, {NOW}) RETURNING id"
                        ),
                        &[&plan.name, &plan.dataset.name(), &spec_text, &plan_hash(&configs, &seeds)],
                    )?;
                    (row.get::<_, i64>(0), Registered::Created)
                }
                Some(c @ Comparison {
                    outcome: Registered::Extended { .. },
                    ..
                }) => {
                    tx.execute(
                        &format!(
                            "UPDATE sweeps SET spec = $2, plan_hash = $3, updated_at = {NOW} WHERE id = $1"
                        ),
                        &[&c.id, &spec_text, &plan_hash(&c.configs, &c.seeds)],
                    )?;
                    (c.id, c.outcome)
                }
                Some(c) => (c.id, c.outcome),
            };
            let mut position: i64 = tx
                .query_one(
                    "SELECT coalesce(max(position) + 1, 0) FROM sweep_configs WHERE sweep_id = $1",
                    &[&sweep_id],
                )?
                .get(0);
            for pc in &plan.configs {
                insert_config(&mut tx, &types, plan.dataset, &pc.hash, &pc.run)?;
                let inserted = tx.execute(
                    "INSERT INTO sweep_configs (sweep_id, config_hash, position, baseline, sources)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[
                        &sweep_id,
                        &pc.hash,
                        &position,
                        &(pc.baseline as i64),
                        &serde_json::to_string(&pc.sources).expect("strings serialize"),
                    ],
                )?;
                position += inserted as i64;
            }
            for s in &plan.seeds {
                tx.execute(
                    "INSERT INTO sweep_seeds (sweep_id, seed) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&sweep_id, &(*s as i64)],
                )?;
            }
            if options.no_reuse {
                tx.execute(
                    "UPDATE trials SET superseded = 1
                     WHERE superseded = 0 AND status IN ('done', 'diverged', 'failed', 'pruned')
                       AND id IN (SELECT id FROM sweep_trials WHERE sweep_id = $1)",
                    &[&sweep_id],
                )?;
                // An adaptive search starts over: its proposals go (their trials stay, superseded).
                tx.execute(
                    "DELETE FROM sweep_configs WHERE sweep_id = $1 AND proposal IS NOT NULL",
                    &[&sweep_id],
                )?;
            }
            ensure_trials(&mut tx, sweep_id)?;
            tx.commit()?;
            Ok(outcome.clone())
        })
    }

    fn check_plan(&mut self, plan: &SweepPlan, options: RegisterOptions) -> Result<(), StoreError> {
        let db = self.db();
        self.run(|c| {
            if let Some(existing) = existing_sweep(c, &plan.name)? {
                plan::compare(&db, plan, existing, options)?;
            }
            Ok(())
        })
    }

    fn sweep(&mut self, name: &str) -> Result<SweepRecord, StoreError> {
        let db = self.db();
        let (row, known, configs, seeds) = self.run(|c| {
            let Some(row) = c.query_opt(
                "SELECT id, dataset, spec, created_at FROM sweeps WHERE name = $1",
                &[&name],
            )?
            else {
                let known: Vec<String> = c
                    .query("SELECT name FROM sweeps ORDER BY name", &[])?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                return Ok((None, known, Vec::new(), Vec::new()));
            };
            let id: i64 = row.get(0);
            let configs = c.query(
                "SELECT sc.config_hash, c.params, sc.baseline, sc.sources, sc.proposal
                 FROM sweep_configs sc
                 JOIN configs c ON c.hash = sc.config_hash
                 WHERE sc.sweep_id = $1 ORDER BY sc.position",
                &[&id],
            )?;
            let seeds: Vec<u64> = c
                .query(
                    "SELECT seed FROM sweep_seeds WHERE sweep_id = $1 ORDER BY seed",
                    &[&id],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u64)
                .collect();
            Ok((Some(row), Vec::new(), configs, seeds))
        })?;
        let Some(row) = row else {
            return Err(StoreError::UnknownSweep {
                name: name.to_string(),
                db,
                known,
            });
        };
        let dataset = DatasetName::parse(row.get(1)).map_err(|e| corrupt(&db, e.to_string()))?;
        let configs = configs
            .iter()
            .map(|r| {
                Ok(StoredConfig {
                    hash: r.get(0),
                    run: run_config(&db, r.get(1))?,
                    baseline: r.get::<_, i64>(2) != 0,
                    sources: json_column(&db, "configuration sources", r.get(3))?,
                    proposal: r.get::<_, Option<i64>>(4).map(|n| n as usize),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SweepRecord {
            id: row.get(0),
            name: name.to_string(),
            dataset,
            spec: row.get(2),
            created_at: row.get(3),
            configs,
            seeds,
        })
    }

    fn find_sweep(&mut self, name: &str) -> Result<Option<i64>, StoreError> {
        self.run(|c| {
            Ok(
                c.query_opt("SELECT id FROM sweeps WHERE name = $1", &[&name])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn list_sweeps(&mut self) -> Result<Vec<SweepListing>, StoreError> {
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT s.id, s.name, s.dataset, s.created_at,
                        (SELECT count(*) FROM sweep_configs WHERE sweep_id = s.id),
                        (SELECT count(*) FROM sweep_seeds WHERE sweep_id = s.id)
                 FROM sweeps s ORDER BY s.created_at, s.name",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(SweepListing {
                    counts: self.status_counts(r.get(0))?,
                    name: r.get(1),
                    dataset: r.get(2),
                    created_at: r.get(3),
                    configs: r.get::<_, i64>(4) as usize,
                    seeds: r.get::<_, i64>(5) as usize,
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
        let db = self.db();
        // Return abandoned trials to pending, each only if it is still the abandoned claim.
        let running: Vec<RunningTrial> = self.run(|c| {
            Ok(c.query(
                &format!(
                    "SELECT id, worker, host, pid, {NOW} - heartbeat_at, epochs_done,
                            checkpoint_epoch, claim_checkpoint_epoch, stalled_deaths, deaths
                     FROM sweep_trials WHERE sweep_id = $1 AND status = 'running' ORDER BY id"
                ),
                &[&sweep_id],
            )?
            .iter()
            .map(|r| RunningTrial {
                id: r.get(0),
                worker: r.get(1),
                host: r.get(2),
                pid: r.get::<_, Option<i64>>(3).map(|p| p as u32),
                heartbeat_age: r.get(4),
                epochs_done: r.get::<_, i64>(5) as usize,
                checkpoint_epoch: r.get::<_, Option<i64>>(6).map(|e| e as usize),
                claim_checkpoint_epoch: r.get::<_, Option<i64>>(7).map(|e| e as usize),
                stalled_deaths: r.get::<_, i64>(8) as u32,
                deaths: r.get(9),
            })
            .collect())
        })?;
        let mut recovered = BTreeSet::new();
        for trial in running {
            let Some(why) = recovery::abandoned(&trial, worker, options) else {
                continue;
            };
            let verdict = recovery::verdict(&trial, options.max_attempts);
            let applied = self.run(|c| {
                let mut tx = c.transaction()?;
                let n = match &verdict {
                    Verdict::Requeue {
                        stalled_deaths,
                        deaths,
                    } => tx.execute(
                        "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                                heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0),
                                stalled_deaths = $3, deaths = $4
                         WHERE id = $1 AND status = 'running' AND worker IS NOT DISTINCT FROM $2",
                        &[&trial.id, &trial.worker, &i64::from(*stalled_deaths), deaths],
                    )?,
                    Verdict::Fail(message) => tx.execute(
                        &format!(
                            "UPDATE trials SET status = 'failed', worker = NULL, host = NULL, pid = NULL,
                                heartbeat_at = NULL, finished_at = {NOW},
                                epochs_done = coalesce(checkpoint_epoch, 0),
                                stalled_deaths = stalled_deaths + 1, error = $3
                             WHERE id = $1 AND status = 'running' AND worker IS NOT DISTINCT FROM $2"
                        ),
                        &[&trial.id, &trial.worker, message],
                    )?,
                };
                if n > 0 {
                    tx.execute(
                        "DELETE FROM epochs WHERE trial_id = $1 AND epoch > coalesce(
                           (SELECT checkpoint_epoch FROM trials WHERE id = $1), 0)",
                        &[&trial.id],
                    )?;
                }
                tx.commit()?;
                Ok(n > 0)
            })?;
            match (&verdict, applied) {
                (Verdict::Requeue { .. }, true) => {
                    tracing::warn!(trial = trial.id, host = ?trial.host, pid = ?trial.pid, why, "recovering abandoned trial");
                    recovered.insert(trial.id);
                }
                (Verdict::Fail(message), true) => {
                    tracing::warn!(trial = trial.id, %message, "failing a trial that kills its process");
                }
                _ => {}
            }
        }
        let claimed = self.run(|c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "SELECT t.id, t.config_hash, t.seed, t.checkpoint_epoch, t.checkpoint_sha256,
                        t.status
                 FROM trials t
                 JOIN sweep_configs sc ON sc.config_hash = t.config_hash AND sc.sweep_id = $1
                 JOIN sweep_seeds ss ON ss.sweep_id = sc.sweep_id AND ss.seed = t.seed
                 WHERE t.superseded = 0 AND (t.status = 'pending' OR ($2 AND t.status = 'failed'))
                 ORDER BY sc.position, ss.seed
                 LIMIT 1
                 FOR UPDATE OF t SKIP LOCKED",
                &[&sweep_id, &options.retry_failed],
            )?
            else {
                tx.commit()?;
                return Ok(None);
            };
            let id: i64 = row.get(0);
            let ck_epoch: Option<i64> = row.get(3);
            let retried = row.get::<_, &str>(5) == "failed";
            tx.execute(
                "DELETE FROM epochs WHERE trial_id = $1 AND epoch > coalesce($2::bigint, 0)",
                &[&id, &ck_epoch],
            )?;
            tx.execute(
                &format!(
                    "UPDATE trials SET status = 'running', worker = $2, host = $3, pid = $4,
                        claimed_at = {NOW}, heartbeat_at = {NOW}, finished_at = NULL,
                        attempts = attempts + 1, epochs_done = coalesce(checkpoint_epoch, 0),
                        claim_checkpoint_epoch = checkpoint_epoch,
                        stalled_deaths = CASE WHEN $5 THEN 0 ELSE stalled_deaths END,
                        deaths = CASE WHEN $5 THEN NULL ELSE deaths END,
                        error = NULL, test_acc = NULL,
                        test_loss = NULL, final_train_loss = NULL, final_val_loss = NULL,
                        final_val_acc = NULL, seconds = NULL
                     WHERE id = $1"
                ),
                &[
                    &id,
                    &worker.id,
                    &worker.host,
                    &(worker.pid as i64),
                    &retried,
                ],
            )?;
            let params: String = tx
                .query_one(
                    "SELECT params FROM configs WHERE hash = $1",
                    &[&row.get::<_, &str>(1)],
                )?
                .get(0);
            tx.commit()?;
            let checkpoint = match (ck_epoch, row.get::<_, Option<String>>(4)) {
                (Some(e), Some(sha256)) if e > 0 => Some(CheckpointRef {
                    epoch: e as usize,
                    sha256,
                }),
                _ => None,
            };
            Ok(Some((
                id,
                row.get::<_, String>(1),
                row.get::<_, i64>(2),
                params,
                checkpoint,
            )))
        })?;
        let Some((id, config_hash, seed, params, checkpoint)) = claimed else {
            return Ok(None);
        };
        Ok(Some(ClaimedTrial {
            id,
            run: run_config(&db, &params)?,
            config_hash,
            seed: seed as u64,
            recovered: recovered.contains(&id),
            checkpoint,
        }))
    }

    fn heartbeat(&mut self, worker: &Worker) -> Result<(), StoreError> {
        self.run(|c| {
            c.execute(
                &format!(
                    "UPDATE trials SET heartbeat_at = {NOW} WHERE worker = $1 AND status = 'running'"
                ),
                &[&worker.id],
            )?;
            Ok(())
        })
    }

    fn record_epoch(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        m: &EpochMetrics,
        checkpoint: Option<&CheckpointRef>,
    ) -> Result<(), StoreError> {
        let ck_epoch = checkpoint.map(|c| c.epoch as i64);
        let ck_sha = checkpoint.map(|c| c.sha256.as_str());
        self.run(|c| {
            let mut tx = c.transaction()?;
            // A retried commit whose first try went through finds its epoch row present
            // (nothing inserted): it must not count the epoch twice. Not owning the trial
            // rolls the insert back.
            let inserted = insert_epoch(&mut tx, trial, m)?;
            let owned = tx.execute(
                &format!(
                    "UPDATE trials SET heartbeat_at = {NOW}, epochs_done = $3,
                        epochs_trained = epochs_trained + $6,
                        checkpoint_epoch = coalesce($4, checkpoint_epoch),
                        checkpoint_sha256 = coalesce($5, checkpoint_sha256)
                     WHERE id = $1 AND worker = $2 AND status = 'running'"
                ),
                &[
                    &trial,
                    &worker.id,
                    &(m.epoch as i64),
                    &ck_epoch,
                    &ck_sha,
                    &(inserted as i64),
                ],
            )?;
            if owned == 0 {
                return Err(StoreError::LostClaim(trial).into());
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn finish(
        &mut self,
        trial: TrialId,
        worker: &Worker,
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError> {
        let target = match outcome {
            TrialOutcome::Finished(r) if r.diverged => "diverged",
            TrialOutcome::Finished(_) => "done",
            TrialOutcome::Failed(_) => "failed",
            TrialOutcome::Pruned { .. } => "pruned",
        };
        self.run(|c| {
            let mut tx = c.transaction()?;
            let owned = match outcome {
                TrialOutcome::Finished(r) => {
                    let last = r.epochs.last();
                    tx.execute(
                        &format!(
                            "UPDATE trials SET status = $3, finished_at = {NOW}, heartbeat_at = {NOW},
                                epochs_done = $4, test_loss = $5, test_acc = $6, final_train_loss = $7,
                                final_val_loss = $8, final_val_acc = $9, seconds = $10, error = NULL,
                                checkpoint_epoch = NULL, checkpoint_sha256 = NULL,
                                stalled_deaths = 0, deaths = NULL
                             WHERE id = $1 AND worker = $2 AND status = 'running'"
                        ),
                        &[
                            &trial,
                            &worker.id,
                            &target,
                            &(r.epochs.len() as i64),
                            &finite(r.test_loss),
                            &r.test_acc,
                            &last.and_then(|e| finite(e.train_loss)),
                            &last.and_then(|e| e.val_loss).and_then(finite),
                            &last.and_then(|e| e.val_acc),
                            &r.seconds,
                        ],
                    )?
                }
                TrialOutcome::Failed(msg) => tx.execute(
                    &format!(
                        "UPDATE trials SET status = 'failed', finished_at = {NOW}, heartbeat_at = {NOW}, error = $3
                         WHERE id = $1 AND worker = $2 AND status = 'running'"
                    ),
                    &[&trial, &worker.id, msg],
                )?,
                TrialOutcome::Pruned { last, seconds } => tx.execute(
                    &format!(
                        "UPDATE trials SET status = 'pruned', finished_at = {NOW}, heartbeat_at = {NOW},
                            epochs_done = $3, test_loss = NULL, test_acc = NULL, final_train_loss = $4,
                            final_val_loss = $5, final_val_acc = $6, seconds = $7, error = NULL,
                            checkpoint_epoch = NULL, checkpoint_sha256 = NULL,
                            stalled_deaths = 0, deaths = NULL
                         WHERE id = $1 AND worker = $2 AND status = 'running'"
                    ),
                    &[
                        &trial,
                        &worker.id,
                        &(last.epoch as i64),
                        &finite(last.train_loss),
                        &last.val_loss.and_then(finite),
                        &last.val_acc,
                        seconds,
                    ],
                )?,
            };
            if owned == 0 {
                // A retry after a commit whose answer was lost finds its own result.
                let done = tx
                    .query_opt(
                        "SELECT 1 FROM trials WHERE id = $1 AND worker = $2 AND status = $3",
                        &[&trial, &worker.id, &target],
                    )?
                    .is_some();
                if done {
                    return Ok(());
                }
                return Err(StoreError::LostClaim(trial).into());
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn release(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let owned = tx.execute(
                "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                        heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0)
                 WHERE id = $1 AND worker = $2 AND status = 'running'",
                &[&trial, &worker.id],
            )?;
            if owned > 0 {
                tx.execute(
                    "DELETE FROM epochs WHERE trial_id = $1 AND epoch > coalesce(
                       (SELECT checkpoint_epoch FROM trials WHERE id = $1), 0)",
                    &[&trial],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn discard_progress(&mut self, trial: TrialId, worker: &Worker) -> Result<(), StoreError> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let owned = tx.execute(
                "UPDATE trials SET epochs_done = 0, checkpoint_epoch = NULL,
                        checkpoint_sha256 = NULL, claim_checkpoint_epoch = NULL
                 WHERE id = $1 AND worker = $2 AND status = 'running'",
                &[&trial, &worker.id],
            )?;
            if owned == 0 {
                return Err(StoreError::LostClaim(trial).into());
            }
            tx.execute("DELETE FROM epochs WHERE trial_id = $1", &[&trial])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn release_orphans(&mut self, worker: &Worker) -> Result<usize, StoreError> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM epochs e USING trials t
                 WHERE e.trial_id = t.id AND t.worker = $1 AND t.status = 'running'
                   AND e.epoch > coalesce(t.checkpoint_epoch, 0)",
                &[&worker.id],
            )?;
            let n = tx.execute(
                "UPDATE trials SET status = 'pending', worker = NULL, host = NULL, pid = NULL,
                        heartbeat_at = NULL, epochs_done = coalesce(checkpoint_epoch, 0)
                 WHERE worker = $1 AND status = 'running'",
                &[&worker.id],
            )?;
            tx.commit()?;
            Ok(n as usize)
        })
    }

    fn status_counts(&mut self, sweep_id: i64) -> Result<StatusCounts, StoreError> {
        let db = self.db();
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT status, count(*) FROM sweep_trials WHERE sweep_id = $1 GROUP BY status",
                &[&sweep_id],
            )?)
        })?;
        let mut counts = StatusCounts::default();
        for r in rows {
            counts.add(status(&db, r.get(0))?, r.get::<_, i64>(1) as usize);
        }
        Ok(counts)
    }

    fn mean_trial_seconds(&mut self, sweep_id: i64) -> Result<Option<f64>, StoreError> {
        self.run(|c| {
            Ok(c.query_one(
                "SELECT avg(seconds) FROM sweep_trials WHERE sweep_id = $1 AND status IN ('done', 'diverged')",
                &[&sweep_id],
            )?
            .get(0))
        })
    }

    fn trials(&mut self, sweep_id: i64) -> Result<Vec<TrialRecord>, StoreError> {
        let db = self.db();
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT t.id, t.config_hash, t.seed, t.status, t.worker, t.epochs_done, t.test_acc,
                        t.test_loss, t.final_val_acc, t.final_val_loss, t.final_train_loss,
                        t.seconds, t.error
                 FROM sweep_trials t
                 JOIN sweep_configs sc ON sc.sweep_id = t.sweep_id AND sc.config_hash = t.config_hash
                 WHERE t.sweep_id = $1 ORDER BY sc.position, t.seed",
                &[&sweep_id],
            )?)
        })?;
        rows.iter().map(|r| trial_record(&db, r)).collect()
    }

    fn epochs(&mut self, sweep_id: i64, config_hash: &str) -> Result<Vec<EpochRecord>, StoreError> {
        self.epoch_rows(
            "t.config_hash = $2 AND t.status IN ('done', 'diverged') ORDER BY t.seed, e.epoch",
            &[&sweep_id, &config_hash],
        )
    }

    fn sweep_epochs(&mut self, sweep_id: i64) -> Result<Vec<EpochRecord>, StoreError> {
        self.epoch_rows("true ORDER BY e.trial_id, e.epoch", &[&sweep_id])
    }

    fn propose(
        &mut self,
        sweep_id: i64,
        _worker: &Worker,
        request: &ProposalRequest,
    ) -> Result<ProposalOutcome, StoreError> {
        let db = self.db();
        let types = self.column_types.clone();
        self.run(|c| {
            let mut tx = c.transaction()?;
            // The lock registration takes: proposals of one sweep, from any number of
            // workers, are counted and stored one at a time.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
            let row = tx.query_one(
                "SELECT (SELECT count(*) FROM sweep_configs WHERE sweep_id = $1 AND proposal IS NOT NULL),
                        EXISTS (SELECT 1 FROM sweep_configs WHERE sweep_id = $1 AND config_hash = $2),
                        (SELECT dataset FROM sweeps WHERE id = $1)",
                &[&sweep_id, &request.config.hash],
            )?;
            let proposals = row.get::<_, i64>(0) as usize;
            if proposals >= request.budget {
                return Ok(ProposalOutcome::BudgetSpent);
            }
            if proposals != request.number || row.get::<_, bool>(1) {
                return Ok(ProposalOutcome::Conflict);
            }
            let dataset = DatasetName::parse(row.get::<_, &str>(2))
                .map_err(|e| corrupt(&db, e.to_string()))?;
            let pc = &request.config;
            insert_config(&mut tx, &types, dataset, &pc.hash, &pc.run)?;
            tx.execute(
                "INSERT INTO sweep_configs (sweep_id, config_hash, position, baseline, sources, proposal)
                 VALUES ($1, $2, (SELECT coalesce(max(position) + 1, 0) FROM sweep_configs WHERE sweep_id = $1),
                         $3, $4, $5)",
                &[
                    &sweep_id,
                    &pc.hash,
                    &(pc.baseline as i64),
                    &serde_json::to_string(&[&request.block]).expect("strings serialize"),
                    &(request.number as i64),
                ],
            )?;
            ensure_trials(&mut tx, sweep_id)?;
            tx.commit()?;
            Ok(ProposalOutcome::Stored)
        })
    }

    fn store_copied_trial(
        &mut self,
        sweep_id: i64,
        trial: &TrialRecord,
        epochs: &[EpochMetrics],
    ) -> Result<bool, StoreError> {
        let db = self.db();
        self.run(|c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "SELECT id, status FROM sweep_trials
                 WHERE sweep_id = $1 AND config_hash = $2 AND seed = $3",
                &[&sweep_id, &trial.config_hash, &(trial.seed as i64)],
            )?
            else {
                return Ok(false);
            };
            let id: i64 = row.get(0);
            let st = status(&db, row.get(1))?;
            if st.is_finished() || matches!(st, TrialStatus::Running | TrialStatus::Pruned) {
                return Ok(false);
            }
            tx.execute("DELETE FROM epochs WHERE trial_id = $1", &[&id])?;
            tx.execute(
                &format!(
                    "UPDATE trials SET status = $2, worker = $3, host = NULL, pid = NULL,
                        heartbeat_at = NULL, finished_at = {NOW}, epochs_done = $4, test_acc = $5,
                        test_loss = $6, final_val_acc = $7, final_val_loss = $8,
                        final_train_loss = $9, seconds = $10, error = $11
                     WHERE id = $1"
                ),
                &[
                    &id,
                    &trial.status.as_str(),
                    &trial.worker,
                    &(trial.epochs_done as i64),
                    &trial.test_acc,
                    &trial.test_loss,
                    &trial.final_val_acc,
                    &trial.final_val_loss,
                    &trial.final_train_loss,
                    &trial.seconds,
                    &trial.error,
                ],
            )?;
            for m in epochs {
                insert_epoch(&mut tx, id, m)?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn record_baseline(&mut self, b: &BaselineRecord) -> Result<(), StoreError> {
        let curve = serde_json::to_string(&b.val_curve).expect("pairs serialize");
        self.run(|c| {
            c.execute(
                &format!(
                    "INSERT INTO baselines
                     (dataset, method, k, validation, split_seed, val_acc, test_acc, seconds, val_curve, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {NOW})
                     ON CONFLICT (dataset, method, validation, split_seed) DO UPDATE SET
                       k = EXCLUDED.k, val_acc = EXCLUDED.val_acc, test_acc = EXCLUDED.test_acc,
                       seconds = EXCLUDED.seconds, val_curve = EXCLUDED.val_curve,
                       created_at = EXCLUDED.created_at"
                ),
                &[
                    &b.dataset,
                    &b.method,
                    &(b.k as i64),
                    &(b.validation as i64),
                    &(b.split_seed as i64),
                    &b.val_acc,
                    &b.test_acc,
                    &b.seconds,
                    &curve,
                ],
            )?;
            Ok(())
        })
    }

    fn baselines(&mut self, dataset: &str) -> Result<Vec<BaselineRecord>, StoreError> {
        let db = self.db();
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT dataset, method, k, validation, split_seed, val_acc, test_acc, seconds, val_curve
                 FROM baselines WHERE dataset = $1 ORDER BY test_acc DESC",
                &[&dataset],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(BaselineRecord {
                    dataset: r.get(0),
                    method: r.get(1),
                    k: r.get::<_, i64>(2) as usize,
                    validation: r.get::<_, i64>(3) as usize,
                    split_seed: r.get::<_, i64>(4) as u64,
                    val_acc: r.get(5),
                    test_acc: r.get(6),
                    seconds: r.get(7),
                    val_curve: json_column(&db, "baseline validation curve", r.get(8))?,
                })
            })
            .collect()
    }

    fn import_external(
        &mut self,
        source: &str,
        trials: &[ExternalTrial],
    ) -> Result<usize, StoreError> {
        let db = self.db();
        self.run(|c| {
            let mut tx = c.transaction()?;
            for t in trials {
                let known = tx
                    .query_opt("SELECT 1 FROM configs WHERE hash = $1", &[&t.config_hash])?
                    .is_some();
                if !known {
                    return Err(StoreError::UnknownConfig {
                        db: db.clone(),
                        hash: t.config_hash.clone(),
                        source_name: source.to_string(),
                    }
                    .into());
                }
                tx.execute(
                    &format!(
                        "INSERT INTO external_trials
                         (source, framework, config_hash, seed, test_acc, test_loss, final_train_loss,
                          final_val_loss, final_val_acc, seconds, epochs, imported_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, {NOW})
                         ON CONFLICT (source, config_hash, seed) DO UPDATE SET
                           framework = EXCLUDED.framework, test_acc = EXCLUDED.test_acc,
                           test_loss = EXCLUDED.test_loss, final_train_loss = EXCLUDED.final_train_loss,
                           final_val_loss = EXCLUDED.final_val_loss, final_val_acc = EXCLUDED.final_val_acc,
                           seconds = EXCLUDED.seconds, epochs = EXCLUDED.epochs,
                           imported_at = EXCLUDED.imported_at"
                    ),
                    &[
                        &source,
                        &t.framework,
                        &t.config_hash,
                        &(t.seed as i64),
                        &t.test_acc,
                        &t.test_loss,
                        &t.final_train_loss,
                        &t.final_val_loss,
                        &t.final_val_acc,
                        &t.seconds,
                        &serde_json::to_string(&t.epochs).expect("epochs serialize"),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(trials.len())
        })
    }

    fn external_trials(&mut self, source: &str) -> Result<Vec<ExternalTrial>, StoreError> {
        let db = self.db();
        let rows = self.run(|c| {
            Ok(c.query(
                "SELECT framework, config_hash, seed, test_acc, test_loss, final_train_loss,
                        final_val_loss, final_val_acc, seconds, epochs
                 FROM external_trials WHERE source = $1 ORDER BY config_hash, seed",
                &[&source],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(ExternalTrial {
                    framework: r.get(0),
                    config_hash: r.get(1),
                    seed: r.get::<_, i64>(2) as u64,
                    test_acc: r.get(3),
                    test_loss: r.get(4),
                    final_train_loss: r.get(5),
                    final_val_loss: r.get(6),
                    final_val_acc: r.get(7),
                    seconds: r.get(8),
                    epochs: json_column(&db, "imported epochs", r.get(9))?,
                })
            })
            .collect()
    }

    fn external_sources(&mut self) -> Result<Vec<String>, StoreError> {
        self.run(|c| {
            Ok(c.query(
                "SELECT DISTINCT source FROM external_trials ORDER BY source",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }
}

/// Inserts a configuration with its axis columns, each value sent as text and cast on the
/// server to its column's type.
fn insert_config(
    tx: &mut Transaction<'_>,
    types: &BTreeMap<String, String>,
    dataset: DatasetName,
    hash: &str,
    run: &RunConfig,
) -> Result<(), postgres::Error> {
    let columns = config_columns(run);
    let names: Vec<&str> = columns.iter().map(|(k, _)| *k).collect();
    let casts: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ty = types.get(*name).map(String::as_str).unwrap_or("text");
            format!("${}::text::{ty}", i + 4)
        })
        .collect();
    let sql = format!(
        "INSERT INTO configs (hash, dataset, params, {}) VALUES ($1, $2, $3, {})
         ON CONFLICT (hash) DO NOTHING",
        names.join(", "),
        casts.join(", ")
    );
    let params_json = serde_json::to_string(run).expect("RunConfig serializes");
    let values: Vec<Option<String>> = columns.iter().map(|(_, v)| v.text()).collect();
    let dataset = dataset.name();
    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&hash, &dataset, &params_json];
    params.extend(
        values
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync)),
    );
    tx.execute(&sql, &params)?;
    Ok(())
}
