//! The fused engine against the candle reference: gradients, optimizers, training runs and
//! BatchNorm statistics.

use std::sync::Arc;

use candle_core::{backprop::GradStore, Device, Tensor, Var};
use fcnsweep_data::{Dataset, Splits};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::config::{
    Init, LrSchedule, ModelConfig, Norm, OptimizerConfig, OptimizerKind, RunConfig, TrainConfig,
};
use crate::fcn::{loss_and_correct, Fcn, Mode};
use crate::optim::ReferenceOptimizer;
use crate::train::{train, train_reference, NoObserver, RunResult};

fn model(hidden: &[usize], dropout: f64, norm: Norm) -> ModelConfig {
    ModelConfig {
        hidden: hidden.to_vec(),
        dropout,
        init: Init::Default,
        init_std: 0.1,
        norm,
    }
}

fn random_batch(n: usize, inputs: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = (0..n * inputs)
        .map(|_| rng.random::<f32>() * 2.0 - 0.5)
        .collect();
    let y = (0..n)
        .map(|_| rng.random_range(0..classes as u32))
        .collect();
    (x, y)
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Max |a - b| over the scale of the reference: its largest magnitude, but at least `floor`.
fn rel_err_floor(reference: &[f32], got: &[f32], floor: f64) -> f64 {
    assert_eq!(reference.len(), got.len());
    let scale = reference
        .iter()
        .map(|v| f64::from(v.abs()))
        .fold(floor, f64::max);
    let diff = reference
        .iter()
        .zip(got)
        .map(|(a, b)| f64::from((a - b).abs()))
        .fold(0.0, f64::max);
    diff / scale
}

/// [`rel_err_floor`] with a floor of 1e-3.
fn rel_err(reference: &[f32], got: &[f32]) -> f64 {
    rel_err_floor(reference, got, 1e-3)
}

fn max_abs(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max)
}

fn candle_grads(net: &Fcn, grads: &GradStore) -> Vec<Vec<f32>> {
    net.parameters()
        .iter()
        .map(|v| {
            values(
                grads
                    .get(v.as_tensor())
                    .expect("every parameter has a gradient"),
            )
        })
        .collect()
}

/// One training forward/backward of both engines from the same seed, inputs and masks.
fn compare_step(cfg: &ModelConfig, inputs: usize, classes: usize, n: usize, seed: u64, tol: f64) {
    compare_step_with(cfg, inputs, classes, n, seed, tol, None);
}

fn compare_step_with(
    cfg: &ModelConfig,
    inputs: usize,
    classes: usize,
    n: usize,
    seed: u64,
    tol: f64,
    parallelism: Option<Parallelism>,
) {
    let what = format!(
        "{:?} dropout {} norm {:?} batch {n}",
        cfg.hidden, cfg.dropout, cfg.norm
    );
    let mut reference =
        Fcn::new(cfg, inputs, classes, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
    let mut fused = FusedFcn::new(
        cfg,
        inputs,
        classes,
        n,
        &mut ChaCha8Rng::seed_from_u64(seed),
    )
    .unwrap();
    if let Some(p) = parallelism {
        fused.set_parallelism(p);
    }
    // Same initial parameters, bit for bit.
    let ref_params: Vec<Vec<f32>> = reference
        .parameters()
        .iter()
        .map(|v| values(v.as_tensor()))
        .collect();
    let fused_params: Vec<Vec<f32>> = fused.parameters().unwrap().iter().map(values).collect();
    assert_eq!(ref_params, fused_params, "{what}: initial parameters");

    let (x, y) = random_batch(n, inputs, classes, seed + 100);
    let xt = Tensor::from_slice(&x, (n, inputs), &Device::Cpu).unwrap();
    let yt = Tensor::from_slice(&y, n, &Device::Cpu).unwrap();
    let mut rng_a = ChaCha8Rng::seed_from_u64(seed + 7);
    let mut rng_b = rng_a.clone();
    let logits = reference.forward(&xt, Mode::Train(&mut rng_a)).unwrap();
    let (loss, correct) = loss_and_correct(&logits, &yt).unwrap();
    let grads = loss.backward().unwrap();
    let stats = fused.train_batch(&x, &y, &mut rng_b).unwrap();
    // Both consumed the same number of dropout draws.
    assert_eq!(
        rng_a.random::<u64>(),
        rng_b.random::<u64>(),
        "{what}: RNG use"
    );

    let e = rel_err(&values(&logits), &values(&fused.logits().unwrap()));
    assert!(e <= tol, "{what}: logits rel err {e:e}");
    let l = f64::from(loss.to_scalar::<f32>().unwrap());
    assert!(
        (l - stats.loss).abs() <= tol * l.abs().max(1.0),
        "{what}: loss {l} vs {}",
        stats.loss
    );
    assert_eq!(correct, stats.correct, "{what}: correct");
    let expected = candle_grads(&reference, &grads);
    let got: Vec<Vec<f32>> = fused.gradients().unwrap().iter().map(values).collect();
    assert_eq!(expected.len(), got.len());
    // The scale of a tensor is its own largest gradient, but at least 1% of the network's
    // largest. The bias of a batch-normalized layer has a gradient that is zero up to
    // rounding (BatchNorm subtracts it again): both engines must give a value that is zero
    // relative to the network's gradients.
    let global = expected.iter().map(|g| max_abs(g)).fold(0.0, f64::max);
    let hidden = cfg.hidden.len();
    for (i, (a, b)) in expected.iter().zip(&got).enumerate() {
        let bn_bias = cfg.norm == Norm::Batch && i < 4 * hidden && i % 4 == 1;
        let floor = if bn_bias { global } else { 0.01 * global };
        let e = rel_err_floor(a, b, floor);
        assert!(e <= tol, "{what}: gradient of parameter {i} rel err {e:e}");
    }
}

#[test]
fn gradients_match_candle_autograd() {
    let mut seed = 1;
    for hidden in [&[16][..], &[16, 12, 8][..]] {
        for dropout in [0.0, 0.3] {
            for norm in [Norm::None, Norm::Batch] {
                for n in [1, 7, 64] {
                    if n == 1 && norm == Norm::Batch {
                        continue;
                    }
                    let cfg = model(hidden, dropout, norm);
                    compare_step(&cfg, 20, 5, n, seed, 1e-5);
                    seed += 1;
                }
            }
        }
    }
}

#[test]
fn gradients_match_with_threaded_products() {
    // Products above the single-thread cut-off, run on two rayon threads.
    for (norm, dropout) in [(Norm::None, 0.0), (Norm::Batch, 0.3)] {
        let cfg = model(&[300, 40], dropout, norm);
        compare_step_with(&cfg, 200, 10, 64, 5, 1e-5, Some(Parallelism::Rayon(2)));
        compare_step_with(&cfg, 200, 10, 64, 5, 1e-5, Some(Parallelism::None));
    }
}

#[test]
fn other_initializers_draw_the_same_weights() {
    for init in [Init::Normal, Init::XavierUniform, Init::HeNormal] {
        let mut cfg = model(&[9, 4], 0.0, Norm::Batch);
        cfg.init = init;
        let a = Fcn::new(&cfg, 6, 3, &mut ChaCha8Rng::seed_from_u64(11)).unwrap();
        let b = FusedFcn::new(&cfg, 6, 3, 4, &mut ChaCha8Rng::seed_from_u64(11)).unwrap();
        let pa: Vec<Vec<f32>> = a.parameters().iter().map(|v| values(v)).collect();
        let pb: Vec<Vec<f32>> = b.parameters().unwrap().iter().map(values).collect();
        assert_eq!(pa, pb, "{init:?}");
        assert_eq!(a.parameter_count(), b.parameter_count());
    }
}

fn optimizer_variants() -> Vec<OptimizerConfig> {
    use OptimizerKind::{Adagrad, Adam, AdamW, Rmsprop, Sgd};
    let c = OptimizerConfig::new;
    vec![
        c(Sgd, 0.1),
        c(Sgd, 0.05).with("momentum", 0.9),
        c(Sgd, 0.05)
            .with("momentum", 0.9)
            .with("nesterov", true)
            .with("weight_decay", 1e-3),
        c(Sgd, 0.1).with("weight_decay", 0.01),
        c(Adam, 0.01),
        c(Adam, 0.01)
            .with("weight_decay", 0.1)
            .with("beta1", 0.8)
            .with("beta2", 0.99)
            .with("eps", 1e-3),
        c(Adam, 0.01).with("beta1", 0.3).with("beta2", 0.9), // lerp's other branch
        c(AdamW, 0.01),
        c(AdamW, 0.01).with("weight_decay", 0.3).with("beta1", 0.3),
        c(Rmsprop, 0.01),
        c(Rmsprop, 0.01).with("alpha", 0.9).with("eps", 0.1),
        c(Rmsprop, 0.01).with("momentum", 0.9),
        c(Rmsprop, 0.01).with("centered", true),
        c(Rmsprop, 0.01)
            .with("centered", true)
            .with("momentum", 0.5)
            .with("weight_decay", 0.1)
            .with("alpha", 0.3),
        c(Adagrad, 0.05),
        c(Adagrad, 0.05)
            .with("lr_decay", 0.2)
            .with("weight_decay", 0.01)
            .with("initial_accumulator_value", 0.1),
    ]
}

#[test]
fn optimizers_match_the_reference() {
    let sizes = [12usize, 5, 1, 30];
    for config in optimizer_variants() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let init: Vec<Vec<f32>> = sizes
            .iter()
            .map(|&n| (0..n).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect())
            .collect();
        let vars: Vec<Var> = init
            .iter()
            .map(|v| Var::from_slice(v, v.len(), &Device::Cpu).unwrap())
            .collect();
        let mut reference = ReferenceOptimizer::new(&config, vars.clone()).unwrap();
        let mut fused = FusedOptimizer::new(&config, &sizes);
        let mut flat: Vec<f32> = init.concat();
        assert_eq!(fused.len(), flat.len());
        for step in 0..6 {
            let grads: Vec<Vec<f32>> = sizes
                .iter()
                .map(|&n| (0..n).map(|_| rng.random::<f32>() - 0.4).collect())
                .collect();
            let mut store = GradStore::default();
            for (v, g) in vars.iter().zip(&grads) {
                store.insert(
                    v.as_tensor(),
                    Tensor::from_slice(g, g.len(), &Device::Cpu).unwrap(),
                );
            }
            reference.step(&store).unwrap();
            fused.step(&mut flat, &grads.concat());
            let expected: Vec<f32> = vars.iter().flat_map(|v| values(v.as_tensor())).collect();
            for (i, (e, g)) in expected.iter().zip(&flat).enumerate() {
                let err = f64::from((e - g).abs());
                assert!(
                    err <= 1e-6 * f64::from(e.abs()).max(1e-3),
                    "{config:?} step {step} element {i}: {e} vs {g}"
                );
            }
        }
        assert_eq!(fused.steps(), 6);
        assert_eq!(reference.steps(), 6);
    }
}

/// Ten noisy binary class prototypes in 784 pixels, values in [0, 1].
fn synthetic(train: usize, test: usize) -> Arc<Dataset> {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let protos: Vec<Vec<f32>> = (0..10)
        .map(|_| (0..784).map(|_| f32::from(rng.random::<bool>())).collect())
        .collect();
    fcnsweep_testkit::synthetic::dataset(train, test, |_, images| {
        let c = rng.random_range(0..10usize);
        for &p in &protos[c] {
            let v: f32 = 0.7 * p + 0.3 * rng.random::<f32>();
            images.push(v);
        }
        c as u8
    })
}

fn synthetic_splits() -> Splits {
    fcnsweep_testkit::synthetic::splits(synthetic(1100, 250), 200, 3)
}

fn run_config(model: ModelConfig, optimizer: OptimizerConfig, batch: usize) -> RunConfig {
    RunConfig {
        model,
        optimizer,
        train: TrainConfig {
            epochs: 2,
            batch_size: batch,
            validation: 200,
            ..Default::default()
        },
    }
}

fn assert_runs_agree(a: &RunResult, b: &RunResult, what: &str, acc_tol: f64) {
    assert_eq!(a.epochs.len(), b.epochs.len(), "{what}");
    assert_eq!(a.diverged, b.diverged, "{what}");
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert!(
            (x.train_loss - y.train_loss).abs() < 1e-3,
            "{what}: train loss {} vs {}",
            x.train_loss,
            y.train_loss
        );
        assert!(
            (x.train_acc - y.train_acc).abs() <= acc_tol,
            "{what}: {x:?} vs {y:?}"
        );
        let (vl, wl) = (x.val_loss.unwrap(), y.val_loss.unwrap());
        assert!((vl - wl).abs() < 1e-3, "{what}: val loss {vl} vs {wl}");
        assert!(
            (x.val_acc.unwrap() - y.val_acc.unwrap()).abs() <= acc_tol,
            "{what}: {x:?} vs {y:?}"
        );
    }
    assert!(
        (a.test_loss - b.test_loss).abs() < 1e-3,
        "{what}: test loss {} vs {}",
        a.test_loss,
        b.test_loss
    );
    assert!(
        (a.test_acc - b.test_acc).abs() <= acc_tol,
        "{what}: test accuracy {} vs {}",
        a.test_acc,
        b.test_acc
    );
}

#[test]
fn train_matches_train_reference() {
    let splits = synthetic_splits();
    let adam = OptimizerConfig::new(OptimizerKind::Adam, 0.002).with("weight_decay", 1e-4);
    let rms = OptimizerConfig::new(OptimizerKind::Rmsprop, 0.001)
        .with("centered", true)
        .with("momentum", 0.5);
    let sgd = OptimizerConfig::new(OptimizerKind::Sgd, 0.05)
        .with("momentum", 0.9)
        .with("nesterov", true);
    let adamw = OptimizerConfig::new(OptimizerKind::AdamW, 0.002);
    let adagrad = OptimizerConfig::new(OptimizerKind::Adagrad, 0.02).with("lr_decay", 0.01);
    let cases = [
        (
            model(&[64, 32], 0.0, Norm::None),
            OptimizerConfig::new(OptimizerKind::Sgd, 0.1),
            64,
        ),
        (model(&[48, 24], 0.3, Norm::Batch), adam, 32),
        (model(&[40], 0.2, Norm::None), rms, 50),
        (model(&[32, 16, 16], 0.0, Norm::Batch), sgd, 64),
        (model(&[40, 20], 0.1, Norm::Batch), adamw, 32),
        (model(&[40], 0.0, Norm::None), adagrad, 50),
    ];
    for (m, o, batch) in cases {
        let config = run_config(m, o, batch);
        let what = format!("{config:?}");
        let fused = train(&splits, &config, 5, &mut NoObserver).unwrap();
        let reference = train_reference(&splits, &config, 5, &mut NoObserver).unwrap();
        // One borderline sample may flip between the two.
        assert_runs_agree(&fused, &reference, &what, 1.0 / 200.0 + 1e-9);
        // Chance level is ln 10 = 2.30.
        let val_loss = fused.epochs[1].val_loss.unwrap();
        assert!(val_loss < 2.2, "{what}: learns ({val_loss})");
    }
}

#[test]
fn train_is_bit_identical_for_a_seed() {
    let splits = synthetic_splits();
    let config = run_config(
        model(&[48, 24], 0.25, Norm::Batch),
        OptimizerConfig::new(OptimizerKind::Sgd, 0.05),
        32,
    );
    let strip = |mut r: RunResult| {
        r.seconds = 0.0;
        for e in &mut r.epochs {
            e.seconds = 0.0;
            e.eval_seconds = 0.0;
        }
        r
    };
    let a = strip(train(&splits, &config, 7, &mut NoObserver).unwrap());
    let b = strip(train(&splits, &config, 7, &mut NoObserver).unwrap());
    assert_eq!(a, b);
    let c = strip(train(&splits, &config, 8, &mut NoObserver).unwrap());
    assert_ne!(a, c);
}

#[test]
fn batch_norm_running_stats_and_eval_match_candle() {
    let (inputs, classes, n) = (30, 6, 16);
    let cfg = model(&[24, 12], 0.2, Norm::Batch);
    let opt = OptimizerConfig::new(OptimizerKind::Sgd, 0.1);
    let mut reference = Fcn::new(&cfg, inputs, classes, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    let mut ref_opt = ReferenceOptimizer::new(&opt, reference.parameters()).unwrap();
    let mut fused =
        FusedFcn::new(&cfg, inputs, classes, n, &mut ChaCha8Rng::seed_from_u64(3)).unwrap();
    let mut fused_opt = FusedOptimizer::new(&opt, &fused.parameter_sizes());
    let mut rng_a = ChaCha8Rng::seed_from_u64(4);
    let mut rng_b = rng_a.clone();
    for step in 0..8 {
        let (x, y) = random_batch(n, inputs, classes, 50 + step);
        let xt = Tensor::from_slice(&x, (n, inputs), &Device::Cpu).unwrap();
        let yt = Tensor::from_slice(&y, n, &Device::Cpu).unwrap();
        let logits = reference.forward(&xt, Mode::Train(&mut rng_a)).unwrap();
        let (loss, _) = loss_and_correct(&logits, &yt).unwrap();
        ref_opt.step(&loss.backward().unwrap()).unwrap();
        fused.train_batch(&x, &y, &mut rng_b).unwrap();
        fused.apply(&mut fused_opt);
    }
    let expected = reference.running_stats();
    let got = fused.running_stats().unwrap();
    assert_eq!(expected.len(), 2);
    assert_eq!(got.len(), 2);
    for ((rm, rv), (fm, fv)) in expected.iter().zip(&got) {
        let e = rel_err(&values(rm), &values(fm));
        assert!(e < 1e-5, "running mean rel err {e:e}");
        let e = rel_err(&values(rv), &values(fv));
        assert!(e < 1e-5, "running var rel err {e:e}");
    }
    for (a, b) in reference
        .parameters()
        .iter()
        .zip(fused.parameters().unwrap())
    {
        let e = rel_err(&values(a.as_tensor()), &values(&b));
        assert!(e < 1e-5, "parameters after 8 steps rel err {e:e}");
    }
    // Eval mode: running statistics, no dropout; larger batch than training.
    let (x, y) = random_batch(50, inputs, classes, 99);
    let xt = Tensor::from_slice(&x, (50, inputs), &Device::Cpu).unwrap();
    let yt = Tensor::from_slice(&y, 50, &Device::Cpu).unwrap();
    let logits = reference.forward(&xt, Mode::<ChaCha8Rng>::Eval).unwrap();
    let (loss, correct) = loss_and_correct(&logits, &yt).unwrap();
    let got = fused.eval_logits(&x, 50).unwrap();
    let e = rel_err(&values(&logits), &values(&got));
    assert!(e < 1e-5, "eval logits rel err {e:e}");
    let stats = fused.eval_batch(&x, &y).unwrap();
    assert_eq!(stats.correct, correct);
    let l = f64::from(loss.to_scalar::<f32>().unwrap());
    assert!((stats.loss - l).abs() < 1e-5 * l.max(1.0));
    assert!((stats.loss_sum - 50.0 * stats.loss).abs() < 1e-9 * stats.loss_sum.abs().max(1.0));
}

#[test]
fn rejects_bad_batches() {
    let cfg = model(&[4], 0.0, Norm::None);
    let mut net = FusedFcn::new(&cfg, 3, 2, 2, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert!(net.train_batch(&[0.0; 5], &[0, 1], &mut rng).is_err());
    assert!(net.train_batch(&[0.0; 6], &[0, 2], &mut rng).is_err());
    assert!(net.train_batch(&[], &[], &mut rng).is_err());
    // A batch larger than the initial capacity grows the workspace.
    let (x, y) = random_batch(9, 3, 2, 1);
    let s = net.train_batch(&x, &y, &mut rng).unwrap();
    assert!(s.loss.is_finite());
    assert_eq!(net.logits().unwrap().dims(), &[9, 2]);
}

#[test]
fn train_step_matches_train_batch_and_apply() {
    let (inputs, classes, n) = (30, 6, 16);
    let momentum = OptimizerConfig::new(OptimizerKind::Sgd, 0.1).with("momentum", 0.9);
    for (norm, dropout) in [(Norm::None, 0.0), (Norm::Batch, 0.2)] {
        let cfg = model(&[24, 12], dropout, norm);
        // Plain SGD (fused into the gradient products) and an optimizer on stored gradients.
        for (opt_cfg, tol) in [
            (OptimizerConfig::new(OptimizerKind::Sgd, 0.1), 1e-6),
            (OptimizerConfig::new(OptimizerKind::Adam, 0.01), 0.0),
            (momentum.clone(), 0.0),
        ] {
            let new = || FusedFcn::new(&cfg, inputs, classes, n, &mut ChaCha8Rng::seed_from_u64(3));
            let (mut a, mut b) = (new().unwrap(), new().unwrap());
            let mut opt_a = FusedOptimizer::new(&opt_cfg, &a.parameter_sizes());
            let mut opt_b = FusedOptimizer::new(&opt_cfg, &b.parameter_sizes());
            assert_eq!(opt_a.plain_sgd_lr().is_some(), tol > 0.0);
            let mut rng_a = ChaCha8Rng::seed_from_u64(4);
            let mut rng_b = rng_a.clone();
            for step in 0..5 {
                let (x, y) = random_batch(n, inputs, classes, 70 + step);
                let sa = a.train_step(&x, &y, &mut rng_a, &mut opt_a).unwrap();
                let sb = b.train_batch(&x, &y, &mut rng_b).unwrap();
                b.apply(&mut opt_b);
                assert!(
                    (sa.loss - sb.loss).abs() <= 1e-5 * sb.loss.abs(),
                    "{opt_cfg:?}"
                );
            }
            assert_eq!(opt_a.steps(), 5);
            let pa = a.flat_parameters();
            let pb = b.flat_parameters();
            if tol == 0.0 {
                assert_eq!(pa, pb, "{opt_cfg:?}");
            } else {
                let e = rel_err(pb, pa);
                assert!(e <= tol, "{opt_cfg:?}: fused SGD rel err {e:e}");
            }
        }
    }
}

#[test]
fn non_finite_loss_leaves_the_network_untouched() {
    let cfg = model(&[8], 0.0, Norm::None);
    let mut net = FusedFcn::new(&cfg, 4, 3, 2, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let mut opt = FusedOptimizer::new(
        &OptimizerConfig::new(OptimizerKind::Sgd, 0.1),
        &net.parameter_sizes(),
    );
    // A NaN output bias makes the logits NaN (a NaN input would be zeroed by ReLU, in
    // candle as here).
    let mut params = net.parameters().unwrap();
    params[3] = Tensor::new(&[0.0f32, f32::NAN, 0.0], &Device::Cpu).unwrap();
    net.set_parameters(&params).unwrap();
    let before = net.flat_parameters().to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = [0.5, 1.0, 2.0, 3.0, 0.0, 1.0, 0.5, 0.25];
    let s = net.train_step(&x, &[0, 1], &mut rng, &mut opt).unwrap();
    assert!(!s.loss.is_finite());
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    assert!(same(net.flat_parameters(), &before));
    assert_eq!(opt.steps(), 0);
    let wrong = FusedOptimizer::new(&OptimizerConfig::new(OptimizerKind::Sgd, 0.1), &[3]);
    assert!(net
        .train_step(&x, &[0, 1], &mut rng, &mut wrong.clone())
        .is_err());
}

#[test]
fn schedules_change_the_learning_rate_between_epochs() {
    let splits = synthetic_splits();
    let base = run_config(
        model(&[32, 16], 0.0, Norm::None),
        OptimizerConfig::new(OptimizerKind::Adam, 0.003),
        32,
    );
    let with = |schedule: LrSchedule, step_size: usize, gamma: f64| {
        let mut config = base.clone();
        config.train.epochs = 3;
        config.train.lr_schedule = schedule;
        config.train.lr_step_size = step_size;
        config.train.lr_gamma = gamma;
        config
    };
    let val_accs =
        |r: &RunResult| -> Vec<f64> { r.epochs.iter().map(|e| e.val_acc.unwrap()).collect() };

    // A step schedule with gamma 1 is the constant schedule, bit for bit.
    let constant = train(
        &splits,
        &with(LrSchedule::Constant, 10, 0.1),
        3,
        &mut NoObserver,
    )
    .unwrap();
    let gamma_one = train(&splits, &with(LrSchedule::Step, 1, 1.0), 3, &mut NoObserver).unwrap();
    assert_eq!(val_accs(&constant), val_accs(&gamma_one));
    assert_eq!(constant.test_loss, gamma_one.test_loss);

    // Decaying by 1e-30 after epoch 1 freezes the weights: epochs 2 and 3 evaluate the same
    // network, while the constant schedule keeps moving.
    let frozen = train(
        &splits,
        &with(LrSchedule::Step, 1, 1e-30),
        3,
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(val_accs(&frozen)[0], val_accs(&constant)[0]);
    assert_eq!(frozen.epochs[1].val_loss, frozen.epochs[2].val_loss);
    assert_ne!(constant.epochs[1].val_loss, constant.epochs[2].val_loss);

    // Cosine annealing: epoch 1 at the full rate, then lower; both engines agree.
    let cosine = with(LrSchedule::Cosine, 10, 0.1);
    let fused = train(&splits, &cosine, 3, &mut NoObserver).unwrap();
    let reference = train_reference(&splits, &cosine, 3, &mut NoObserver).unwrap();
    assert_eq!(val_accs(&fused)[0], val_accs(&constant)[0]);
    assert_ne!(fused.epochs[1].val_loss, constant.epochs[1].val_loss);
    assert_runs_agree(&fused, &reference, "cosine", 1.0 / 200.0 + 1e-9);
}

#[test]
fn augmentation_changes_the_training_images_alike_in_both_engines() {
    let splits = synthetic_splits();
    let mut cfg = run_config(
        model(&[48, 24], 0.1, Norm::Batch),
        OptimizerConfig::new(OptimizerKind::Adam, 0.002),
        32,
    );
    let plain = train(&splits, &cfg, 3, &mut NoObserver).unwrap();
    cfg.train.augment_shift = 2;
    cfg.train.augment_flip = true;
    let fused = train(&splits, &cfg, 3, &mut NoObserver).unwrap();
    let reference = train_reference(&splits, &cfg, 3, &mut NoObserver).unwrap();
    // Three epochs of augmented Adam + batch-norm training leave the engines' losses within
    // 1e-3, but the gemm kernels' summation order differs by CPU and can flip two of the 250
    // test images that lie on a decision boundary (an AMD EPYC: 0.720 against 0.728). So the
    // accuracies may differ by 0.008: two test images, still one of the 200 validation images,
    // and seven of the 900 training images.
    assert_runs_agree(&fused, &reference, "augmented", 2.0 / 250.0 + 1e-9);
    // Same seed, same shuffles: only the images differ, from the first batch on.
    assert_ne!(plain.epochs[0].train_loss, fused.epochs[0].train_loss);
    let again = train(&splits, &cfg, 3, &mut NoObserver).unwrap();
    assert_bit_identical(&fused, &again, "augmented, same seed");
    // Chance level is ln 10 = 2.30: the moved and mirrored prototypes are still learnt.
    let val_loss = fused.epochs[1].val_loss.unwrap();
    assert!(val_loss < 2.2, "augmented run learns ({val_loss})");
}

/// Keeps every checkpoint offered and can stop the run after a given epoch.
struct Keeper {
    checkpoints: Vec<crate::Checkpoint>,
    stop_after: Option<usize>,
}

impl crate::RunObserver for Keeper {
    fn on_epoch(
        &mut self,
        m: &crate::EpochMetrics,
        checkpoint: Option<&crate::Checkpoint>,
    ) -> Result<(), crate::ModelError> {
        self.checkpoints.extend(checkpoint.cloned());
        if self.stop_after == Some(m.epoch) {
            return Err(crate::ModelError::Interrupted);
        }
        Ok(())
    }

    fn wants_checkpoint(&self) -> bool {
        true
    }
}

#[test]
fn a_run_is_bit_identical_on_one_thread_and_two() {
    // 64 x 256 x 250 products are above the single-thread cut-off, so `Some(2)` splits them.
    let splits = synthetic_splits();
    let model = ModelConfig {
        hidden: vec![256, 64],
        dropout: 0.2,
        norm: Norm::Batch,
        ..Default::default()
    };
    let opt = OptimizerConfig::new(crate::optim::OptimizerKind::Adam, 0.003);
    let cfg = run_config(model, opt, 64);
    let run = |threads| {
        crate::train_from(&splits, &cfg, 5, &mut crate::NoObserver, None, threads).unwrap()
    };
    assert_bit_identical(&run(Some(1)), &run(Some(2)), "one thread and two");
}

/// `a` and `b` have the same test metrics and per-epoch losses, bit for bit.
fn assert_bit_identical(a: &RunResult, b: &RunResult, what: &str) {
    assert_eq!(a.epochs.len(), b.epochs.len(), "{what}: epochs");
    assert_eq!(
        a.test_acc.to_bits(),
        b.test_acc.to_bits(),
        "{what}: test acc"
    );
    assert_eq!(
        a.test_loss.to_bits(),
        b.test_loss.to_bits(),
        "{what}: test loss"
    );
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert_eq!(
            (x.train_loss.to_bits(), x.val_loss.map(f64::to_bits)),
            (y.train_loss.to_bits(), y.val_loss.map(f64::to_bits)),
            "{what}: epoch {}",
            x.epoch
        );
    }
}

#[test]
fn a_run_resumed_from_any_checkpoint_ends_bit_identical() {
    use crate::optim::OptimizerKind::*;
    let splits = synthetic_splits();
    let c = OptimizerConfig::new;
    // The last two also augment their images, whose random stream restarts every epoch.
    let cases = [
        (
            Norm::None,
            0.0,
            c(Sgd, 0.05).with("momentum", 0.9),
            (0, false),
        ),
        (
            Norm::Batch,
            0.3,
            c(Adam, 0.003).with("weight_decay", 1e-4),
            (0, false),
        ),
        (
            Norm::None,
            0.15,
            c(Rmsprop, 0.001).with("centered", true),
            (2, true),
        ),
        (Norm::Batch, 0.0, c(Adagrad, 0.01), (1, false)),
    ];
    for (norm, dropout, opt, (shift, flip)) in cases {
        let mut cfg = run_config(
            ModelConfig {
                hidden: vec![32, 16],
                dropout,
                norm,
                ..Default::default()
            },
            opt,
            64,
        );
        cfg.train.epochs = 4;
        cfg.train.lr_schedule = crate::LrSchedule::Cosine;
        cfg.train.augment_shift = shift;
        cfg.train.augment_flip = flip;
        let what = format!(
            "{norm:?} dropout {dropout} {:?} shift {shift} flip {flip}",
            cfg.optimizer.kind()
        );
        let mut whole = Keeper {
            checkpoints: Vec::new(),
            stop_after: None,
        };
        let reference = crate::train(&splits, &cfg, 11, &mut whole).unwrap();
        assert_eq!(whole.checkpoints.len(), 4, "{what}");
        for k in 1..4 {
            // Stop after epoch k, write and read the checkpoint, resume.
            let mut cut = Keeper {
                checkpoints: Vec::new(),
                stop_after: Some(k),
            };
            assert!(crate::train(&splits, &cfg, 11, &mut cut).is_err());
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.safetensors");
            let sha = cut.checkpoints[k - 1].write_atomic(&path).unwrap();
            let back = crate::Checkpoint::read_verified(&path, &sha).unwrap();
            assert_eq!(back, cut.checkpoints[k - 1], "{what}: round trip");
            let resumed =
                crate::train_from(&splits, &cfg, 11, &mut crate::NoObserver, Some(&back), None)
                    .unwrap();
            assert_bit_identical(&resumed, &reference, &format!("{what} from {k}"));
        }
        // A torn file and another run's checkpoint are refused.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        let sha = whole.checkpoints[0].write_atomic(&path).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes.truncate(n - 7);
        std::fs::write(&path, &bytes).unwrap();
        let e = crate::Checkpoint::read_verified(&path, &sha).unwrap_err();
        assert!(e.to_string().contains("torn or replaced"), "{e}");
        let e = crate::train_from(
            &splits,
            &cfg,
            12,
            &mut crate::NoObserver,
            Some(&whole.checkpoints[0]),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("another configuration or seed"),
            "{e}"
        );
    }
}

/// An independent evaluation-mode forward pass over a state dict by its `nn.Sequential`
/// names, written from PyTorch's definitions: an index with `running_mean` is BatchNorm1d,
/// one with a 2-D `weight` is Linear, one without tensors is ReLU or Dropout (in eval mode
/// a Dropout after a ReLU changes nothing, so both apply max(0, x)).
fn sequential_forward(
    tensors: &std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    x: &[f32],
) -> Vec<f32> {
    let last = tensors
        .keys()
        .filter_map(|k| k.split('.').next()?.parse::<usize>().ok())
        .max()
        .unwrap();
    let mut h = x.to_vec();
    for i in 0..=last {
        let t = |n: &str| tensors.get(&format!("{i}.{n}"));
        if let (Some((_, m)), Some((_, v)), Some((_, w)), Some((_, b))) =
            (t("running_mean"), t("running_var"), t("weight"), t("bias"))
        {
            h = h
                .iter()
                .enumerate()
                .map(|(j, &z)| (z - m[j]) / (v[j] + 1e-5).sqrt() * w[j] + b[j])
                .collect();
        } else if let (Some((shape, w)), Some((_, b))) = (t("weight"), t("bias")) {
            let (out, inp) = (shape[0], shape[1]);
            h = (0..out)
                .map(|o| b[o] + (0..inp).map(|k| w[o * inp + k] * h[k]).sum::<f32>())
                .collect();
        } else {
            h.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
    h
}

#[test]
fn exported_weights_load_by_pytorch_names_and_reproduce_the_test_accuracy() {
    use crate::optim::OptimizerKind::*;
    let splits = synthetic_splits();
    for (norm, dropout) in [(Norm::None, 0.0), (Norm::Batch, 0.2)] {
        let cfg = run_config(
            ModelConfig {
                hidden: vec![24, 12],
                dropout,
                norm,
                ..Default::default()
            },
            OptimizerConfig::new(Adam, 0.003),
            32,
        );
        let result = crate::train(&splits, &cfg, 5, &mut NoObserver).unwrap();
        let weights = *result
            .weights
            .clone()
            .expect("the fused engine returns its network");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        weights.write(&path).unwrap();
        let back = crate::Weights::read(&path).unwrap();
        assert_eq!(back, weights);
        // Names and shapes as torch's nn.Sequential state dict.
        let bytes = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        let expected: Vec<&str> = if norm == Norm::Batch {
            // Linear 0, BN 1, ReLU 2, Dropout 3, Linear 4, BN 5, ReLU 6, Dropout 7, Linear 8.
            vec![
                "0.bias",
                "0.weight",
                "1.bias",
                "1.num_batches_tracked",
                "1.running_mean",
                "1.running_var",
                "1.weight",
                "4.bias",
                "4.weight",
                "5.bias",
                "5.num_batches_tracked",
                "5.running_mean",
                "5.running_var",
                "5.weight",
                "8.bias",
                "8.weight",
            ]
        } else {
            vec![
                "0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight",
            ]
        };
        assert_eq!(names, expected);
        assert_eq!(st.tensor("0.weight").unwrap().shape(), [24, 784]);
        let tensors: std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)> = st
            .tensors()
            .into_iter()
            .filter(|(_, v)| v.dtype() == safetensors::Dtype::F32)
            .map(|(n, v)| {
                let data = v
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (n, (v.shape().to_vec(), data))
            })
            .collect();
        // The independent forward pass classifies the test set as fcnsweep measured.
        let (mut correct, mut total) = (0, 0);
        let mut net = back.network().unwrap();
        for batch in splits.eval_batches(fcnsweep_data::Part::Test, 64) {
            let probs = net.probabilities(&batch.images, batch.len());
            for (r, &label) in batch.labels.iter().enumerate() {
                let x = &batch.images[r * 784..(r + 1) * 784];
                let logits = sequential_forward(&tensors, x);
                let arg = (0..10)
                    .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                    .unwrap();
                let p = &probs[r * 10..(r + 1) * 10];
                let arg_p = (0..10).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
                assert_eq!(arg, arg_p, "{norm:?}: image {total}");
                correct += usize::from(arg as u32 == label);
                total += 1;
            }
        }
        assert_eq!(correct as f64 / total as f64, result.test_acc, "{norm:?}");
    }
}
