//! `fcnsweep export | evaluate | predict`: trained networks out of a sweep, and what they do
//! on a dataset's test set or on any IDX images.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use fcnsweep_data::{idx, resolve_data_dir, Dataset, DatasetName};
use fcnsweep_model::Weights;
use fcnsweep_plot::{confusion_matrix, Format as ChartFormat};
use fcnsweep_search::kept::{pick_trial, weights_path};
use fcnsweep_search::results::resolve_config;
use fcnsweep_search::short_hash;
use fcnsweep_search::table::{Cell, Format, Table};

use crate::cli::{DataDirArg, DbArg};

/// `fcnsweep export`: copies the kept network of one trial to `out`.
pub fn export(
    name: &str,
    config: Option<&str>,
    seed: Option<u64>,
    out: &Path,
    weights_dir: Option<&Path>,
    db: &DbArg,
) -> anyhow::Result<ExitCode> {
    let location = db.location()?;
    let mut store = location.open_existing()?;
    let sweep = store.sweep(name)?;
    let hash = config
        .map(|p| resolve_config(&sweep, p).map(|c| c.hash.clone()))
        .transpose()?;
    let trials = store.trials(sweep.id)?;
    let trial = pick_trial(&sweep, &trials, hash.as_deref(), seed).with_context(|| {
        format!(
            "sweep '{name}' has no done trial{}{}",
            hash.as_deref()
                .map(|h| format!(" of configuration {}", short_hash(h)))
                .unwrap_or_default(),
            seed.map(|s| format!(" with seed {s}")).unwrap_or_default()
        )
    })?;
    let dir: PathBuf = weights_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| location.default_weights_dir());
    let path = weights_path(&dir, trial.id);
    if !path.is_file() {
        anyhow::bail!(
            "the network of configuration {} seed {} was not kept (no {}): it is kept with --keep-weights all, or best when it is among the best configurations; `fcnsweep train` with its flags and --save FILE trains it again",
            short_hash(&trial.config_hash),
            trial.seed,
            path.display()
        );
    }
    let weights = Weights::read(&path)?;
    if weights.info.trained_as() != Some((trial.config_hash.as_str(), trial.seed)) {
        anyhow::bail!(
            "{} does not hold the network of configuration {} seed {} (it names {:?}); the weights directory belongs to another database",
            path.display(),
            short_hash(&trial.config_hash),
            trial.seed,
            weights.info.trained_as()
        );
    }
    weights
        .write(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "exported configuration {} seed {} (test accuracy {:.4}) to {}",
        short_hash(&trial.config_hash),
        trial.seed,
        trial.test_acc.unwrap_or(f64::NAN),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `fcnsweep evaluate`: the network on the dataset's official test set.
pub fn evaluate(
    file: &Path,
    dataset: DatasetName,
    plot: Option<&Path>,
    json: bool,
    dir: &DataDirArg,
) -> anyhow::Result<ExitCode> {
    let weights = Weights::read(file)?;
    if let Some(p) = plot {
        chart_format(p)?;
    }
    let data = Dataset::load(&resolve_data_dir(dir.data_dir.as_deref()), dataset)?;
    let labels: Vec<u32> = data.test_labels.iter().map(|&l| u32::from(l)).collect();
    let e = weights.evaluate(&data.test_images, &labels)?;
    let names = dataset.class_names();
    if let Some(p) = plot {
        let classes: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        confusion_matrix(
            p,
            chart_format(p)?,
            &format!(
                "{} on the {dataset} test set: accuracy {:.4}",
                file.display(),
                e.accuracy
            ),
            &classes,
            &e.confusion,
        )?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} on the {dataset} test set ({} images): accuracy {:.4}, loss {:.4}",
        file.display(),
        e.n,
        e.accuracy,
        e.loss
    );
    let mut columns = vec!["true class".to_string(), "accuracy".to_string()];
    columns.extend((0..names.len()).map(|i| format!("→{i}")));
    let mut t = Table::new(columns);
    for (c, row) in e.confusion.iter().enumerate() {
        let mut cells = vec![
            Cell::text(format!("{c} {}", names[c])),
            Cell::num(Some(e.per_class[c]), 4),
        ];
        cells.extend(row.iter().map(|&n| Cell::int(n as usize)));
        t.rows.push(cells);
    }
    print!("{}", t.render(Format::Table));
    if let Some(p) = plot {
        eprintln!("confusion matrix drawn in {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn chart_format(p: &Path) -> anyhow::Result<ChartFormat> {
    p.extension()
        .and_then(|e| ChartFormat::from_extension(&e.to_string_lossy()))
        .with_context(|| format!("--plot {}: the file must end in .png or .svg", p.display()))
}

/// `fcnsweep predict`: one row per image: index, predicted class, its probability.
pub fn predict(file: &Path, images: &Path, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let weights = Weights::read(file)?;
    let idx = idx::read_images(images)?;
    let features = idx.rows * idx.cols;
    if features != weights.info.inputs {
        anyhow::bail!(
            "{}: images of {}x{} pixels, the network takes {} inputs",
            images.display(),
            idx.rows,
            idx.cols,
            weights.info.inputs
        );
    }
    let pixels: Vec<f32> = idx.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let probs = weights.predict(&pixels)?;
    let k = weights.info.classes;
    let mut text = String::from("index,class,probability\n");
    for (i, row) in probs.chunks_exact(k).enumerate() {
        let c = (0..k)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        text.push_str(&format!("{i},{c},{:.6}\n", row[c]));
    }
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
