//! `fcnsweep results show|best|trials|epochs|import|compare`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_search::axis_values;
use fcnsweep_search::external::{compare, compare_table, parse_jsonl};
use fcnsweep_search::results::{
    append_baselines, config_table, epoch_summaries, epochs_table, resolve_config, sort, summarize,
    trials_table, ConfigResult, SortKey,
};
use fcnsweep_search::store::{Store, SweepRecord};
use fcnsweep_search::table::{Cell, Format, Table};

use crate::cli::{DbArg, ResultsCommand};

/// Opens the existing result database of `--db` (or its default) and reads the sweep `name`.
fn open_sweep(db: &DbArg, name: &str) -> anyhow::Result<(Box<dyn Store>, SweepRecord)> {
    let mut store = db.location()?.open_existing()?;
    let sweep = store.sweep(name)?;
    Ok((store, sweep))
}

/// [`open_sweep`], and the full hash of the configuration `prefix` names in it, if given.
fn open_config(
    db: &DbArg,
    name: &str,
    prefix: Option<&str>,
) -> anyhow::Result<(Box<dyn Store>, SweepRecord, Option<String>)> {
    let (store, sweep) = open_sweep(db, name)?;
    let hash = prefix
        .map(|p| resolve_config(&sweep, p).map(|c| c.hash.clone()))
        .transpose()?;
    Ok((store, sweep, hash))
}

/// The per-configuration results of `sweep`: all of them, in stored order (the baseline
/// comparisons need every row), and a copy sorted by `key`.
fn summaries(
    store: &mut dyn Store,
    sweep: &SweepRecord,
    key: &SortKey,
) -> anyhow::Result<(Vec<ConfigResult>, Vec<ConfigResult>)> {
    let trials = store.trials(sweep.id)?;
    let all = summarize(sweep, &trials);
    let mut rows = all.clone();
    sort(&mut rows, key);
    Ok((all, rows))
}

/// Runs a `results` subcommand.
pub fn run(cmd: ResultsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ResultsCommand::Show {
            name,
            sort: key,
            top,
            format,
            db,
        } => {
            let (mut store, sweep) = open_sweep(&db, &name)?;
            let (all, mut rows) = summaries(store.as_mut(), &sweep, &key)?;
            rows.truncate(top.unwrap_or(usize::MAX));
            let mut table = config_table(&rows, &all, format.format);
            append_baselines(&mut table, &store.baselines(sweep.dataset.name())?);
            print!("{}", table.render(format.format));
            if format.format == Format::Table {
                println!("* baseline; vs_base and p_welch: difference of mean test accuracy to the baseline and Welch's two-sided p-value");
            }
        }
        ResultsCommand::Best { name, format, db } => {
            let (mut store, sweep) = open_sweep(&db, &name)?;
            let (all, rows) = summaries(store.as_mut(), &sweep, &SortKey::Test)?;
            let Some(best) = rows.first().filter(|r| r.test.is_some()) else {
                anyhow::bail!("sweep '{name}' has no finished trials yet");
            };
            let f = format.format;
            if f.is_pretty() {
                print!(
                    "{}",
                    config_table(std::slice::from_ref(best), &all, f).render(f)
                );
                let mut params = Table::new(vec!["parameter".into(), "value".into()]);
                params.rows.push(vec![
                    Cell::text("config_hash"),
                    Cell::text(best.hash.clone()),
                ]);
                for (k, v) in axis_values(&best.run) {
                    params.rows.push(vec![Cell::text(k), Cell::json(v)]);
                }
                println!();
                print!("{}", params.render(f));
            } else {
                print!(
                    "{}",
                    config_table(std::slice::from_ref(best), &all, f).render(f)
                );
            }
        }
        ResultsCommand::Trials {
            name,
            config,
            format,
            db,
        } => {
            let (mut store, sweep, hash) = open_config(&db, &name, config.as_deref())?;
            let trials = store.trials(sweep.id)?;
            let selected: Vec<_> = trials
                .iter()
                .filter(|t| hash.as_ref().is_none_or(|h| &t.config_hash == h))
                .collect();
            print!("{}", trials_table(&selected).render(format.format));
        }
        ResultsCommand::Import { file, name, db } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let trials = parse_jsonl(&text, &file.display().to_string())?;
            let mut store = db.location()?.open_existing_for_writing()?;
            let n = store.import_external(&name, &trials)?;
            let configs: BTreeSet<&str> = trials.iter().map(|t| t.config_hash.as_str()).collect();
            println!(
                "imported {n} runs of {} configurations as '{name}' into {}",
                configs.len(),
                store.describe()
            );
        }
        ResultsCommand::Compare {
            name,
            other,
            format,
            db,
        } => {
            let (mut store, sweep) = open_sweep(&db, &name)?;
            let external = store.external_trials(&other)?;
            if external.is_empty() {
                let known = store.external_sources()?;
                anyhow::bail!(
                    "no imported runs named '{other}' in {} (imported: {}); add them with `fcnsweep results import FILE --as {other}`",
                    store.describe(),
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                );
            }
            let trials = store.trials(sweep.id)?;
            let rows = compare(&sweep, &trials, &external);
            if rows.is_empty() {
                anyhow::bail!("'{other}' has no runs of sweep '{name}''s configurations");
            }
            let f = format.format;
            print!("{}", compare_table(&sweep, &rows, &other, f).render(f));
            if f == Format::Table {
                println!("diff: mean test accuracy of {name} minus {other}; p_welch: Welch's two-sided p-value");
            }
        }
        ResultsCommand::Epochs {
            name,
            config,
            format,
            db,
        } => {
            let (mut store, sweep, hash) = open_config(&db, &name, Some(&config))?;
            let hash = hash.expect("a configuration was given");
            let epochs = store.epochs(sweep.id, &hash)?;
            let rows = epoch_summaries(&epochs);
            print!(
                "{}",
                epochs_table(&rows, format.format).render(format.format)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
