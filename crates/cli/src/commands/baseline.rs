//! `fcnsweep baseline svd`: classical classifiers on the same split as the networks.

use std::process::ExitCode;

use fcnsweep_baselines::{fit_and_score, ClassicalMethod};
use fcnsweep_data::{resolve_data_dir, Dataset, SplitOptions, Splits};
use fcnsweep_search::store::BaselineRecord;

use crate::cli::BaselineCommand;

/// Runs a `baseline` subcommand.
pub fn run(cmd: BaselineCommand) -> anyhow::Result<ExitCode> {
    let BaselineCommand::Svd {
        dataset,
        method,
        k,
        validation,
        split_seed,
        db,
        dir,
    } = cmd;
    // Open the database first: a bad --db fails before minutes of fitting.
    let mut store = db.location()?.open()?;
    let data = Dataset::load(&resolve_data_dir(dir.data_dir.as_deref()), dataset)?;
    let splits = Splits::new(
        data,
        &SplitOptions {
            validation,
            split_seed,
            train_subset: None,
            standardize: false,
        },
    )?;
    let methods = method.map_or_else(|| ClassicalMethod::ALL.to_vec(), |m| vec![m]);
    println!(
        "{:<14} {:>4} {:>8} {:>8} {:>8}",
        "method", "k", "val_acc", "test_acc", "seconds"
    );
    for m in methods {
        let r = fit_and_score(&splits, m, k.as_deref())?;
        println!(
            "{:<14} {:>4} {:>8.4} {:>8.4} {:>8.1}",
            m.name(),
            r.k,
            r.val_acc,
            r.test_acc,
            r.seconds
        );
        store.record_baseline(&BaselineRecord {
            dataset: dataset.name().to_string(),
            method: m.name().to_string(),
            k: r.k,
            validation,
            split_seed,
            val_acc: r.val_acc,
            test_acc: r.test_acc,
            seconds: r.seconds,
            val_curve: r.val_curve,
        })?;
    }
    println!(
        "stored in {}; `fcnsweep results show SWEEP` lists them beside the networks of a {dataset} sweep",
        store.describe()
    );
    Ok(ExitCode::SUCCESS)
}
