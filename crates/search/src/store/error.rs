//! Errors of the result store.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong opening or using the result database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database file's directory does not exist.
    #[error("database directory {} does not exist (create it, or choose another path with --db or FCNSWEEP_DB)", .0.display())]
    MissingDirectory(PathBuf),
    /// A read-only command was pointed at a database that does not exist.
    #[error("no database at {}: run `fcnsweep sweep run FILE` first, or point --db / FCNSWEEP_DB at an existing one", .0.display())]
    NoDatabase(PathBuf),
    /// The path names a directory.
    #[error("{} is a directory; --db / FCNSWEEP_DB must name a database file", .0.display())]
    IsDirectory(PathBuf),
    /// The file exists but is not an SQLite database.
    #[error("{} is not an SQLite database (is it the right file? fcnsweep will not overwrite it)", .0.display())]
    NotSqlite(PathBuf),
    /// An SQLite database that some other program owns.
    #[error("{} is an SQLite database of another program (application_id {found:#x}, tables: {tables}); fcnsweep will not touch it", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
        /// Its application id.
        found: i32,
        /// A few of its tables.
        tables: String,
    },
    /// Written by a newer fcnsweep.
    #[error("{} has schema version {found}, newer than this fcnsweep supports ({supported}); upgrade fcnsweep", path.display())]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The file (or its directory) cannot be written.
    #[error("{} is read-only: fcnsweep needs to write results (check the file and directory permissions)", .0.display())]
    ReadOnly(PathBuf),
    /// Another process holds a lock for longer than the busy timeout.
    #[error("{} is locked by another process for too long: {detail}", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// No sweep of that name.
    #[error("no sweep named '{name}' in {}{}", path.display(), if known.is_empty() { String::new() } else { format!(" (sweeps: {})", known.join(", ")) })]
    UnknownSweep {
        /// The name asked for.
        name: String,
        /// The database.
        path: PathBuf,
        /// Existing sweep names.
        known: Vec<String>,
    },
    /// The same sweep name with different configurations or seeds.
    #[error("sweep '{name}' already exists with a different spec ({detail}); rerun with --extend to add the new configurations and seeds, or give the sweep a new name")]
    SpecChanged {
        /// Sweep name.
        name: String,
        /// What differs.
        detail: String,
    },
    /// A configuration hash prefix that matches none or several configurations.
    #[error("configuration '{prefix}' {problem} in sweep '{sweep}'")]
    BadConfigRef {
        /// What was given.
        prefix: String,
        /// "matches nothing" or "is ambiguous".
        problem: &'static str,
        /// Sweep name.
        sweep: String,
    },
    /// Imported results name a configuration the database does not hold.
    #[error("{}: configuration {hash} of the imported results '{source_name}' is not in this database (import results of configurations read from the same database)", path.display())]
    UnknownConfig {
        /// The database.
        path: PathBuf,
        /// The configuration hash given.
        hash: String,
        /// The name the results were imported under.
        source_name: String,
    },
    /// The worker no longer owns the trial (it was reclaimed as abandoned).
    #[error("trial {0} is no longer claimed by this worker")]
    LostClaim(i64),
    /// Stored data that does not parse (a damaged or hand-edited database).
    #[error("corrupt record in {}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Any other SQLite error.
    #[error("database {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}
