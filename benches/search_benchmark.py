#!/usr/bin/env python3
"""Adaptive search against random search and Optuna, at the same budget of trial-epochs.

Runs, on the stage-1 space of search-spaces/fashion-random.yaml (one block for every
optimizer), for each search seed:

  random     fcnsweep, a `random` block
  tpe        fcnsweep, a `tpe` block, no pruning
  tpe-asha   fcnsweep, a `tpe` block with `prune: {method: asha}`
  optuna     Optuna's TPESampler with SuccessiveHalvingPruner, driving `fcnsweep train --json`
             as its objective and reading the epochs as they stream, so that it can prune

Every method stops once its trials have trained `--budget-epochs` epochs in all (a sweep is
interrupted with Ctrl-C's signal, its running trials returned to pending; Optuna's running
trials are killed). It prints, per method and seed, the best validation accuracy reached within
the budget, the epochs needed to reach each `--targets` accuracy and the wall time; then the
medians over the seeds; and writes best-so-far against epochs as a PNG (matplotlib) and the raw
points as JSON.

Optuna and matplotlib come from PyPI into a virtual environment; the Rust tests never need
them:

  python3 -m venv ~/.cache/fcnsweep/bench-venv
  ~/.cache/fcnsweep/bench-venv/bin/pip install optuna matplotlib
  cargo build --release
  ~/.cache/fcnsweep/bench-venv/bin/python benches/search_benchmark.py \\
      --bin target/release/fcnsweep --data ../shared/data --out bench-search

The defaults are the issue's full-scale benchmark (all of FashionMNIST's training part, 3 seeds);
`--train-subset`, `--budget-epochs` and `--seeds` make a smaller one.
"""

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SPACE = {
    "optimizer": "{choice: [sgd, adam, rmsprop]}",
    "lr": "{log_uniform: [1.0e-5, 0.3]}",
    "momentum": "{choice: [0.0, 0.9]}",
    "hidden": "{layers: {depth: [1, 4], width: [128, 1024]}}",
    "dropout": "{uniform: [0.0, 0.5]}",
    "init": "{choice: [default, xavier_normal, he_uniform, he_normal]}",
    "norm": "{choice: [none, batch]}",
    "weight_decay": "{choice: [0.0, 1.0e-5, 1.0e-4]}",
    "epochs": "{int_uniform: [EPOCHS_LO, EPOCHS_HI]}",
    "batch_size": "{choice: [32, 64, 128, 256]}",
}

METHODS = ["random", "tpe", "tpe-asha", "optuna"]


def spec(method, seed, args, trials):
    """The YAML of one fcnsweep search."""
    block = "random" if method == "random" else "tpe"
    lines = [
        f"name: bench-{method}-{seed}",
        "dataset: fashion-mnist",
        "seeds: 1",
        f"validation: {args.validation}",
        "include_base: false",
    ]
    if args.train_subset:
        lines.append(f"train_subset: {args.train_subset}")
    if method == "tpe-asha":
        lines.append(f"prune: {{method: asha, min_epochs: 1, reduction_factor: {args.reduction_factor}}}")
    lines += ["search:", f"  - {block}:", f"      trials: {trials}", f"      seed: {seed}", "      params:"]
    for key, dist in SPACE.items():
        dist = dist.replace("EPOCHS_LO", str(args.epochs[0])).replace("EPOCHS_HI", str(args.epochs[1]))
        lines.append(f"        {key}: {dist}")
    return "\n".join(lines) + "\n"


def sweep_points(db, name):
    """(epochs so far, value, pruned) per trial of a sweep in its order, and the epochs
    trained in all (pruned and interrupted trials included)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        """SELECT t.status, t.epochs_trained, t.final_val_acc
           FROM sweep_trials t JOIN sweep_configs sc
             ON sc.sweep_id = t.sweep_id AND sc.config_hash = t.config_hash
           WHERE t.sweep = ? ORDER BY t.finished_at IS NULL, t.finished_at, sc.position""",
        (name,),
    ).fetchall()
    conn.close()
    points, spent = [], 0
    for status, trained, val in rows:
        spent += trained or 0
        if status in ("done", "diverged", "pruned") and val is not None:
            points.append((spent, val, status == "pruned"))
    return points, spent


def trained_epochs(db):
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        n = conn.execute("SELECT coalesce(sum(epochs_trained), 0) FROM trials").fetchone()[0]
        conn.close()
        return n
    except sqlite3.Error:
        return 0


def run_fcnsweep(method, seed, args, work):
    """Runs one fcnsweep search until its budget of epochs; returns (points, wall seconds)."""
    mean_epochs = (args.epochs[0] + args.epochs[1]) / 2
    trials = max(1, round(args.budget_epochs / mean_epochs))
    if method == "tpe-asha":
        trials *= 8  # pruned trials are short: the epoch budget, not the trial count, ends it
    path = work / f"{method}-{seed}.yaml"
    path.write_text(spec(method, seed, args, trials))
    db = work / f"{method}-{seed}.sqlite"
    cmd = [args.bin, "sweep", "run", str(path), "--db", str(db), "-j", str(args.jobs),
           "--data-dir", args.data, "--no-checkpoints", "--keep-weights", "none"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.5)
        if trained_epochs(db) >= args.budget_epochs:
            proc.send_signal(signal.SIGINT)
            proc.wait()
            break
    wall = time.monotonic() - start
    points, _ = sweep_points(db, f"bench-{method}-{seed}")
    return points, wall


def train_flags(params, args):
    flags = ["--dataset", "fashion-mnist", "--validation", str(args.validation)]
    if args.train_subset:
        flags += ["--train-subset", str(args.train_subset)]
    for key, value in params.items():
        if key == "hidden":
            value = ",".join(str(w) for w in value)
        flags += ["--" + key.replace("_", "-"), str(value)]
    return flags


def run_optuna(seed, args, work):
    """Optuna's TPE + successive halving over the same space, driving `fcnsweep train`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spent = [0]
    points = []
    lock = threading.Lock()
    stop = threading.Event()

    def objective(trial):
        if stop.is_set():
            raise optuna.TrialPruned()
        opt = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
        params = {
            "optimizer": opt,
            "lr": float(f"{trial.suggest_float('lr', 1e-5, 0.3, log=True):.3e}"),
            "dropout": round(trial.suggest_float("dropout", 0.0, 0.5), 4),
            "init": trial.suggest_categorical("init", ["default", "xavier_normal", "he_uniform", "he_normal"]),
            "norm": trial.suggest_categorical("norm", ["none", "batch"]),
            "weight_decay": trial.suggest_categorical("weight_decay", [0.0, 1e-5, 1e-4]),
            "epochs": trial.suggest_int("epochs", args.epochs[0], args.epochs[1]),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        }
        if opt in ("sgd", "rmsprop"):
            params["momentum"] = trial.suggest_categorical("momentum", [0.0, 0.9])
        depth = trial.suggest_int("depth", 1, 4)
        widths = [trial.suggest_int(f"width{i}", 128, 1024, log=True) for i in range(depth)]
        params["hidden"] = sorted(widths, reverse=True)
        cmd = [args.bin, "train", "--json", "--seed", "0", "--data-dir", args.data] + train_flags(params, args)
        env = dict(os.environ, RAYON_NUM_THREADS="1")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        last = None
        try:
            for line in proc.stdout:
                m = json.loads(line)
                if "epoch" not in m or "val_acc" not in m:
                    continue
                last = m["val_acc"]
                with lock:
                    spent[0] += 1
                    over = spent[0] >= args.budget_epochs
                trial.report(last, m["epoch"])
                if over:
                    stop.set()
                if trial.should_prune() or over:
                    proc.kill()
                    with lock:
                        points.append((spent[0], last, True))
                    raise optuna.TrialPruned()
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        with lock:
            points.append((spent[0], last, False))
        return last

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=args.reduction_factor),
    )
    start = time.monotonic()
    study.optimize(objective, n_trials=10_000, n_jobs=args.jobs,
                   callbacks=[lambda s, t: s.stop() if stop.is_set() else None])
    wall = time.monotonic() - start
    points.sort()
    return points, wall, optuna.__version__


def summarize(points, budget, targets):
    best, curve, reach = None, [], {t: None for t in targets}
    for spent, value, pruned in points:
        if spent > budget:
            break
        if not pruned and value is not None and (best is None or value > best):
            best = value
            curve.append((spent, best))
            for t in targets:
                if reach[t] is None and best >= t:
                    reach[t] = spent
    return best, curve, reach


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/fcnsweep")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="bench-search")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="search seeds are FIRST .. FIRST+SEEDS-1")
    ap.add_argument("--budget-epochs", type=int, default=400)
    ap.add_argument("--epochs", type=int, nargs=2, default=[10, 20], metavar=("LO", "HI"))
    ap.add_argument("--train-subset", type=int, default=None)
    ap.add_argument("--validation", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reduction-factor", type=int, default=4)
    ap.add_argument("--targets", type=float, nargs="*", default=[0.89, 0.90])
    ap.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fcnsweep-bench-", dir=out))
    results = {m: [] for m in args.methods}
    optuna_version = None
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:
            if method == "optuna":
                points, wall, optuna_version = run_optuna(seed, args, work)
            else:
                points, wall = run_fcnsweep(method, seed, args, work)
            best, curve, reach = summarize(points, args.budget_epochs, args.targets)
            results[method].append({"seed": seed, "best": best, "curve": curve, "reach": reach,
                                    "wall": wall, "points": points})
            reached = "  ".join(f"{t}: {reach[t] if reach[t] is not None else '-'}" for t in args.targets)
            print(f"{method:9s} seed {seed}: best val_acc {best if best is None else f'{best:.4f}'} "
                  f"within {args.budget_epochs} epochs; epochs to reach {reached}; {wall:.0f} s", flush=True)
    print(f"\nmedians over {args.seeds} seeds (budget {args.budget_epochs} epochs; "
          f"train subset {args.train_subset or 'all'}; optuna {optuna_version or 'not run'})")
    print(f"{'method':9s}  {'best val_acc':>12s}  " + "  ".join(f"{'to ' + str(t):>8s}" for t in args.targets) + "  wall s")
    for method, runs in results.items():
        bests = [r["best"] for r in runs if r["best"] is not None]
        cells = []
        for t in args.targets:
            got = [r["reach"][t] for r in runs if r["reach"][t] is not None]
            cells.append(f"{statistics.median(got):>8.0f}" if len(got) * 2 > len(runs) else f"{'-':>8s}")
        print(f"{method:9s}  {statistics.median(bests) if bests else float('nan'):>12.4f}  " + "  ".join(cells)
              + f"  {statistics.median(r['wall'] for r in runs):6.0f}")
    (out / "search-benchmark.json").write_text(json.dumps(
        {"args": vars(args), "optuna": optuna_version, "results": results}, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(9, 5))
        for i, (method, runs) in enumerate(results.items()):
            for j, r in enumerate(runs):
                xs = [0] + [c[0] for c in r["curve"]] + [args.budget_epochs]
                ys = [None] + [c[1] for c in r["curve"]] + ([r["curve"][-1][1]] if r["curve"] else [None])
                ax.step(xs, ys, where="post", color=f"C{i}", alpha=0.8, label=method if j == 0 else None)
        ax.set_xlabel("epochs trained by the search")
        ax.set_ylabel("best validation accuracy so far")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "search-benchmark.png", dpi=120)
        print(f"wrote {out / 'search-benchmark.png'}")
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)


if __name__ == "__main__":
    main()
