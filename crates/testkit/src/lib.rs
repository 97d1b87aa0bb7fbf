//! Test helpers shared by the fcnsweep crates (a dev-dependency only): tiny IDX datasets
//! written to disk ([`idx`]), in-memory synthetic datasets ([`synthetic`]) and the folder of
//! the real datasets ([`real_data_dir`]).

pub mod idx;
pub mod synthetic;

use std::path::PathBuf;

/// The data directory from `FCNSWEEP_DATA`, relative paths taken from the workspace root;
/// `None`, after saying so on stderr, when the variable is unset or empty (real-data tests
/// then skip).
pub fn real_data_dir() -> Option<PathBuf> {
    let Some(value) = std::env::var("FCNSWEEP_DATA")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        eprintln!("FCNSWEEP_DATA is not set: skipping the real-data test");
        return None;
    };
    let path = PathBuf::from(value);
    Some(if path.is_absolute() {
        path
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    })
}
