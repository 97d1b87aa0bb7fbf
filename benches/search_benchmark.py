#!/usr/bin/env python3
"""Adaptive search against random search and Optuna, at the same budget of trial-epochs.

Runs, on the stage-1 space of search-spaces/fashion-random.yaml (one block for every
optimizer), for each search seed:

  random     fcnsweep, a `random` block
  tpe        fcnsweep, a `tpe` block, no pruning
  tpe-asha   fcnsweep, a `tpe` block with `prune: {method: asha}`
  tpe-asha-cost
             the same with `cost_aware: true` (expected improvement per predicted training cost)
  optuna     Optuna's TPESampler with SuccessiveHalvingPruner, driving `fcnsweep train --json`
             as its objective and reading the epochs as they stream, so that it can prune

Every method stops once its trials have trained `--budget-epochs` epochs in all (a sweep is
interrupted with Ctrl-C's signal, its running trials returned to pending; Optuna's running
trials are killed). fcnsweep's `tpe` blocks are also told that budget (`epoch_budget`), so they
stop proposing there and a cost-aware one weighs cost less as the epochs are spent. It prints,
per method and seed, the best validation accuracy reached within the budget, the epochs needed
to reach each `--targets` accuracy and the wall time; then the medians over the seeds; and writes
best-so-far against epochs as a PNG (matplotlib) and the raw points as JSON.

Optuna and matplotlib come from PyPI into a virtual environment; the Rust tests never need
them:

  python3 -m venv ~/.cache/fcnsweep/bench-venv
  ~/.cache/fcnsweep/bench-venv/bin/pip install optuna matplotlib
  cargo build --release
  ~/.cache/fcnsweep/bench-venv/bin/python benches/search_benchmark.py \\
      --bin target/release/fcnsweep --data ../shared/data --out bench-search

The defaults are the issue's full-scale benchmark (all of FashionMNIST's training part, 3 seeds);
`--train-subset`, `--budget-epochs` and `--seeds` make a smaller one. `--first-seed` and
`--methods` run a part of it (the JSON is rewritten after every search, so a run cut short keeps
what it finished), and `--combine A.json B.json ...` reports such parts as one run, with the
issue's three targets checked on the medians: TPE + ASHA reaching random search's final best in
at most a third of the epochs random search needed, its best at least Optuna's, its wall time
below both.
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

METHODS = ["random", "tpe", "tpe-asha", "tpe-asha-cost", "optuna"]

# The methods the targets are checked for: TPE with ASHA, plain and cost-aware.
ASHA_METHODS = ["tpe-asha", "tpe-asha-cost"]


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
    if method in ASHA_METHODS:
        margin = f", margin: {args.margin}" if args.margin else ""
        lines.append(f"prune: {{method: asha, min_epochs: 1, reduction_factor: {args.reduction_factor}{margin}}}")
    lines += ["search:", f"  - {block}:", f"      trials: {trials}", f"      seed: {seed}"]
    if block == "tpe":
        # The search knows the budget that ends it (a cost-aware one weighs cost less as it
        # is spent); the benchmark still stops every method at exactly this many epochs.
        lines.append(f"      epoch_budget: {args.budget_epochs}")
    if method == "tpe-asha-cost":
        lines.append("      cost_aware: true")
    lines.append("      params:")
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


def sweep_trials(db, name):
    """Per trial of a sweep: hidden, batch size, optimizer, epochs trained and training seconds
    (the epochs' own times), for the cost of what a search chose."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = conn.execute(
        """SELECT c.hidden, c.batch_size, c.optimizer, t.status, t.epochs_trained,
                  (SELECT coalesce(sum(e.seconds), 0) FROM epochs e WHERE e.trial_id = t.id)
           FROM sweep_trials t JOIN configs c ON c.hash = t.config_hash
           WHERE t.sweep = ? AND t.epochs_trained > 0 ORDER BY t.id""",
        (name,),
    ).fetchall()
    conn.close()
    return [{"hidden": h, "batch_size": b, "optimizer": o, "status": st, "epochs": n, "seconds": sec}
            for h, b, o, st, n, sec in rows]


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
    if method in ASHA_METHODS:
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
    return points, wall, sweep_trials(db, f"bench-{method}-{seed}")


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
    trials = []
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
        cost = {"hidden": "-".join(str(w) for w in params["hidden"]), "batch_size": params["batch_size"],
                "optimizer": opt, "status": "running", "epochs": 0, "seconds": 0.0}
        with lock:
            trials.append(cost)
        try:
            for line in proc.stdout:
                m = json.loads(line)
                if "epoch" not in m or "val_acc" not in m:
                    continue
                last = m["val_acc"]
                cost["epochs"] += 1
                cost["seconds"] += m.get("seconds", 0.0)
                with lock:
                    spent[0] += 1
                    over = spent[0] >= args.budget_epochs
                trial.report(last, m["epoch"])
                if over:
                    stop.set()
                if trial.should_prune() or over:
                    proc.kill()
                    cost["status"] = "pruned"
                    with lock:
                        points.append((spent[0], last, True))
                    raise optuna.TrialPruned()
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        cost["status"] = "done"
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
    return points, wall, optuna.__version__, trials


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


def reach_of(run, target, budget):
    """Epochs a run needed for its best complete value to reach `target`, or None."""
    for spent, best in run["curve"]:
        if spent <= budget and best >= target:
            return spent
    return None


def print_targets(results, name, random_by_seed, args):
    """Checks the issue's three targets for the TPE + ASHA method `name`, on the medians."""
    print(f"\ntargets for {name} (median over the seeds):")
    ratios, mine_all = [], []
    for r in results[name]:
        rnd = random_by_seed.get(r["seed"])
        if rnd is None or rnd["best"] is None:
            continue
        mine = reach_of(r, rnd["best"], args.budget_epochs)
        theirs = reach_of(rnd, rnd["best"], args.budget_epochs)
        ratio = float("inf") if mine is None else mine / theirs
        ratios.append(ratio)
        mine_all.append(mine)
        got = f"at {mine} epochs ({ratio:.0%} of random's {theirs})" if mine is not None else "never"
        print(f"  seed {r['seed']}: random's best {rnd['best']:.4f}, reached by {name} {got}")
    if ratios:
        m = statistics.median(ratios)
        print(f"  1. {name} epochs to random's final best / random's: median "
              f"{'never' if m == float('inf') else f'{m:.0%}'} "
              f"(target <= 33%): {'met' if m <= 1 / 3 else 'missed'}")
        # The other reading of "a third of its epochs": of the budget random search spent.
        shares = [float("inf") if x is None else x / args.budget_epochs for x in mine_all]
        s = statistics.median(shares)
        print(f"     read against random's whole budget ({args.budget_epochs} epochs): median "
              f"{'never' if s == float('inf') else f'{s:.0%}'}: {'met' if s <= 1 / 3 else 'missed'}")
    if "optuna" in results:
        # A search that completed no trial within the budget counts as the worst.
        mine = statistics.median(r["best"] or 0.0 for r in results[name])
        theirs = statistics.median(r["best"] or 0.0 for r in results["optuna"])
        print(f"  2. best val_acc {name} {mine:.4f} vs optuna {theirs:.4f}: "
              f"{'met' if mine >= theirs else 'missed'}")
        walls = {m: statistics.median(r["wall"] for r in results[m]) for m in (name, "random", "optuna")}
        print(f"  3. wall s {name} {walls[name]:.0f} vs random {walls['random']:.0f}, "
              f"optuna {walls['optuna']:.0f}: "
              f"{'met' if walls[name] < min(walls['random'], walls['optuna']) else 'missed'}")


def report(results, args, optuna_version, out):
    """Prints the medians over the seeds and the issue's three targets, writes the JSON and plot."""
    seeds = sorted({r["seed"] for runs in results.values() for r in runs})
    print(f"\nmedians over {len(seeds)} seeds {seeds} (budget {args.budget_epochs} epochs; "
          f"train subset {args.train_subset or 'all'}; optuna {optuna_version or 'not run'})")
    print(f"{'method':13s}  {'best val_acc':>12s}  " + "  ".join(f"{'to ' + str(t):>8s}" for t in args.targets)
          + f"  {'to rnd best':>11s}  wall s")
    random_by_seed = {r["seed"]: r for r in results.get("random", [])}
    for method, runs in results.items():
        bests = [r["best"] for r in runs if r["best"] is not None]
        cells = []
        for t in args.targets:
            got = [r["reach"][str(t)] if str(t) in r["reach"] else r["reach"].get(t) for r in runs]
            got = [g for g in got if g is not None]
            cells.append(f"{statistics.median(got):>8.0f}" if len(got) * 2 > len(runs) else f"{'-':>8s}")
        to_rnd = [reach_of(r, random_by_seed[r["seed"]]["best"], args.budget_epochs)
                  for r in runs if r["seed"] in random_by_seed and random_by_seed[r["seed"]]["best"] is not None]
        rnd_cell = (f"{statistics.median([x if x is not None else float('inf') for x in to_rnd]):>11.0f}"
                    if to_rnd else f"{'-':>11s}")
        print(f"{method:13s}  {statistics.median(bests) if bests else float('nan'):>12.4f}  " + "  ".join(cells)
              + f"  {rnd_cell}  {statistics.median(r['wall'] for r in runs):6.0f}")
    print("\nwhat the epochs cost (all seeds): training s per trial-epoch, share of epochs at batch 32, "
          "mean width of the first layer per epoch")
    for method, runs in results.items():
        rows = [t for r in runs for t in r.get("trials", [])]
        epochs = sum(t["epochs"] for t in rows)
        if not epochs:
            continue
        secs = sum(t["seconds"] for t in rows)
        small = sum(t["epochs"] for t in rows if t["batch_size"] == 32)
        width = sum(int(str(t["hidden"]).split("-")[0] or 0) * t["epochs"] for t in rows)
        print(f"  {method:13s} {secs / epochs:5.2f} s  {small / epochs:4.0%}  {width / epochs:5.0f}  "
              f"({len(rows)} trials, {epochs} epochs)")
    for name in ASHA_METHODS:
        if "random" in results and name in results:
            print_targets(results, name, random_by_seed, args)
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
        for t in args.targets:
            ax.axhline(t, color="grey", lw=0.5, ls=":")
        finals = [r["best"] for runs in results.values() for r in runs if r["best"] is not None]
        if finals:
            # The end of the race, where the methods differ; early trials fall below the frame.
            ax.set_ylim(min(finals) - 0.02, max(finals + list(args.targets)) + 0.005)
        ax.set_xlabel("epochs trained by the search")
        ax.set_ylabel("best validation accuracy so far")
        ax.set_title(f"FashionMNIST, budget {args.budget_epochs} epochs, seeds {seeds}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "search-benchmark.png", dpi=120)
        print(f"wrote {out / 'search-benchmark.png'}")
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)


def combine(paths, args, out):
    """Merges the results of earlier runs (their search-benchmark.json), later runs winning a
    (method, seed) they share, and reports them as one."""
    results, optuna_version = {}, None
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data["args"]["budget_epochs"] != args.budget_epochs:
            sys.exit(f"error: {path} has a budget of {data['args']['budget_epochs']} epochs, not {args.budget_epochs}")
        optuna_version = data.get("optuna") or optuna_version
        for method, runs in data["results"].items():
            kept = {r["seed"]: r for r in results.get(method, [])}
            kept.update({r["seed"]: r for r in runs})
            results[method] = [kept[s] for s in sorted(kept)]
    ordered = {m: results[m] for m in METHODS if m in results}
    report(ordered, args, optuna_version, out)


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
    ap.add_argument("--margin", type=float, default=0.0,
                    help="fcnsweep's ASHA prunes only trials worse than the cut by more than this "
                         "(Optuna has no such option; 0 is its rule)")
    ap.add_argument("--targets", type=float, nargs="*", default=[0.89, 0.90])
    ap.add_argument("--methods", nargs="*", default=METHODS, choices=METHODS)
    ap.add_argument("--combine", nargs="+", metavar="JSON",
                    help="run nothing: report the search-benchmark.json files of earlier runs as one")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.combine:
        combine(args.combine, args, out)
        return
    work = Path(tempfile.mkdtemp(prefix="fcnsweep-bench-", dir=out))
    results = {m: [] for m in args.methods}
    optuna_version = None
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for method in args.methods:
            if method == "optuna":
                points, wall, optuna_version, trials = run_optuna(seed, args, work)
            else:
                points, wall, trials = run_fcnsweep(method, seed, args, work)
            best, curve, reach = summarize(points, args.budget_epochs, args.targets)
            results[method].append({"seed": seed, "best": best, "curve": curve, "reach": reach,
                                    "wall": wall, "points": points, "trials": trials})
            reached = "  ".join(f"{t}: {reach[t] if reach[t] is not None else '-'}" for t in args.targets)
            print(f"{method:13s} seed {seed}: best val_acc {best if best is None else f'{best:.4f}'} "
                  f"within {args.budget_epochs} epochs; epochs to reach {reached}; {wall:.0f} s", flush=True)
            # Written after every search, so a run cut short keeps what it finished.
            (out / "search-benchmark.json").write_text(json.dumps(
                {"args": vars(args), "optuna": optuna_version, "results": results}, indent=1))
    report(results, args, optuna_version, out)


if __name__ == "__main__":
    main()
