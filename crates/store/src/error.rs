//! Errors of the result store, the same for every backend.
//!
//! Each message names the database (a file path, or a PostgreSQL URL without its password)
//! and the fault. None names a command-line flag: the CLI adds its own hints.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong opening or using the result database.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file's directory does not exist.
    #[error("database directory {} does not exist", .0.display())]
    MissingDirectory(PathBuf),
    /// A read-only command was pointed at a database that does not exist.
    #[error("no database at {0}")]
    NoDatabase(String),
    /// The path names a directory.
    #[error("{} is a directory, not a database file", .0.display())]
    IsDirectory(PathBuf),
    /// The file exists but is not an SQLite database.
    #[error("{} is not an SQLite database (is it the right file? fcnsweep will not overwrite it)", .0.display())]
    NotSqlite(PathBuf),
    /// A database, or tables of the names fcnsweep uses, that some other program owns.
    #[error(
        "{db} belongs to another program ({found}; tables: {tables}); fcnsweep will not touch it"
    )]
    Foreign {
        /// The database.
        db: String,
        /// What marks it as foreign (an SQLite application id, or a missing fcnsweep mark).
        found: String,
        /// A few of its tables.
        tables: String,
    },
    /// Written by a newer fcnsweep.
    #[error("{db} has schema version {found}, newer than this fcnsweep supports ({supported})")]
    NewerSchema {
        /// The database.
        db: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The database (or the file's directory, or the role) cannot be written.
    #[error("{db} is read-only: fcnsweep needs to write results ({detail})")]
    ReadOnly {
        /// The database.
        db: String,
        /// Why: file permissions, or the server's refusal.
        detail: String,
    },
    /// Another process holds a lock for longer than the busy timeout.
    #[error("{db} is locked by another process for too long: {detail}")]
    Locked {
        /// The database.
        db: String,
        /// The backend's message.
        detail: String,
    },
    /// A `--db` value that is neither a path nor a valid PostgreSQL URL.
    #[error("bad database URL '{url}': {detail}")]
    BadUrl {
        /// The value given, its password hidden.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The database server cannot be reached (refused, timed out, unknown host).
    #[error("cannot reach the PostgreSQL server at {addr}: {detail}")]
    Unreachable {
        /// `host:port` or the socket directory.
        addr: String,
        /// The client's message.
        detail: String,
    },
    /// The server refused the user's credentials.
    #[error("{db}: authentication failed for user '{user}': {detail}")]
    Authentication {
        /// The database.
        db: String,
        /// The user name tried.
        user: String,
        /// The server's message.
        detail: String,
    },
    /// The connection to the server broke and could not be made again in time.
    #[error("{db}: lost the connection to the server and could not reconnect within {seconds} s: {detail}")]
    Disconnected {
        /// The database.
        db: String,
        /// How long reconnecting was tried.
        seconds: u64,
        /// The last error.
        detail: String,
    },
    /// No sweep of that name.
    #[error("no sweep named '{name}' in {db}{}", if known.is_empty() { String::new() } else { format!(" (sweeps: {})", known.join(", ")) })]
    UnknownSweep {
        /// The name asked for.
        name: String,
        /// The database.
        db: String,
        /// Existing sweep names.
        known: Vec<String>,
    },
    /// The same sweep name with different configurations or seeds.
    #[error("sweep '{name}' already exists in {db} with a different spec ({detail})")]
    SpecChanged {
        /// Sweep name.
        name: String,
        /// The database.
        db: String,
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
    #[error("{db}: configuration {hash} of the imported results '{source_name}' is not in this database (import results of configurations read from the same database)")]
    UnknownConfig {
        /// The database.
        db: String,
        /// The configuration hash given.
        hash: String,
        /// The name the results were imported under.
        source_name: String,
    },
    /// The worker no longer owns the trial (it was reclaimed as abandoned).
    #[error("trial {0} is no longer claimed by this worker")]
    LostClaim(i64),
    /// Stored data that does not parse (a damaged or hand-edited database).
    #[error("corrupt record in {db}: {detail}")]
    Corrupt {
        /// The database.
        db: String,
        /// What is wrong.
        detail: String,
    },
    /// Copying between stores ended with different counts on the two sides.
    #[error("copy from {from} to {to} is incomplete: {detail}")]
    CopyMismatch {
        /// Source database.
        from: String,
        /// Destination database.
        to: String,
        /// Which counts differ.
        detail: String,
    },
    /// Any other error of the backend.
    #[error("database {db}: {detail}")]
    Backend {
        /// The database.
        db: String,
        /// The backend's message.
        detail: String,
    },
}

impl StoreError {
    /// Whether the error is a broken connection that a reconnect may cure.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, Self::Disconnected { .. } | Self::Unreachable { .. })
    }
}
