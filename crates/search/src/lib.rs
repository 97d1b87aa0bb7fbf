//! The search engine of fcnsweep: a YAML search space is parsed and checked
//! ([`spec`]), expanded into distinct configurations ([`mod@expand`]) identified by a stable
//! hash ([`identity`]) and described axis by axis for tables and the database ([`axes`]);
//! trials are stored behind the [`store::Store`] interface, run in parallel by [`runner`], and
//! aggregated by [`results`] (with [`stats`]) into [`table`]s.

pub mod adaptive;
mod de;
pub use fcnsweep_model::axes;
pub mod error;
pub mod expand;
pub mod external;
pub mod identity;
pub mod kept;
pub mod memory;
pub mod parse;
pub mod results;
pub mod runner;
pub mod spec;
pub mod stats;
pub mod table;

pub use axes::{axis_names, axis_values, varying_axes, Axis, AxisValue};
pub use error::SpecError;
pub use expand::{expand, PlannedConfig, SweepPlan};
pub use fcnsweep_store as store;
pub use fcnsweep_store::{Store, StoreError};
pub use identity::{canonical, config_hash, short_hash};
pub use parse::{load_spec, parse_spec};
pub use runner::{run_sweep, RunError, RunOptions, RunReport, SweepObserver};
pub use spec::SweepSpec;
