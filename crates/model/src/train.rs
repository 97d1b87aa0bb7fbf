//! The seeded training loop: mini-batch SGD-style training, per-epoch evaluation on the
//! validation split, and a final pass over the official test set.

use std::time::Instant;

use candle_core::{Device, Tensor};
use fcnsweep_data::{Batch, Part, Splits};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::error::ModelError;
use crate::fcn::{loss_and_correct, Fcn, Mode};
use crate::optim::Optimizer;

/// Batch size of the evaluation passes (no graph is built, so larger is cheaper).
const EVAL_BATCH: usize = 2048;

/// Independent RNG streams of one run, all derived from its seed.
const STREAM_INIT: u64 = 0;
const STREAM_DROPOUT: u64 = 1;
const STREAM_SHUFFLE: u64 = 2;

/// Metrics of one finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean of the mini-batch losses over the epoch (train mode).
    pub train_loss: f64,
    /// Fraction of training samples classified correctly during the epoch (train mode).
    pub train_acc: f64,
    /// Validation loss in eval mode; `None` without a validation split.
    pub val_loss: Option<f64>,
    /// Validation accuracy in eval mode; `None` without a validation split.
    pub val_acc: Option<f64>,
    /// Wall time of the epoch, evaluation included.
    pub seconds: f64,
}

/// The outcome of a run that was not interrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Every completed epoch, in order.
    pub epochs: Vec<EpochMetrics>,
    /// Loss on the official test set (eval mode).
    pub test_loss: f64,
    /// Accuracy on the official test set.
    pub test_acc: f64,
    /// The loss became NaN or infinite: training stopped early and the metrics are those reached.
    pub diverged: bool,
    /// Wall time of the whole run.
    pub seconds: f64,
}

/// Receives progress from [`train`]; the search engine stores epochs through it.
pub trait RunObserver {
    /// Called after each epoch; an error aborts the run and is returned by [`train`].
    fn on_epoch(&mut self, metrics: &EpochMetrics) -> Result<(), ModelError>;
    /// Polled between mini-batches; `true` aborts the run with [`ModelError::Interrupted`].
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn on_epoch(&mut self, _: &EpochMetrics) -> Result<(), ModelError> {
        Ok(())
    }
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn to_tensors(batch: Batch, features: usize) -> Result<(Tensor, Tensor), ModelError> {
    let n = batch.len();
    let x = Tensor::from_vec(batch.images, (n, features), &Device::Cpu)?;
    let y = Tensor::from_vec(batch.labels, n, &Device::Cpu)?;
    Ok((x, y))
}

/// Mean loss and accuracy over a whole split, in eval mode, without a gradient graph.
fn evaluate(net: &mut Fcn, splits: &Splits, part: Part) -> Result<(f64, f64), ModelError> {
    let features = splits.features();
    let (mut loss_sum, mut correct, mut total) = (0.0f64, 0usize, 0usize);
    for batch in splits.eval_batches(part, EVAL_BATCH) {
        let n = batch.len();
        let (x, y) = to_tensors(batch, features)?;
        let logits = net.forward(&x, Mode::<ChaCha8Rng>::Eval)?;
        let (loss, c) = loss_and_correct(&logits, &y)?;
        loss_sum += loss.to_scalar::<f32>()? as f64 * n as f64;
        correct += c;
        total += n;
    }
    if total == 0 {
        return Ok((f64::NAN, f64::NAN));
    }
    Ok((loss_sum / total as f64, correct as f64 / total as f64))
}

/// Trains one network of `config` with `seed` on `splits`, reporting each epoch to `observer`.
///
/// The same config, splits and seed give bit-identical metrics: weights, dropout masks and
/// shuffles come from separate streams of a ChaCha RNG seeded with `seed`.
pub fn train(
    splits: &Splits,
    config: &RunConfig,
    seed: u64,
    observer: &mut dyn RunObserver,
) -> Result<RunResult, ModelError> {
    config.validate()?;
    let started = Instant::now();
    let features = splits.features();
    let mut net = Fcn::new(&config.model, features, 10, &mut rng(seed, STREAM_INIT))?;
    let mut opt = Optimizer::new(&config.optimizer, net.parameters())?;
    let mut dropout_rng = rng(seed, STREAM_DROPOUT);
    let mut shuffle_rng = rng(seed, STREAM_SHUFFLE);
    let skip_single = net.has_batch_norm();
    let mut epochs = Vec::with_capacity(config.train.epochs);
    let mut diverged = false;

    for epoch in 1..=config.train.epochs {
        let epoch_start = Instant::now();
        let (mut loss_sum, mut batches, mut correct, mut seen) = (0.0f64, 0usize, 0usize, 0usize);
        for batch in splits.train_epoch(config.train.batch_size, &mut shuffle_rng) {
            if observer.should_stop() {
                return Err(ModelError::Interrupted);
            }
            let n = batch.len();
            // BatchNorm1d cannot normalize a single sample (PyTorch raises); skip such a tail.
            if skip_single && n == 1 {
                continue;
            }
            let (x, y) = to_tensors(batch, features)?;
            let logits = net.forward(&x, Mode::Train(&mut dropout_rng))?;
            let (loss, c) = loss_and_correct(&logits, &y)?;
            let loss_value = loss.to_scalar::<f32>()? as f64;
            if !loss_value.is_finite() {
                diverged = true;
                loss_sum += loss_value;
                batches += 1;
                break;
            }
            opt.step(&loss.backward()?)?;
            loss_sum += loss_value;
            batches += 1;
            correct += c;
            seen += n;
        }
        let (val_loss, val_acc) = if splits.val_len() > 0 {
            let (l, a) = evaluate(&mut net, splits, Part::Validation)?;
            (Some(l), Some(a))
        } else {
            (None, None)
        };
        let metrics = EpochMetrics {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            val_loss,
            val_acc,
            seconds: epoch_start.elapsed().as_secs_f64(),
        };
        tracing::debug!(?metrics, "epoch finished");
        observer.on_epoch(&metrics)?;
        epochs.push(metrics);
        if diverged {
            tracing::info!(epoch, "loss is not finite: run diverged");
            break;
        }
    }
    let (test_loss, test_acc) = evaluate(&mut net, splits, Part::Test)?;
    Ok(RunResult {
        epochs,
        test_loss,
        test_acc,
        diverged,
        seconds: started.elapsed().as_secs_f64(),
    })
}
