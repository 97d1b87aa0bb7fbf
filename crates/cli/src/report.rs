//! How an error reaches the terminal: its chain of causes on one line, each cause once,
//! and for the errors a flag or command fixes, a hint naming it (the libraries' messages name
//! the fault, never a flag of this CLI).

use fcnsweep_store::StoreError;

/// What the user can do about `err`, in terms of this CLI's flags and commands.
pub fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let store = err.chain().find_map(|c| c.downcast_ref::<StoreError>())?;
    Some(match store {
        StoreError::MissingDirectory(_) => {
            "create the directory, or choose another database with --db or FCNSWEEP_DB"
        }
        StoreError::NoDatabase(_) => {
            "run `fcnsweep sweep run FILE` (or `sweep register FILE`) first, or point --db / FCNSWEEP_DB at an existing database"
        }
        StoreError::IsDirectory(_) => "--db / FCNSWEEP_DB must name a database file",
        StoreError::SpecChanged { .. } => {
            "rerun with --extend to add the new configurations and seeds, or give the sweep a new name"
        }
        StoreError::NewerSchema { .. } => "upgrade fcnsweep",
        StoreError::BadUrl { .. } => {
            "--db takes a file path, sqlite:PATH, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        }
        StoreError::Unreachable { .. } => {
            "is the PostgreSQL server running, and are the host and port in --db / FCNSWEEP_DB right?"
        }
        StoreError::Authentication { .. } => {
            "check the user and password in --db / FCNSWEEP_DB (or PGPASSWORD)"
        }
        StoreError::Disconnected { .. } => {
            "the finished epochs are stored; start the worker again (or `fcnsweep sweep resume NAME`) once the server is back"
        }
        _ => return None,
    })
}

/// `err` and its causes joined by `: `, skipping a cause whose text the line already holds
/// (library errors often repeat their source's message, and SQLite's errors repeat
/// themselves: "database or disk is full" came out three times).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("database or disk is full")]
    struct Full;

    #[derive(Debug, thiserror::Error)]
    #[error("database db.sqlite: {0}")]
    struct Wrapper(#[source] Full);

    #[test]
    fn each_cause_once() {
        let err = anyhow::Error::new(Wrapper(Full)).context("cannot record the epoch");
        assert_eq!(
            one_line(&err),
            "cannot record the epoch: database db.sqlite: database or disk is full"
        );
        let plain = anyhow::anyhow!("a").context("b");
        assert_eq!(one_line(&plain), "b: a");
    }
}
