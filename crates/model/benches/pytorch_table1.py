#!/usr/bin/env python3
"""PyTorch equivalence check: train in torch exactly the configurations a fcnsweep sweep stored.

Usage (from the repository root, after `fcnsweep sweep run FILE --db DB` has registered the sweep):

    python3 -m venv /work/venv && /work/venv/bin/pip install torch numpy && \\
        /work/venv/bin/python crates/model/benches/pytorch_table1.py \\
            --db DB --sweep fashion-table1 --seeds 5 --threads 1 \\
            --out docs/results/torch-fashion-table1.jsonl

Options: --db FILE (fcnsweep's SQLite database; default $FCNSWEEP_DB, else db/fcnsweep.sqlite),
--sweep NAME, --seeds N (seeds 0..N-1, default 5, at least 3), --threads N (torch.set_num_threads,
default 1), --data-dir DIR (default $FCNSWEEP_DATA, else ../shared/data; the IDX files are read
from DIR/<dataset>/), --dataset NAME (optional: must equal the sweep's dataset), --out FILE.jsonl,
--report (print the comparison only, train nothing), --format table|markdown, --shard K/N (train
only every N-th run of the to-do list from the K-th: N processes on N cores share one --out file),
--config HASH (only the configurations whose hash starts with HASH; repeatable), --split
numpy|fcnsweep (see below).

The configurations are read from the database (tables sweeps, sweep_configs, configs; `params` is
the canonical JSON of crates/model/src/config.rs RunConfig: {model, optimizer, train}), so the
torch runs use the same configurations by construction. Every run is one JSON line of --out,
written and flushed when it ends:

    {"config_hash", "seed", "test_acc", "test_loss", "final_train_loss", "final_val_loss",
     "final_val_acc", "seconds", "diverged", "epochs": [{"epoch", "train_loss", "train_acc",
     "val_loss", "val_acc", "seconds"}, ...], "framework": "torch <version>"}

A rerun skips the (config_hash, seed) pairs already in --out, so a killed run loses at most the
run in progress. Seeds go in the outer loop: every configuration gets seed 0 before any gets
seed 1, so a run stopped early still covers every row.

What is matched to fcnsweep (crates/model/src/train.rs, fused/, crates/data/src/split.rs):

* Data: the gzip IDX files, pixels / 255 as float32 (standardized with the training part's
  scalar mean and population SD when the config says so); the 60,000 training images split
  into `validation` held-out images (the first ones of a permutation seeded by `split_seed`) and
  the rest for training (`train_subset` keeps the first N of those); test on the official
  10,000. By default (--split numpy) the permutation is numpy's RandomState(split_seed): the
  same sizes, other images. --split fcnsweep uses fcnsweep's own ChaCha8 permutation
  (fcnsweep_split.py): the same images.
* Network: Linear -> [BatchNorm1d(eps 1e-5, momentum 0.1)] -> ReLU -> [Dropout(p)] per hidden
  layer, Linear to 10 logits, mean cross-entropy (pytorch_reference.build); initializers as
  init.rs, biases left at nn.Linear's default.
* Optimizer: torch.optim.SGD / Adam / RMSprop with the stored lr, momentum, weight_decay,
  nesterov, betas, alpha, eps and centered (dampening 0, amsgrad off, as the Rust code).
* Schedule: the lr of epoch e (0-based) is set before its first batch: constant, cosine
  lr*(1+cos(pi*e/epochs))/2 (CosineAnnealingLR(T_max=epochs) stepped per epoch) or step
  lr*gamma^floor(e/step_size) (StepLR), as config.rs lr_factor.
* Epoch (pytorch_reference.train_epoch): a fresh shuffle each epoch, every image once, the last
  batch smaller, a 1-image tail skipped under batch norm; train_loss is the mean of the batch
  losses, train_acc the correct fraction of the images trained on; a non-finite batch loss
  stops the run as `diverged` (no update from that batch), its epoch still evaluated, then test.
* Evaluation: eval mode, no_grad, batches of 2048, loss averaged per image.
* Seeding: torch.manual_seed(seed) for the weights and dropout masks; the shuffles come from a
  torch.Generator seeded with SHUFFLE_SEED_OFFSET + seed. No bit equality with fcnsweep is
  expected (different RNGs), only the same distribution of outcomes.

The comparison (printed at the end, or alone with --report) has one row per configuration:
PyTorch mean ± sample SD (n) of the test accuracy, fcnsweep's from the same database's trials
(status done or diverged, superseded = 0, the sweep's seeds), the difference PyTorch − fcnsweep,
Welch's two-sided p-value and a flag when |difference| > 1.5 points. Welch's test is implemented
here (welch_p): t = Δ / sqrt(s1²/n1 + s2²/n2), Welch–Satterthwaite degrees of freedom, and the
Student-t tail from the regularized incomplete beta function, p = I_{df/(df+t²)}(df/2, 1/2)
(Lentz's continued fraction, Numerical Recipes §6.4); both SDs zero gives p = 1 for equal means
and 0 otherwise, as crates/search/src/stats.rs. It matches scipy.stats.ttest_ind(equal_var=False).
"""

import argparse
import json
import math
import os
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fcnsweep_split  # noqa: E402
import pytorch_reference as ref  # noqa: E402  (also imports torch)

import torch  # noqa: E402
from torch import nn  # noqa: E402

SHUFFLE_SEED_OFFSET = 1 << 32
FLAG_POINTS = 0.015  # |Δ| above this (1.5 points of accuracy) is flagged
MIN_STD = 1e-6  # crates/data/src/split.rs: a smaller training SD standardizes with 1


# ---------------------------------------------------------------------------------------------
# Statistics


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return min(1.0, betainc(df / 2.0, 0.5, df / (df + t * t)))


def t_quantile(p, df):
    """Quantile p (> 0.5) of Student's t by bisection on t_two_sided_p."""
    target = 2.0 * (1.0 - p)
    lo, hi = 0.0, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mean_sd(xs):
    n = len(xs)
    if n == 0:
        return None, None
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else None
    return m, sd


def welch_p(a, b):
    """Welch's two-sided p-value of mean(a) == mean(b); None with fewer than 2 values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    wa, wb = sa * sa / len(a), sb * sb / len(b)
    se2 = wa + wb
    if se2 == 0.0:
        return 1.0 if ma == mb else 0.0
    t = (ma - mb) / math.sqrt(se2)
    df = se2 * se2 / (wa * wa / (len(a) - 1) + wb * wb / (len(b) - 1))
    return t_two_sided_p(t, df)


# ---------------------------------------------------------------------------------------------
# The database


def connect(db):
    if not Path(db).exists():
        raise SystemExit(f"{db}: no such database")
    con = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True, timeout=30)
    con.row_factory = sqlite3.Row
    return con


def sweep_configs(con, sweep):
    """(dataset, [(hash, params dict, baseline flag)] in spec order, seeds) of a stored sweep."""
    row = con.execute("SELECT id, dataset FROM sweeps WHERE name = ?", (sweep,)).fetchone()
    if row is None:
        names = [r[0] for r in con.execute("SELECT name FROM sweeps ORDER BY name")]
        raise SystemExit(f"no sweep {sweep!r} in the database (it has: {', '.join(names)})")
    configs = [
        (r["hash"], json.loads(r["params"]), bool(r["baseline"]))
        for r in con.execute(
            "SELECT c.hash, c.params, sc.baseline FROM sweep_configs sc "
            "JOIN configs c ON c.hash = sc.config_hash WHERE sc.sweep_id = ? "
            "ORDER BY sc.position", (row["id"],))
    ]
    seeds = [r[0] for r in con.execute(
        "SELECT seed FROM sweep_seeds WHERE sweep_id = ? ORDER BY seed", (row["id"],))]
    return row["dataset"], configs, seeds


def fcnsweep_results(con, sweep):
    """{config_hash: [test_acc per seed]} of the sweep's current finished trials."""
    out = {}
    for r in con.execute(
            "SELECT t.config_hash, t.seed, t.test_acc FROM trials t "
            "JOIN sweep_configs sc ON sc.config_hash = t.config_hash "
            "JOIN sweeps s ON s.id = sc.sweep_id "
            "JOIN sweep_seeds ss ON ss.sweep_id = s.id AND ss.seed = t.seed "
            "WHERE s.name = ? AND t.status IN ('done', 'diverged') AND t.superseded = 0 "
            "ORDER BY t.seed", (sweep,)):
        out.setdefault(r["config_hash"], []).append(r["test_acc"])
    return out


def describe(params, base):
    """A short row label: the settings that differ from the sweep's baseline."""
    m, o, t = params["model"], params["optimizer"], params["train"]
    if base is None or params == base:
        label = f"{'-'.join(map(str, m['hidden']))} {o['kind']} lr {o['lr']:g}"
        return label + (" (baseline)" if base is not None else "")
    bm, bo, bt = base["model"], base["optimizer"], base["train"]
    parts = []
    if m["hidden"] != bm["hidden"]:
        parts.append("-".join(map(str, m["hidden"])))
    if o["kind"] != bo["kind"] or o["lr"] != bo["lr"]:
        parts.append(f"{o['kind']} lr {o['lr']:g}")
    for key in ("momentum", "weight_decay", "nesterov", "eps", "alpha", "centered", "betas"):
        if o.get(key) != bo.get(key) and o["kind"] == bo["kind"]:
            parts.append(f"{key} {o.get(key)}")
    if m["dropout"] != bm["dropout"]:
        parts.append(f"dropout {m['dropout']:g}")
    if m["init"] != bm["init"]:
        parts.append(f"init {m['init']}" + (f" {m['init_std']:g}" if m["init"] == "normal" else ""))
    if m["norm"] != bm["norm"]:
        parts.append(f"norm {m['norm']}")
    for key in sorted(set(t) | set(bt)):
        if t.get(key) != bt.get(key):
            parts.append(f"{key} {t.get(key)}")
    return ", ".join(parts) if parts else "same as baseline"


# ---------------------------------------------------------------------------------------------
# Training


def make_split(data, train_cfg, method="numpy"):
    """Training, validation and test tensors of one configuration (see the module doc)."""
    x, y, xtest, ytest = data
    validation = train_cfg["validation"]
    if method == "fcnsweep":
        train, val = (np.array(a, dtype=np.int64) for a in fcnsweep_split.split_indices(
            x.shape[0], validation, train_cfg["split_seed"]))
    else:
        order = np.random.RandomState(train_cfg["split_seed"]).permutation(x.shape[0])
        val, train = order[:validation], order[validation:]
    if train_cfg.get("train_subset") is not None:
        train = train[:train_cfg["train_subset"]]
    xt, xv, xs = x[train], x[val], xtest
    if train_cfg.get("standardize"):
        mean, std = float(xt.astype(np.float64).mean()), float(xt.astype(np.float64).std())
        std = 1.0 if std < MIN_STD else std
        xt, xv, xs = [((a - np.float32(mean)) / np.float32(std)).astype(np.float32)
                      for a in (xt, xv, xs)]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    return t(xt), t(y[train]), t(xv), t(y[val]), t(xs), t(ytest)


def optimizer(o, params):
    kind = o["kind"]
    if kind == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o["momentum"],
                               weight_decay=o["weight_decay"], nesterov=o["nesterov"])
    if kind == "adam":
        return torch.optim.Adam(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"],
                                weight_decay=o["weight_decay"])
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=o["lr"], alpha=o["alpha"], eps=o["eps"],
                                   weight_decay=o["weight_decay"], momentum=o["momentum"],
                                   centered=o["centered"])
    raise ValueError(f"unknown optimizer {kind!r}")


def lr_factor(t, epoch):
    """config.rs TrainConfig::lr_factor for the 1-based epoch."""
    e = epoch - 1
    schedule = t.get("lr_schedule", "constant")
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return (1.0 + math.cos(math.pi * e / t["epochs"])) / 2.0
    if schedule == "step":
        return t.get("lr_gamma", 0.1) ** (e // max(1, t.get("lr_step_size", 10)))
    raise ValueError(f"unknown lr_schedule {schedule!r}")


def run_one(params, split, seed):
    m, o, t = params["model"], params["optimizer"], params["train"]
    xt, yt, xv, yv, xs, ys = split
    started = time.perf_counter()
    torch.manual_seed(seed)
    batch_norm = m["norm"] == "batch"
    net = ref.build(xt.shape[1], m["hidden"], m["dropout"], m["init"], batch_norm, m["init_std"])
    opt = optimizer(o, net.parameters())
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(SHUFFLE_SEED_OFFSET + seed)
    epochs, diverged = [], False
    for epoch in range(1, t["epochs"] + 1):
        epoch_start = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = o["lr"] * lr_factor(t, epoch)
        stats = ref.train_epoch(net, opt, loss_fn, xt, yt, t["batch_size"], batch_norm, shuffle)
        val_loss, val_acc = ref.evaluate(net, xv, yv, loss_fn) if xv.shape[0] else (None, None)
        epochs.append({"epoch": epoch, "train_loss": stats["train_loss"],
                       "train_acc": stats["train_acc"], "val_loss": val_loss, "val_acc": val_acc,
                       "seconds": time.perf_counter() - epoch_start})
        if stats["diverged"]:
            diverged = True
            break
    test_loss, test_acc = ref.evaluate(net, xs, ys, loss_fn)
    last = epochs[-1]
    return {"test_acc": test_acc, "test_loss": test_loss,
            "final_train_loss": last["train_loss"], "final_val_loss": last["val_loss"],
            "final_val_acc": last["val_acc"], "seconds": time.perf_counter() - started,
            "diverged": diverged, "epochs": epochs}


def read_results(path):
    """The valid lines of a JSONL output; a half-written last line is cut off the file."""
    results = []
    if not path.exists():
        return results
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        print(f"{path}: dropping a half-written last line", file=sys.stderr)
        with open(path, "r+b") as f:
            f.truncate(cut)
        raw = raw[:cut]
    seen = set()
    for line in raw.decode().splitlines():
        if line.strip():
            r = json.loads(line)
            if (r["config_hash"], r["seed"]) not in seen:  # first record of a pair wins
                seen.add((r["config_hash"], r["seed"]))
                results.append(r)
    return results


def nan_to_none(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [nan_to_none(v) for v in x]
    return x


# ---------------------------------------------------------------------------------------------
# Report


def fmt_ms(xs):
    m, sd = mean_sd(xs)
    if m is None:
        return "–"
    return f"{m:.4f} ± {sd:.4f}" if sd is not None else f"{m:.4f}"


def report(configs, torch_runs, fcn, fmt, seeds):
    base = next((p for _, p, b in configs if b), None)
    by_hash = {}
    for r in torch_runs:
        if r["seed"] in seeds:
            by_hash.setdefault(r["config_hash"], []).append(r["test_acc"])
    headers = ["configuration", "hash", "PyTorch", "n", "fcnsweep", "n", "Δ (torch − fcnsweep)",
               "Welch p", "flag"]
    rows = []
    for h, params, _ in configs:
        a, b = by_hash.get(h, []), fcn.get(h, [])
        ma, mb = mean_sd(a)[0], mean_sd(b)[0]
        diff = ma - mb if ma is not None and mb is not None else None
        p = welch_p(a, b)
        rows.append([
            describe(params, base), h[:10], fmt_ms(a), str(len(a)), fmt_ms(b), str(len(b)),
            f"{diff:+.4f}" if diff is not None else "–",
            ("–" if p is None else f"{p:.2g}" if p < 0.01 else f"{p:.2f}"),
            "> 1.5 points" if diff is not None and abs(diff) > FLAG_POINTS else "",
        ])
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
        lines += ["| " + " | ".join(c or " " for c in r) + " |" for r in rows]
        return "\n".join(lines)
    return ref.render(headers, rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path,
                   default=Path(os.environ.get("FCNSWEEP_DB", "db/fcnsweep.sqlite")))
    p.add_argument("--sweep", required=True)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=ref.default_data_dir())
    p.add_argument("--dataset", default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--report", action="store_true", help="print the comparison, train nothing")
    p.add_argument("--format", choices=["table", "markdown"], default="table")
    p.add_argument("--split", choices=["numpy", "fcnsweep"], default="numpy",
                   help="numpy: a RandomState(split_seed) permutation (same sizes, other images); "
                        "fcnsweep: fcnsweep's own ChaCha8 permutation (fcnsweep_split.py), the "
                        "same images")
    p.add_argument("--config", action="append", default=[], metavar="HASH",
                   help="only the configurations whose hash starts with HASH (repeatable)")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="train only the runs whose index in the to-do list is K modulo N, so N "
                        "processes can share one --out file (default 0/1: every run)")
    args = p.parse_args()
    try:
        shard, shards = (int(v) for v in args.shard.split("/"))
        assert 0 <= shard < shards
    except (ValueError, AssertionError):
        raise SystemExit(f"--shard {args.shard}: expected K/N with 0 <= K < N")
    if args.seeds < 3:
        raise SystemExit("--seeds must be at least 3 (a spread needs several seeds)")
    out = args.out or Path(f"torch-{args.sweep}.jsonl")
    log = lambda msg: print(f"pytorch_table1: {msg}", file=sys.stderr, flush=True)
    torch.set_num_threads(max(1, args.threads))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    framework = f"torch {torch.__version__}"

    con = connect(args.db)
    dataset, configs, _ = sweep_configs(con, args.sweep)
    if args.config:
        configs = [c for c in configs if any(c[0].startswith(h) for h in args.config)]
        if not configs:
            raise SystemExit(f"no configuration of {args.sweep} matches {args.config}")
    if args.dataset is not None and args.dataset != dataset:
        raise SystemExit(f"sweep {args.sweep} is on {dataset}, not {args.dataset}")
    seeds = list(range(args.seeds))
    done = read_results(out)
    have = {(r["config_hash"], r["seed"]) for r in done}
    todo = [(s, h, params) for s in seeds for h, params, _ in configs if (h, s) not in have]
    todo = todo[shard::shards]
    log(f"sweep {args.sweep} on {dataset}: {len(configs)} configurations x {len(seeds)} seeds, "
        f"{len(todo)} runs to do ({framework}, {torch.get_num_threads()} threads)")

    if todo and not args.report:
        data = ref.load_dataset(args.data_dir, dataset)
        splits = {}
        out.parent.mkdir(parents=True, exist_ok=True)
        # One os.write per record on an O_APPEND descriptor: lines of processes sharing the
        # file (--shard) do not interleave.
        fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for i, (seed, h, params) in enumerate(todo, 1):
                key = json.dumps(params["train"], sort_keys=True)
                if key not in splits:
                    splits[key] = make_split(data, params["train"], args.split)
                result = run_one(params, splits[key], seed)
                record = {"config_hash": h, "seed": seed, **result, "framework": framework,
                          "split": args.split}
                os.write(fd, (json.dumps(nan_to_none(record)) + "\n").encode())
                os.fsync(fd)
                done.append(record)
                per_epoch = result["seconds"] / max(1, len(result["epochs"]))
                log(f"[{i}/{len(todo)}] {h[:10]} seed {seed}: test {result['test_acc']:.4f}"
                    f"{' (diverged)' if result['diverged'] else ''}, {result['seconds']:.0f} s "
                    f"({per_epoch:.1f} s/epoch)")
        finally:
            os.close(fd)

    fcn = fcnsweep_results(con, args.sweep)
    print(f"{args.sweep} ({dataset}): test accuracy, PyTorch ({framework}) vs fcnsweep, "
          f"mean ± sample SD over seeds; Welch's two-sided p")
    print(report(configs, read_results(out), fcn, args.format, set(seeds)))


if __name__ == "__main__":
    main()
