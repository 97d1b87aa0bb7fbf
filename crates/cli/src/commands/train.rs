//! `fcnsweep train`: one run, printed as a table or JSON lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_data::{resolve_data_dir, Dataset, SplitOptions, Splits};
use fcnsweep_model::{EpochMetrics, ModelError, RunObserver};
use fcnsweep_search::axes::{build_run, layers_name};
use fcnsweep_search::memory::{self, dataset_bytes, MemoryLimit};
use serde_json::json;

use crate::cli::TrainArgs;

struct Printer {
    json: bool,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

impl RunObserver for Printer {
    fn on_epoch(
        &mut self,
        m: &EpochMetrics,
        _: Option<&fcnsweep_model::Checkpoint>,
    ) -> Result<(), ModelError> {
        let mut out = std::io::stdout().lock();
        let line = if self.json {
            serde_json::to_string(m).expect("metrics serialize")
        } else {
            format!(
                "{:>5} {:>10.4} {:>9.4} {:>9} {:>8} {:>7.2}",
                m.epoch,
                m.train_loss,
                m.train_acc,
                opt(m.val_loss),
                opt(m.val_acc),
                m.seconds
            )
        };
        // A closed stdout (e.g. piped into `head`) must not abort training.
        let _ = writeln!(out, "{line}");
        Ok(())
    }
}

/// Trains one network and prints its metrics.
pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let config = build_run(args.axes.settings.iter().map(|(a, v)| (*a, v)));
    for (axis, value) in &args.axes.settings {
        if axis.is_hyper() && !axis.applies(&config) {
            let valid: Vec<_> = config.optimizer.values().map(|(h, _)| h.name).collect();
            anyhow::bail!(
                "--{} {value}: {} has no hyper-parameter {axis} (its hyper-parameters: {})",
                axis.name().replace('_', "-"),
                config.optimizer.kind(),
                valid.join(", ")
            );
        }
    }
    config.validate()?;
    let data_dir = resolve_data_dir(args.dir.data_dir.as_deref());
    let dataset = Dataset::load(&data_dir, args.dataset)?;
    if let Some(limit) = MemoryLimit::resolve(args.memory.max_memory) {
        let data = dataset_bytes(dataset.train_labels.len(), dataset.test_labels.len());
        let hash = fcnsweep_search::config_hash(args.dataset, &config);
        memory::check(args.dataset, [(hash.as_str(), &config)], 1, data, limit)?;
    }
    let splits = Splits::new(
        dataset,
        &SplitOptions {
            validation: config.train.validation,
            split_seed: config.train.split_seed,
            train_subset: config.train.train_subset,
            standardize: config.train.standardize,
        },
    )?;
    if !args.json {
        println!(
            "{}: 784-{}-10, {} lr {}, {} train / {} validation, seed {}",
            args.dataset,
            layers_name(&config.model.hidden),
            config.optimizer.kind(),
            config.optimizer.lr,
            splits.train_len(),
            splits.val_len(),
            args.seed
        );
        println!(
            "{:>5} {:>10} {:>9} {:>9} {:>8} {:>7}",
            "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"
        );
    }
    // A bad --save path fails before minutes of training.
    if let Some(dir) = args
        .save
        .as_deref()
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
    {
        anyhow::bail!(
            "cannot save to {}: directory {} does not exist",
            args.save.as_ref().unwrap().display(),
            dir.display()
        );
    }
    let mut printer = Printer { json: args.json };
    let result = fcnsweep_model::train(&splits, &config, args.seed, &mut printer)
        .context("training failed")?;
    if let (Some(path), Some(weights)) = (&args.save, &result.weights) {
        let hash = fcnsweep_search::config_hash(args.dataset, &config);
        let w = (**weights).clone().with_source(
            None,
            args.dataset.name(),
            &hash,
            args.seed,
            result.test_acc,
        );
        w.write(path)
            .with_context(|| format!("cannot save the network to {}", path.display()))?;
        eprintln!("saved the trained network to {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            json!({
                "test_acc": result.test_acc,
                "test_loss": result.test_loss,
                "diverged": result.diverged,
                "seconds": result.seconds,
                "epochs": result.epochs.len(),
            })
        );
    } else {
        println!(
            "test accuracy {:.4}, test loss {:.4}{}, {:.1} s",
            result.test_acc,
            result.test_loss,
            if result.diverged { " (diverged)" } else { "" },
            result.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}
