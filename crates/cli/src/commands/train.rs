//! `fcnsweep train`: one run, printed as a table or JSON lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_data::{resolve_data_dir, Dataset, SplitOptions, Splits};
use fcnsweep_model::{
    EpochMetrics, ModelConfig, ModelError, OptimizerConfig, RunConfig, RunObserver, TrainConfig,
};
use serde_json::json;

use crate::cli::TrainArgs;

struct Printer {
    json: bool,
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

impl RunObserver for Printer {
    fn on_epoch(&mut self, m: &EpochMetrics) -> Result<(), ModelError> {
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
    let mut optimizer = OptimizerConfig::new(args.optimizer, args.lr);
    optimizer.momentum = args.momentum;
    optimizer.weight_decay = args.weight_decay;
    let config = RunConfig {
        model: ModelConfig {
            hidden: args.hidden.clone(),
            dropout: args.dropout,
            init: args.init,
            init_std: args.init_std,
            norm: args.norm,
        },
        optimizer,
        train: TrainConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            validation: args.validation,
            train_subset: args.train_subset,
            standardize: args.standardize,
            split_seed: args.split_seed,
            lr_schedule: args.lr_schedule,
            lr_step_size: args.lr_step_size,
            lr_gamma: args.lr_gamma,
        },
    };
    config.validate()?;
    let data_dir = resolve_data_dir(args.dir.data_dir.as_deref());
    let dataset = Dataset::load(&data_dir, args.dataset)?;
    let splits = Splits::new(
        dataset,
        &SplitOptions {
            validation: args.validation,
            split_seed: args.split_seed,
            train_subset: args.train_subset,
            standardize: args.standardize,
        },
    )?;
    if !args.json {
        let hidden: Vec<String> = args.hidden.iter().map(|w| w.to_string()).collect();
        println!(
            "{}: 784-{}-10, {} lr {}, {} train / {} validation, seed {}",
            args.dataset,
            hidden.join("-"),
            args.optimizer.name(),
            args.lr,
            splits.train_len(),
            splits.val_len(),
            args.seed
        );
        println!(
            "{:>5} {:>10} {:>9} {:>9} {:>8} {:>7}",
            "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"
        );
    }
    let mut printer = Printer { json: args.json };
    let result = fcnsweep_model::train(&splits, &config, args.seed, &mut printer)
        .context("training failed")?;
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
