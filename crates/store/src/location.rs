//! Where a store lives: the value of `--db` / `FCNSWEEP_DB`, parsed once into a backend and
//! its address, and opened into a `Box<dyn Store>`.

use std::path::{Path, PathBuf};

use crate::postgres::{self, PostgresStore};
use crate::sqlite::SqliteStore;
use crate::{RegisterOptions, Store, StoreError, SweepPlan};

/// Where results go unless `--db` or `FCNSWEEP_DB` say otherwise.
pub const DEFAULT_DB: &str = "db/fcnsweep.sqlite";

/// A database: an SQLite file or a PostgreSQL server's database (and schema).
#[derive(Debug, Clone)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://` URL or libpq key=value form).
    Postgres(Box<postgres::Target>),
}

impl Location {
    /// Reads a `--db` value: `postgres://…` / `postgresql://…` is PostgreSQL, `sqlite:PATH`
    /// or anything else is an SQLite path.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return postgres::Target::parse(value).map(|t| Self::Postgres(Box::new(t)));
        }
        if let Some(rest) = value.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.is_empty() {
                return Err(StoreError::BadUrl {
                    url: value.into(),
                    detail: "sqlite: needs a file path, e.g. sqlite:db/fcnsweep.sqlite".into(),
                });
            }
            return Ok(Self::Sqlite(PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            return Err(StoreError::BadUrl {
                url: postgres::redact(value),
                detail: format!(
                    "unknown scheme '{scheme}' (use a file path, sqlite:PATH, or postgres://HOST/DB)"
                ),
            });
        }
        if value.is_empty() {
            return Err(StoreError::BadUrl {
                url: String::new(),
                detail: "empty database location".into(),
            });
        }
        Ok(Self::Sqlite(PathBuf::from(value)))
    }

    /// `explicit` (from `--db`) if given, else `FCNSWEEP_DB`, else [`DEFAULT_DB`].
    pub fn resolve(explicit: Option<&str>) -> Result<Self, StoreError> {
        match explicit {
            Some(v) => Self::parse(v),
            None => match std::env::var("FCNSWEEP_DB") {
                Ok(v) if !v.is_empty() => Self::parse(&v),
                _ => Ok(Self::Sqlite(PathBuf::from(DEFAULT_DB))),
            },
        }
    }

    /// The database for messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(p) => p.display().to_string(),
            Self::Postgres(t) => t.describe(),
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(p) => Some(p),
            Self::Postgres(_) => None,
        }
    }

    /// Opens the database for writing, creating it (an SQLite file, or fcnsweep's tables in
    /// an existing PostgreSQL database) if needed.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Self::Sqlite(p) => Box::new(SqliteStore::open(p)?),
            Self::Postgres(t) => Box::new(PostgresStore::open(t)?),
        })
    }

    /// Opens an existing database for writing; one without fcnsweep's tables is
    /// [`StoreError::NoDatabase`].
    pub fn open_existing_for_writing(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Self::Sqlite(p) => Box::new(SqliteStore::open_existing_for_writing(p)?),
            Self::Postgres(t) => Box::new(PostgresStore::open_existing(t, true)?),
        })
    }

    /// Opens an existing database to read it; writes still work where it is writable.
    pub fn open_existing(&self) -> Result<Box<dyn Store>, StoreError> {
        Ok(match self {
            Self::Sqlite(p) => Box::new(SqliteStore::open_existing(p)?),
            Self::Postgres(t) => Box::new(PostgresStore::open_existing(t, false)?),
        })
    }

    /// Checks, without creating or writing anything, that [`Location::open`] would accept
    /// the database and, with a plan, that registering it would be accepted. Lets a command
    /// refuse a bad database before any slow work.
    pub fn preflight(&self, plan: Option<(&SweepPlan, RegisterOptions)>) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(p) => SqliteStore::preflight(p, plan),
            Self::Postgres(t) => PostgresStore::preflight(t, plan),
        }
    }

    /// A scratch database beside this one, for benchmarks: for SQLite the file
    /// `<dir>/<name>.sqlite`; for PostgreSQL the same server and database, in the schema
    /// `fcnsweep_scratch_<name>`. [`Location::remove_scratch`] removes it.
    pub fn scratch(&self, name: &str, dir: &Path) -> Result<Self, StoreError> {
        match self {
            Self::Sqlite(_) => Ok(Self::Sqlite(dir.join(format!("{name}.sqlite")))),
            Self::Postgres(t) => Ok(Self::Postgres(Box::new(
                t.with_schema(&format!("{}{name}", postgres::SCRATCH_PREFIX))?,
            ))),
        }
    }

    /// Removes a database made by [`Location::scratch`]: the SQLite file with its log, or
    /// the scratch schema (any other schema is refused).
    pub fn remove_scratch(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(p) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
                Ok(())
            }
            Self::Postgres(t) => PostgresStore::drop_scratch_schema(t),
        }
    }

    /// Where checkpoints of this database's running trials go unless `--checkpoint-dir`
    /// says otherwise: `checkpoints/<file stem>/` beside an SQLite file; for PostgreSQL,
    /// `checkpoints/<host>-<port>-<database>-<schema>/` in the working directory (local to
    /// the worker's machine: a trial reclaimed on another host starts over unless the
    /// directory is shared).
    pub fn default_checkpoint_dir(&self) -> PathBuf {
        self.default_dir("checkpoints")
    }

    /// Where the kept networks of this database's trials go unless `--weights-dir` says
    /// otherwise: `weights/<file stem>/` beside an SQLite file, `weights/<server-db-schema>/`
    /// in the working directory for PostgreSQL.
    pub fn default_weights_dir(&self) -> PathBuf {
        self.default_dir("weights")
    }

    fn default_dir(&self, kind: &str) -> PathBuf {
        match self {
            Self::Sqlite(p) => {
                let parent = p.parent().filter(|d| !d.as_os_str().is_empty());
                let stem = p
                    .file_stem()
                    .map_or("fcnsweep".into(), |s| s.to_string_lossy());
                parent
                    .unwrap_or(Path::new("."))
                    .join(kind)
                    .join(stem.as_ref())
            }
            Self::Postgres(t) => {
                let name: String = t
                    .dir_name()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                PathBuf::from(kind).join(name)
            }
        }
    }

    /// The network file system kind holding an SQLite file, where SQLite's locking is unsafe.
    pub fn network_file_system(&self) -> Option<&'static str> {
        self.sqlite_path()
            .and_then(crate::filesystem::network_file_system)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sqlite_urls_and_postgres_urls() {
        assert!(
            matches!(Location::parse("db/x.sqlite"), Ok(Location::Sqlite(p)) if p == Path::new("db/x.sqlite"))
        );
        assert!(
            matches!(Location::parse("sqlite:a.db"), Ok(Location::Sqlite(p)) if p == Path::new("a.db"))
        );
        assert!(
            matches!(Location::parse("sqlite:///tmp/a.db"), Ok(Location::Sqlite(p)) if p == Path::new("/tmp/a.db"))
        );
        let pg = Location::parse("postgres://me:secret@db.example:5433/study").unwrap();
        assert_eq!(pg.describe(), "postgres://me:***@db.example:5433/study");
        assert!(Location::parse(
            "postgresql:///study?host=/run/postgresql&options=-csearch_path%3Dalice"
        )
        .is_ok());
        let e = Location::parse("mysql://x/y").unwrap_err().to_string();
        assert!(e.contains("unknown scheme 'mysql'"), "{e}");
        let e = Location::parse("postgres://me:pw@host:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad database URL") && !e.contains("pw"), "{e}");
        assert!(Location::parse("sqlite:").is_err());
    }
}
