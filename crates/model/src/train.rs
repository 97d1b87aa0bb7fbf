//! The seeded training loop: mini-batch SGD-style training, per-epoch evaluation on the
//! validation split, and a final pass over the official test set, on the fused engine
//! ([`train`]) or through candle's autograd ([`train_reference`]).

use std::time::Instant;

use candle_core::{Device, Tensor};
use fcnsweep_data::{Augment, Batch, Part, Splits};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::config::RunConfig;
use crate::error::ModelError;
use crate::fcn::{loss_and_correct, Fcn, Mode};
use crate::fused::{parallelism_for, EngineState, FlushDenormals, FusedFcn, FusedOptimizer};
use crate::memory::EVAL_BATCH;
use crate::optim::ReferenceOptimizer;
use crate::weights::Weights;

/// Independent RNG streams of one run, all derived from its seed.
const STREAM_INIT: u64 = 0;
const STREAM_DROPOUT: u64 = 1;
const STREAM_SHUFFLE: u64 = 2;
const STREAM_AUGMENT: u64 = 3;

/// Words of the augmentation stream reserved for one epoch (far more than it draws), so that
/// epoch `e` starts at `e << AUGMENT_EPOCH_BITS` and a resumed run needs no saved position.
const AUGMENT_EPOCH_BITS: u32 = 40;

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
    /// Wall time of the validation pass within `seconds` (not stored in the database).
    #[serde(default)]
    pub eval_seconds: f64,
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
    /// The trained network (the fused engine's runs; not serialized).
    #[serde(skip)]
    pub weights: Option<Box<Weights>>,
}

/// Receives progress from [`train`]; the search engine stores epochs through it.
pub trait RunObserver {
    /// Called after each epoch, with the state that resumes the run after it when
    /// [`RunObserver::wants_checkpoint`] said so; an error aborts the run and is returned by
    /// [`train`].
    fn on_epoch(
        &mut self,
        metrics: &EpochMetrics,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(), ModelError>;
    /// Whether the next [`RunObserver::on_epoch`] should carry a checkpoint (building one
    /// copies every parameter and optimizer buffer).
    fn wants_checkpoint(&self) -> bool {
        false
    }
    /// Polled between mini-batches; `true` aborts the run with [`ModelError::Interrupted`].
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn on_epoch(&mut self, _: &EpochMetrics, _: Option<&Checkpoint>) -> Result<(), ModelError> {
        Ok(())
    }
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The random stream that augments the training images of `epoch` (1-based) of run `seed`.
fn augment_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut r = rng(seed, STREAM_AUGMENT);
    r.set_word_pos((epoch as u128) << AUGMENT_EPOCH_BITS);
    r
}

fn to_tensors(batch: Batch, features: usize) -> Result<(Tensor, Tensor), ModelError> {
    let n = batch.len();
    let x = Tensor::from_vec(batch.images, (n, features), &Device::Cpu)?;
    let y = Tensor::from_vec(batch.labels, n, &Device::Cpu)?;
    Ok((x, y))
}

/// What the training loop needs from an implementation of the network and its optimizer.
trait Engine {
    /// Sets the optimizer's learning rate for the following batches.
    fn set_lr(&mut self, lr: f64);
    /// Forward pass in training mode on `batch`, then, when the loss is finite, backward pass
    /// and optimizer update. Returns the batch's mean loss and its correct predictions.
    fn train_batch(
        &mut self,
        batch: Batch,
        dropout_rng: &mut ChaCha8Rng,
    ) -> Result<(f64, usize), ModelError>;
    /// The summed loss and the correct predictions of `batch` in eval mode, without gradients.
    fn eval_batch(&mut self, batch: Batch) -> Result<(f64, usize), ModelError>;
    /// The network's and optimizer's state, for a checkpoint (`None`: not supported).
    fn state(&self) -> Option<EngineState> {
        None
    }
    /// Puts a checkpoint's state back.
    fn restore(&mut self, _state: &EngineState) -> Result<(), ModelError> {
        Err(ModelError::Checkpoint(
            "the candle reference path does not resume from checkpoints".into(),
        ))
    }
}

/// The candle reference: [`Fcn`] with autograd and the tensor updates of [`ReferenceOptimizer`].
struct CandleEngine {
    net: Fcn,
    opt: ReferenceOptimizer,
    /// Pixels per image, to shape the batches as tensors.
    features: usize,
}

impl Engine for CandleEngine {
    fn set_lr(&mut self, lr: f64) {
        self.opt.set_lr(lr);
    }

    fn train_batch(
        &mut self,
        batch: Batch,
        dropout_rng: &mut ChaCha8Rng,
    ) -> Result<(f64, usize), ModelError> {
        let (x, y) = to_tensors(batch, self.features)?;
        let logits = self.net.forward(&x, Mode::Train(dropout_rng))?;
        let (loss, c) = loss_and_correct(&logits, &y)?;
        let loss_value = loss.to_scalar::<f32>()? as f64;
        if loss_value.is_finite() {
            self.opt.step(&loss.backward()?)?;
        }
        Ok((loss_value, c))
    }

    fn eval_batch(&mut self, batch: Batch) -> Result<(f64, usize), ModelError> {
        let n = batch.len();
        let (x, y) = to_tensors(batch, self.features)?;
        let logits = self.net.forward(&x, Mode::<ChaCha8Rng>::Eval)?;
        let (loss, c) = loss_and_correct(&logits, &y)?;
        Ok((loss.to_scalar::<f32>()? as f64 * n as f64, c))
    }
}

/// The fused engine of [`crate::fused`]: the same network on flat buffers with gemm.
struct FusedEngine {
    net: FusedFcn,
    opt: FusedOptimizer,
}

impl Engine for FusedEngine {
    fn train_batch(
        &mut self,
        batch: Batch,
        dropout_rng: &mut ChaCha8Rng,
    ) -> Result<(f64, usize), ModelError> {
        let stats =
            self.net
                .train_step(&batch.images, &batch.labels, dropout_rng, &mut self.opt)?;
        Ok((stats.loss, stats.correct))
    }

    fn eval_batch(&mut self, batch: Batch) -> Result<(f64, usize), ModelError> {
        let stats = self.net.eval_batch(&batch.images, &batch.labels)?;
        Ok((stats.loss_sum, stats.correct))
    }

    fn set_lr(&mut self, lr: f64) {
        self.opt.set_lr(lr);
    }

    fn state(&self) -> Option<EngineState> {
        Some(self.net.state(&self.opt))
    }

    fn restore(&mut self, state: &EngineState) -> Result<(), ModelError> {
        self.net.restore(&mut self.opt, state)
    }
}

/// Mean loss and accuracy of `engine` over a whole split, in eval mode, without gradients.
fn evaluate(
    engine: &mut impl Engine,
    splits: &Splits,
    part: Part,
) -> Result<(f64, f64), ModelError> {
    let (mut loss_sum, mut correct, mut total) = (0.0f64, 0usize, 0usize);
    for batch in splits.eval_batches(part, EVAL_BATCH) {
        let n = batch.len();
        let (l, c) = engine.eval_batch(batch)?;
        loss_sum += l;
        correct += c;
        total += n;
    }
    Ok(mean_metrics(loss_sum, correct, total))
}

/// `(mean loss, accuracy)`, NaN for an empty split.
fn mean_metrics(loss_sum: f64, correct: usize, total: usize) -> (f64, f64) {
    if total == 0 {
        return (f64::NAN, f64::NAN);
    }
    (loss_sum / total as f64, correct as f64 / total as f64)
}

/// Trains one network of `config` with `seed` on `splits`, reporting each epoch to `observer`.
///
/// The same config, splits and seed give bit-identical metrics: weights, dropout masks and
/// shuffles come from separate streams of a ChaCha RNG seeded with `seed`. Runs on the fused
/// engine ([`crate::fused`]) with subnormal floats flushed to zero on the calling thread
/// (see `fused/fpenv.rs`); [`train_reference`] is the same run through candle's autograd.
pub fn train(
    splits: &Splits,
    config: &RunConfig,
    seed: u64,
    observer: &mut dyn RunObserver,
) -> Result<RunResult, ModelError> {
    train_from(splits, config, seed, observer, None, None)
}

/// [`train`], continued from `resume` (a checkpoint of the same configuration and seed):
/// the epochs after it are trained exactly as an uninterrupted run trains them.
///
/// `threads` is the matrix products' threading ([`parallelism_for`]; `None`: the process
/// default). A sweep gives each trial one thread: its worker pool's threads are the
/// parallelism. The results do not depend on it.
pub fn train_from(
    splits: &Splits,
    config: &RunConfig,
    seed: u64,
    observer: &mut dyn RunObserver,
    resume: Option<&Checkpoint>,
    threads: Option<usize>,
) -> Result<RunResult, ModelError> {
    let _flush = FlushDenormals::new();
    config.validate()?;
    let mut net = FusedFcn::new(
        &config.model,
        splits.features(),
        10,
        config.train.batch_size,
        &mut rng(seed, STREAM_INIT),
    )?;
    net.set_parallelism(parallelism_for(threads));
    let opt = FusedOptimizer::new(&config.optimizer, &net.parameter_sizes());
    let skip_single = net.has_batch_norm();
    let engine = FusedEngine { net, opt };
    run(engine, skip_single, splits, config, seed, observer, resume)
}

/// [`train`] through candle's autograd ([`Fcn`] and the tensor optimizers of
/// [`crate::optim`]): the reference the fused engine is tested against. Same signature,
/// metrics and RNG streams.
pub fn train_reference(
    splits: &Splits,
    config: &RunConfig,
    seed: u64,
    observer: &mut dyn RunObserver,
) -> Result<RunResult, ModelError> {
    config.validate()?;
    let net = Fcn::new(
        &config.model,
        splits.features(),
        10,
        &mut rng(seed, STREAM_INIT),
    )?;
    let opt = ReferenceOptimizer::new(&config.optimizer, net.parameters())?;
    let skip_single = net.has_batch_norm();
    let features = splits.features();
    let engine = CandleEngine { net, opt, features };
    run(engine, skip_single, splits, config, seed, observer, None)
}

/// The training loop shared by both engines; `skip_single`: the network has BatchNorm, which
/// cannot normalize a batch of one sample.
fn run(
    mut engine: impl Engine,
    skip_single: bool,
    splits: &Splits,
    config: &RunConfig,
    seed: u64,
    observer: &mut dyn RunObserver,
    resume: Option<&Checkpoint>,
) -> Result<RunResult, ModelError> {
    let started = Instant::now();
    let mut dropout_rng = rng(seed, STREAM_DROPOUT);
    let mut shuffle_rng = rng(seed, STREAM_SHUFFLE);
    let mut epochs = Vec::with_capacity(config.train.epochs);
    let mut diverged = false;
    let mut before = 0.0;
    if let Some(c) = resume {
        if c.config != *config || c.seed != seed {
            return Err(ModelError::Checkpoint(
                "the checkpoint belongs to another configuration or seed".into(),
            ));
        }
        engine.restore(&c.engine)?;
        dropout_rng.set_word_pos(c.rng[0]);
        shuffle_rng.set_word_pos(c.rng[1]);
        epochs.extend(c.epochs.iter().cloned());
        before = c.elapsed;
    }

    for epoch in epochs.len() + 1..=config.train.epochs {
        let epoch_start = Instant::now();
        engine.set_lr(config.optimizer.lr * config.train.lr_factor(epoch));
        let (mut loss_sum, mut batches, mut correct, mut seen) = (0.0f64, 0usize, 0usize, 0usize);
        let augment = Augment {
            shift: config.train.augment_shift,
            flip: config.train.augment_flip,
        };
        let epoch_batches = splits
            .train_epoch(config.train.batch_size, &mut shuffle_rng)
            .augmented(augment, augment_rng(seed, epoch));
        for batch in epoch_batches {
            if observer.should_stop() {
                return Err(ModelError::Interrupted);
            }
            let n = batch.len();
            // BatchNorm1d cannot normalize a single sample (PyTorch raises); skip such a tail.
            if skip_single && n == 1 {
                continue;
            }
            let (loss_value, c) = engine.train_batch(batch, &mut dropout_rng)?;
            if !loss_value.is_finite() {
                diverged = true;
                loss_sum += loss_value;
                batches += 1;
                break;
            }
            loss_sum += loss_value;
            batches += 1;
            correct += c;
            seen += n;
        }
        let eval_start = Instant::now();
        let (val_loss, val_acc) = if splits.val_len() > 0 {
            let (l, a) = evaluate(&mut engine, splits, Part::Validation)?;
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
            eval_seconds: eval_start.elapsed().as_secs_f64(),
        };
        tracing::debug!(?metrics, "epoch finished");
        epochs.push(metrics.clone());
        // Copying every buffer only when a checkpoint is wanted.
        let wanted = !diverged && observer.wants_checkpoint();
        let checkpoint = wanted
            .then(|| engine.state())
            .flatten()
            .map(|engine| Checkpoint {
                config: config.clone(),
                seed,
                epochs: epochs.clone(),
                elapsed: before + started.elapsed().as_secs_f64(),
                rng: [dropout_rng.get_word_pos(), shuffle_rng.get_word_pos()],
                engine,
            });
        observer.on_epoch(&metrics, checkpoint.as_ref())?;
        if diverged {
            tracing::info!(epoch, "loss is not finite: run diverged");
            break;
        }
    }
    let (test_loss, test_acc) = evaluate(&mut engine, splits, Part::Test)?;
    let weights = engine.state().map(|state| {
        Box::new(Weights::from_state(
            state,
            &config.model,
            splits.features(),
            10,
            splits.normalization(),
        ))
    });
    Ok(RunResult {
        epochs,
        test_loss,
        test_acc,
        diverged,
        seconds: before + started.elapsed().as_secs_f64(),
        weights,
    })
}
