//! End-to-end tests of the `fcnsweep` binary: they run the built command line against temp
//! dirs, tiny IDX datasets written here, and the real datasets (`FCNSWEEP_DATA`, relative to
//! the repository root, else `../shared/data` beside it; tests that need them print a line
//! and pass when they are absent).
//!
//! Heavy tests (real-data training, several processes) take [`common::heavy`] so that at
//! most one of them runs at a time.

mod adaptive;
mod bad_inputs;
mod cluster;
mod common;
mod data;
mod deploy;
mod faults;
mod networks;
mod pg;
mod plot;
mod sweep;
mod train;
