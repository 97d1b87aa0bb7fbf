//! `fcnsweep data fetch|info`.

use std::process::ExitCode;
use std::time::Duration;

use fcnsweep_data::{
    resolve_data_dir, stats, verify, ChecksumStatus, Dataset, FetchProgress, FileAction, Source,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::DataCommand;

/// A download progress bar per file (hidden automatically when stderr is not a terminal).
struct Bar(std::cell::RefCell<Option<ProgressBar>>);

impl FetchProgress for Bar {
    fn start(&self, file: &str, total_bytes: Option<u64>) {
        let bar = match total_bytes {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_message(file.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.0.borrow_mut() = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.0.borrow().as_ref() {
            bar.inc(bytes);
        }
    }

    fn finish(&self, _file: &str) {
        if let Some(bar) = self.0.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

/// Runs a `data` subcommand.
pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Fetch { dataset, from, dir } => {
            let data_dir = resolve_data_dir(dir.data_dir.as_deref());
            let source = match from {
                Some(path) => Source::Local(path),
                None => Source::Mirrors,
            };
            let report =
                fcnsweep_data::fetch(dataset, &data_dir, &source, &Bar(Default::default()))?;
            for (file, action) in &report.files {
                let what = match action {
                    FileAction::AlreadyPresent => "already present, checksum ok".to_string(),
                    FileAction::Imported => "imported, checksum ok".to_string(),
                    FileAction::Downloaded { url } => format!("downloaded from {url}, checksum ok"),
                };
                println!("{file}: {what}");
            }
            println!("{dataset} is ready in {}", report.dir.display());
        }
        DataCommand::Info { dataset, dir } => {
            let data_dir = resolve_data_dir(dir.data_dir.as_deref());
            let files = verify(dataset, &data_dir)?;
            let ds = Dataset::load(&data_dir, dataset)?;
            let s = stats(&ds);
            let spec = dataset.spec();
            println!(
                "dataset      {dataset} ({})",
                data_dir.join(dataset.name()).display()
            );
            println!(
                "images       {} train, {} test, {}x{}",
                s.train_count, s.test_count, ds.rows, ds.cols
            );
            println!(
                "pixels       mean {:.4}, std {:.4} (train, [0,1] scale)",
                s.pixel_mean, s.pixel_std
            );
            println!("{:>3} {:<14} {:>7} {:>7}", "", "class", "train", "test");
            for (i, name) in spec.classes.iter().enumerate() {
                println!(
                    "{:>3} {:<14} {:>7} {:>7}",
                    i, name, s.train_class_counts[i], s.test_class_counts[i]
                );
            }
            let mut all_ok = true;
            for f in &files {
                let status = match &f.status {
                    ChecksumStatus::Ok => "sha256 ok".to_string(),
                    ChecksumStatus::Mismatch { actual } => {
                        all_ok = false;
                        format!("SHA256 MISMATCH (found {actual})")
                    }
                    ChecksumStatus::Missing => {
                        all_ok = false;
                        "missing".to_string()
                    }
                };
                println!("file         {:<26} {status}", f.stem);
            }
            if !all_ok {
                anyhow::bail!(
                    "{dataset}: some files fail verification; run `fcnsweep data fetch --dataset {dataset} --data-dir {}` to replace them",
                    data_dir.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
