//! The `configs` table's axis columns, derived once for both backends from the axis list:
//! one column per axis, holding the configuration's value, so that SQL reads parameters
//! directly. Columns of axes a database lacks are added on open, filled with the axis default
//! (every configuration stored before had it: no earlier optimizer read the new parameter).

use std::collections::BTreeSet;

use fcnsweep_model::axes::{axis_values, Axis};
use fcnsweep_model::RunConfig;

/// One column value, typed as the databases store it (flags as 0/1 integers).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// An integer, count or flag.
    Integer(i64),
    /// A real number.
    Real(f64),
    /// A name or layer list.
    Text(String),
    /// No value (e.g. `train_subset` unset).
    Null,
}

impl From<serde_json::Value> for Column {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Integer(b as i64),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Integer(i),
                None => Self::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Self::Text(s),
            other => Self::Text(other.to_string()),
        }
    }
}

impl Column {
    /// The value as SQL text: integers and reals exactly (shortest round trip), text quoted.
    pub(crate) fn literal(&self) -> String {
        match self {
            Self::Integer(i) => i.to_string(),
            Self::Real(r) => format!("{r:e}"),
            Self::Text(t) => format!("'{}'", t.replace('\'', "''")),
            Self::Null => "NULL".into(),
        }
    }

    /// The value as text for a parameter cast on the server; `None` for NULL.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Self::Integer(i) => Some(i.to_string()),
            Self::Real(r) => Some(format!("{r:e}")),
            Self::Text(t) => Some(t.clone()),
            Self::Null => None,
        }
    }
}

/// A configuration's axis columns, in table order.
pub(crate) fn config_columns(run: &RunConfig) -> Vec<(&'static str, Column)> {
    axis_values(run)
        .into_iter()
        .map(|(name, v)| (name, Column::from(v)))
        .collect()
}

/// `ALTER TABLE` statements adding every axis column missing from `existing`. `types`
/// names the backend's integer, real and text types.
pub(crate) fn missing_column_statements(
    existing: &BTreeSet<String>,
    types: [&str; 3],
) -> Vec<String> {
    Axis::all()
        .filter(|a| !existing.contains(a.name()))
        .map(|axis| {
            let default = Column::from(axis.default_value().to_json());
            let sql_type = match default {
                Column::Integer(_) | Column::Null => types[0],
                Column::Real(_) => types[1],
                Column::Text(_) => types[2],
            };
            let not_null = if default == Column::Null {
                ""
            } else {
                " NOT NULL"
            };
            tracing::info!(column = axis.name(), "adding a configs column");
            format!(
                "ALTER TABLE configs ADD COLUMN {} {sql_type}{not_null} DEFAULT {}",
                axis.name(),
                default.literal()
            )
        })
        .collect()
}
