//! Results of other frameworks beside a sweep's own: reading the JSON-lines files the
//! PyTorch reference script writes (one run per line), and the `results compare` table.

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

use crate::axes::{axis_values, varying_axes};
use crate::identity::short_hash;
use crate::results::{mean_sd, p_cell};
use crate::stats::{welch, Summary, WelchTest};
use crate::store::{ExternalTrial, SweepRecord, TrialRecord};
use crate::table::{Cell, Format, Table};

/// A line of an import file that is not a result.
#[derive(Debug, Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ImportError {
    /// The file.
    pub origin: String,
    /// 1-based line number, when one line is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Reads one JSON object per non-empty line: `config_hash` (64 hex digits), `seed`,
/// `test_acc` in [0, 1], optionally `test_loss`, `final_train_loss`, `final_val_loss`,
/// `final_val_acc`, `seconds`, `epochs` and `framework`; other keys are ignored. A
/// (configuration, seed) given twice is an error.
pub fn parse_jsonl(text: &str, origin: &str) -> Result<Vec<ExternalTrial>, ImportError> {
    let mut out: Vec<ExternalTrial> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fail = |message: String| ImportError {
            origin: origin.to_string(),
            line: Some(i + 1),
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let t: ExternalTrial =
            serde_json::from_str(line).map_err(|e| fail(format!("not a result: {e}")))?;
        if t.config_hash.len() != 64 || !t.config_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail(format!(
                "config_hash '{}' is not a 64-digit configuration hash",
                t.config_hash
            )));
        }
        if !(0.0..=1.0).contains(&t.test_acc) {
            return Err(fail(format!("test_acc {} is not in [0, 1]", t.test_acc)));
        }
        if out
            .iter()
            .any(|o| o.config_hash == t.config_hash && o.seed == t.seed)
        {
            return Err(fail(format!(
                "configuration {} seed {} appears twice",
                short_hash(&t.config_hash),
                t.seed
            )));
        }
        out.push(t);
    }
    if out.is_empty() {
        return Err(ImportError {
            origin: origin.to_string(),
            line: None,
            message: "no results in the file".into(),
        });
    }
    Ok(out)
}

/// One configuration of a sweep with the sweep's and the other source's test accuracies.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Configuration hash.
    pub hash: String,
    /// The sweep's finished trials.
    pub ours: Option<Summary>,
    /// The imported runs.
    pub theirs: Option<Summary>,
    /// Welch's test of ours against theirs.
    pub welch: Option<WelchTest>,
}

/// Compares, configuration by configuration in spec order, the sweep's finished trials with
/// the imported runs of the same configurations; configurations without imported runs are
/// left out.
pub fn compare(
    sweep: &SweepRecord,
    trials: &[TrialRecord],
    external: &[ExternalTrial],
) -> Vec<Comparison> {
    let mut theirs: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for t in external {
        theirs.entry(&t.config_hash).or_default().push(t.test_acc);
    }
    sweep
        .configs
        .iter()
        .filter_map(|c| {
            let b = theirs.get(c.hash.as_str())?;
            let a: Vec<f64> = trials
                .iter()
                .filter(|t| t.config_hash == c.hash && t.status.is_finished())
                .filter_map(|t| t.test_acc)
                .collect();
            Some(Comparison {
                hash: c.hash.clone(),
                ours: Summary::of(&a),
                theirs: Summary::of(b),
                welch: welch(&a, b),
            })
        })
        .collect()
}

/// The `results compare` table: the varying axes, then n, mean ± SD of test accuracy for the
/// sweep and for `source`, their difference and Welch's two-sided p-value.
pub fn compare_table(
    sweep: &SweepRecord,
    rows: &[Comparison],
    source: &str,
    format: Format,
) -> Table {
    let runs: Vec<_> = sweep.configs.iter().map(|c| &c.run).collect();
    let axes = varying_axes(&runs);
    let pretty = format.is_pretty();
    let mut columns = vec!["config".to_string()];
    columns.extend(axes.iter().map(|a| a.to_string()));
    let (ours, theirs) = (sweep.name.as_str(), source);
    if pretty {
        columns.extend([
            "n".to_string(),
            ours.to_string(),
            "n".to_string(),
            theirs.to_string(),
            "diff".to_string(),
            "p_welch".to_string(),
        ]);
    } else {
        columns.extend(
            [
                "n",
                "test_acc_mean",
                "test_acc_sd",
                "other_n",
                "other_test_acc_mean",
                "other_test_acc_sd",
                "diff",
                "p_welch",
                "config_hash",
            ]
            .map(String::from),
        );
    }
    let mut table = Table::new(columns);
    for r in rows {
        let config = sweep
            .configs
            .iter()
            .find(|c| c.hash == r.hash)
            .expect("comparisons come from the sweep's configurations");
        let mut cells = vec![Cell::text(short_hash(&r.hash))];
        let values = axis_values(&config.run);
        for a in &axes {
            let v = values.iter().find(|(k, _)| k == a).map(|(_, v)| v.clone());
            cells.push(Cell::json(v.unwrap_or(Value::Null)));
        }
        cells.push(Cell::int(r.ours.as_ref().map_or(0, |s| s.n)));
        mean_sd(r.ours.as_ref(), pretty, &mut cells);
        cells.push(Cell::int(r.theirs.as_ref().map_or(0, |s| s.n)));
        mean_sd(r.theirs.as_ref(), pretty, &mut cells);
        let diff = match (&r.ours, &r.theirs) {
            (Some(a), Some(b)) => Some(a.mean - b.mean),
            _ => None,
        };
        cells.push(match diff {
            Some(d) if pretty => Cell {
                text: format!("{d:+.4}"),
                value: Value::from(d),
            },
            d => Cell::num(d, if pretty { 4 } else { 6 }),
        });
        cells.push(if pretty {
            p_cell(r.welch.as_ref())
        } else {
            Cell::num(r.welch.map(|w| w.p), 6)
        });
        if !pretty {
            cells.push(Cell::text(r.hash.clone()));
        }
        table.rows.push(cells);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "1d141347971dbec496dce29f93801d3a74023db7769c368b628063e133c31b10";

    #[test]
    fn reads_lines_and_names_the_bad_one() {
        let text = format!(
            "{{\"config_hash\":\"{HASH}\",\"seed\":0,\"test_acc\":0.87,\"framework\":\"torch 2.5\",\"epochs\":[{{\"epoch\":1}}],\"extra\":1}}\n\n{{\"config_hash\":\"{HASH}\",\"seed\":1,\"test_acc\":0.88}}\n"
        );
        let trials = parse_jsonl(&text, "torch.jsonl").unwrap();
        assert_eq!(trials.len(), 2);
        assert_eq!(trials[0].framework.as_deref(), Some("torch 2.5"));
        assert_eq!(trials[0].epochs.len(), 1);
        assert_eq!(trials[1].seed, 1);

        let cases = [
            ("{not json".to_string(), "torch.jsonl:1: not a result"),
            (
                r#"{"config_hash":"abc","seed":0,"test_acc":0.5}"#.to_string(),
                "torch.jsonl:1: config_hash 'abc'",
            ),
            (
                format!("{{\"config_hash\":\"{HASH}\",\"seed\":0,\"test_acc\":87}}"),
                "test_acc 87 is not in [0, 1]",
            ),
            (
                format!("{{\"config_hash\":\"{HASH}\",\"test_acc\":0.5}}"),
                "missing field `seed`",
            ),
            (
                format!("{{\"config_hash\":\"{HASH}\",\"seed\":0,\"test_acc\":0.5}}\n{{\"config_hash\":\"{HASH}\",\"seed\":0,\"test_acc\":0.6}}"),
                "torch.jsonl:2: configuration 1d14134797 seed 0 appears twice",
            ),
            ("\n\n".to_string(), "torch.jsonl: no results in the file"),
        ];
        for (text, want) in cases {
            let err = parse_jsonl(&text, "torch.jsonl").unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
    }
}
