//! `fcnsweep train` on the real Fashion-MNIST: accuracy and bit-for-bit determinism.

use std::thread;

use serde_json::Value;

use crate::common::{self, heavy, real_data, s, tempdir};

/// Per-epoch metrics without wall times, and the final line without its wall time.
fn run_train(cwd: &std::path::Path, data: &std::path::Path) -> (Vec<Value>, Value) {
    let out = common::run_env(
        cwd,
        &[
            "train",
            "--dataset",
            "fashion-mnist",
            "--train-subset",
            "10000",
            "--epochs",
            "3",
            "--seed",
            "1",
            "--json",
            "--data-dir",
            s(data),
        ],
        // One core per run: the two runs train side by side.
        &[("RAYON_NUM_THREADS", "1")],
    )
    .ok();
    let mut lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{out}")))
        .collect();
    for v in &mut lines {
        let obj = v.as_object_mut().expect("JSON object");
        obj.remove("seconds");
        obj.remove("eval_seconds");
    }
    let last = lines.pop().expect("a final line");
    (lines, last)
}

#[test]
fn train_real_fashion_reaches_70_percent_and_is_deterministic() {
    let Some(data) = real_data("train_real_fashion") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    let (a, b) = thread::scope(|scope| {
        let first = scope.spawn(|| run_train(dir.path(), &data));
        let second = run_train(dir.path(), &data);
        (first.join().expect("first run"), second)
    });
    let (epochs, last) = &a;
    assert_eq!(epochs.len(), 3, "one JSON line per epoch: {epochs:?}");
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1, "{e}");
        for key in ["train_loss", "train_acc", "val_loss", "val_acc"] {
            assert!(e[key].is_number(), "epoch line lacks {key}: {e}");
        }
    }
    let acc = last["test_acc"].as_f64().expect("test_acc");
    assert!(acc >= 0.70, "test_acc {acc} < 0.70: {last}");
    assert!(last["test_loss"].as_f64().is_some(), "{last}");
    assert_eq!(last["epochs"], 3, "{last}");
    assert_eq!(last["diverged"], false, "{last}");
    assert_eq!(a, b, "two runs with --seed 1 differ");
}

#[test]
fn the_new_optimizers_train_from_their_flags() {
    let Some(data) = real_data("train_new_optimizers") else {
        return;
    };
    let _cpu = heavy();
    let dir = tempdir();
    for (flags, floor) in [
        (&["--optimizer", "adamw", "--lr", "0.001"][..], 0.70),
        (
            &[
                "--optimizer",
                "adagrad",
                "--lr",
                "0.05",
                "--lr-decay",
                "0.001",
            ][..],
            0.70,
        ),
    ] {
        let mut args = vec![
            "train",
            "--train-subset",
            "5000",
            "--epochs",
            "2",
            "--json",
            "--data-dir",
            s(&data),
        ];
        args.extend_from_slice(flags);
        let out = common::run_env(dir.path(), &args, &[("RAYON_NUM_THREADS", "1")]).ok();
        let last: Value =
            serde_json::from_str(out.stdout.lines().last().expect("a final line")).expect("JSON");
        let acc = last["test_acc"].as_f64().expect("test_acc");
        assert!(acc >= floor, "{flags:?}: test_acc {acc} < {floor}: {last}");
    }
    // A hyper-parameter the optimizer does not read is refused, naming the ones it does.
    common::run(
        dir.path(),
        &[
            "train",
            "--optimizer",
            "adagrad",
            "--beta1",
            "0.8",
            "--data-dir",
            s(&data),
        ],
    )
    .code(1)
    .stderr_has(&["adagrad has no hyper-parameter beta1", "lr_decay"]);
}
