#!/usr/bin/env python3
"""PyTorch reference for `fcnsweep bench`: the same networks, data and measurements in torch.

Usage (from the repository root):

    python3 -m venv .venv && .venv/bin/pip install torch numpy && \
        .venv/bin/python crates/model/benches/pytorch_reference.py --threads 2

Options: --epochs N (default 3, as `fcnsweep bench`), --threads N (torch.set_num_threads,
default 2), --data-dir DIR (default $FCNSWEEP_DATA, else ../shared/data; the IDX files are read
from DIR/fashion-mnist/), --train-subset N (first N images of the 50,000-image training part, for
a quick check only), --json (one JSON object instead of the table).

What it measures mirrors crates/search/src/benchmark.rs:

* FashionMNIST from the gzip IDX files (numpy + gzip, no torchvision), pixels / 255 as float32;
  the 60,000 training images split into 10,000 validation (first 10,000 of a fixed permutation,
  numpy seed 0) and 50,000 training images (the rest). The permutation is not the Rust one
  (ChaCha8), so accuracies are comparable, not identical.
* Configurations: baseline 784-500-50-10 ReLU, SGD lr 0.1 at batch 64 and 256; tuned
  784-700-200-50-10, RMSprop lr 1e-4, dropout 0.15, He-uniform (kaiming_uniform_) weights, batch
  64; baseline with BatchNorm1d (Linear -> BN -> ReLU), batch 64. Hyper-parameters other than
  these are torch.optim's defaults, as in the Rust OptimizerConfig::new.
* Each epoch: shuffled mini-batches sliced from preloaded tensors with an index tensor (every
  image once, last batch smaller, a 1-image tail skipped under batch norm as the Rust loop does;
  loss.item() and the correct count per batch as the Rust loop reads them), then a validation pass
  in eval mode under torch.no_grad() with batch 2048. Timed: the whole epoch (training +
  validation) and the validation pass.
* Per configuration: median epoch seconds, eval share (median eval / median epoch), samples/s
  (training images / median epoch), GFLOP/s of the matrix products by the formula of
  crates/model/src/bench.rs epoch_flops, its share of a matmul peak measured here (torch.mm of
  512x512 float32 for about 1 s, best of 10 windows, same threads), peak RSS (ru_maxrss, MB of
  10^6 bytes, of the process so far), and the last epoch's validation accuracy (a sanity column).
"""

import argparse
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

EVAL_BATCH = 2048
VALIDATION = 10_000
CLASSES = 10


def default_data_dir():
    env = os.environ.get("FCNSWEEP_DATA")
    return Path(env) if env else Path("../shared/data")


def read_idx(path):
    """An IDX file (gzip) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} values, header says {shape}")
    return data.reshape(shape)


def load_dataset(data_dir, name="fashion-mnist"):
    """(train images, train labels, test images, test labels) of DIR/NAME/*.gz: pixels / 255 as
    float32 rows of 784, labels int64."""
    folder = Path(data_dir) / name
    images = lambda f: (lambda a: a.reshape(a.shape[0], -1).astype(np.float32)
                        / np.float32(255.0))(read_idx(folder / f))
    labels = lambda f: read_idx(folder / f).astype(np.int64)
    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def load_fashion(data_dir):
    # The test files are decoded too (as `fcnsweep bench` does), though not used.
    x, y, _, _ = load_dataset(data_dir, "fashion-mnist")
    return x, y


def split(x, y, train_subset):
    order = np.random.RandomState(0).permutation(x.shape[0])
    val, train = order[:VALIDATION], order[VALIDATION:]
    if train_subset is not None:
        if not 0 < train_subset <= train.size:
            raise SystemExit(f"--train-subset must be in 1..={train.size}")
        train = train[:train_subset]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    return t(x[train]), t(y[train]), t(x[val]), t(y[val])


def bench_configs():
    """(name, hidden, optimizer, lr, dropout, he_uniform, batch_norm, batch) as benchmark.rs."""
    return [
        ("baseline 500-50 sgd", [500, 50], "sgd", 0.1, 0.0, False, False, 64),
        ("baseline 500-50 sgd", [500, 50], "sgd", 0.1, 0.0, False, False, 256),
        ("tuned 700-200-50 rmsprop dropout", [700, 200, 50], "rmsprop", 1e-4, 0.15, True, False, 64),
        ("baseline + batch norm", [500, 50], "sgd", 0.1, 0.0, False, True, 64),
    ]


def build(inputs, hidden, dropout, init="default", batch_norm=False, init_std=0.1):
    """Linear -> [BatchNorm1d] -> ReLU -> [Dropout] per hidden layer, then Linear to 10 logits.

    `init` names the weight initializer of every linear layer as crates/model/src/init.rs:
    default (nn.Linear's own U(+-1/sqrt(fan_in))), normal (N(0, init_std^2)), xavier_normal,
    xavier_uniform, he_uniform / he_normal (kaiming_*_ with a=0, fan_in, ReLU gain sqrt 2).
    Biases keep nn.Linear's U(+-1/sqrt(fan_in)) whatever the initializer, as init.rs.
    """
    layers = []
    width = inputs
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))  # eps 1e-5, momentum 0.1: as fused/mod.rs
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, CLASSES))
    net = nn.Sequential(*layers)
    initializers = {
        "default": None,
        "normal": lambda w: nn.init.normal_(w, 0.0, init_std),
        "xavier_normal": nn.init.xavier_normal_,
        "xavier_uniform": nn.init.xavier_uniform_,
        "he_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    }
    if init not in initializers:
        raise ValueError(f"unknown init {init!r}")
    if initializers[init] is not None:
        for m in net.modules():
            if isinstance(m, nn.Linear):
                initializers[init](m.weight)
    return net


def epoch_flops(inputs, hidden, train_samples, eval_samples):
    """crates/model/src/bench.rs epoch_flops: train*(2M + 2M + 2(M - M1)) + eval*2M."""
    widths = [inputs] + list(hidden) + [CLASSES]
    macs = [float(a * b) for a, b in zip(widths, widths[1:])]
    forward = sum(macs)
    dx = sum(macs[1:])
    return train_samples * 2.0 * (2.0 * forward + dx) + eval_samples * 2.0 * forward


def matmul_peak_gflops(size=512, duration=1.0):
    """Best of ten ~duration/10 windows of repeated size^3 torch.mm products, GFLOP/s."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=g) - 0.5
    b = torch.rand(size, size, generator=g) - 0.5
    c = torch.empty(size, size)
    torch.mm(a, b, out=c)  # warm-up
    flops = 2.0 * size ** 3
    window = duration / 10
    best = 0.0
    for _ in range(10):
        start = time.perf_counter()
        reps = 0
        while reps == 0 or time.perf_counter() - start < window:
            torch.mm(a, b, out=c)
            reps += 1
        best = max(best, flops * reps / (time.perf_counter() - start) / 1e9)
    return best


def peak_rss_mb():
    # ru_maxrss is in KiB on Linux (bytes on macOS); MB of 10^6 bytes as `fcnsweep bench`.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1e6 if sys.platform == "darwin" else rss * 1024 / 1e6


def train_epoch(net, opt, loss_fn, xt, yt, batch, batch_norm, shuffle):
    """One training epoch as the loop of crates/model/src/train.rs.

    Shuffled mini-batches sliced from preloaded tensors with an index tensor (every image once,
    the last batch smaller; a 1-image tail is skipped under batch norm, which cannot normalize
    one sample). The loss is read per batch (loss.item()); a batch whose loss is not finite
    gets no update, counts in the loss mean and ends the epoch, and the run is diverged.
    Returns {train_loss: mean of the batch losses, train_acc: correct / images trained on,
    diverged}.
    """
    net.train()
    n = xt.shape[0]
    order = torch.randperm(n, generator=shuffle)
    loss_sum, batches, correct, seen, diverged = 0.0, 0, 0, 0, False
    for i in range(0, n, batch):
        idx = order[i:i + batch]
        if batch_norm and idx.numel() == 1:
            continue  # BatchNorm1d cannot train on one sample; the Rust loop skips it too
        xb, yb = xt[idx], yt[idx]
        logits = net(xb)
        loss = loss_fn(logits, yb)
        value = loss.item()
        loss_sum += value
        batches += 1
        if not math.isfinite(value):
            diverged = True
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += (logits.detach().argmax(1) == yb).sum().item()
        seen += idx.numel()
    return {"train_loss": loss_sum / max(batches, 1), "train_acc": correct / max(seen, 1),
            "diverged": diverged}


def evaluate(net, x, y, loss_fn):
    net.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], EVAL_BATCH):
            xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
            logits = net(xb)
            loss_sum += loss_fn(logits, yb).item() * xb.shape[0]
            correct += (logits.argmax(1) == yb).sum().item()
    return loss_sum / x.shape[0], correct / x.shape[0]


def run_config(cfg, data, epochs, seed=0):
    name, hidden, opt_name, lr, dropout, he_uniform, batch_norm, batch = cfg
    xt, yt, xv, yv = data
    torch.manual_seed(seed)
    net = build(xt.shape[1], hidden, dropout, "he_uniform" if he_uniform else "default",
                batch_norm)
    if opt_name == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=lr)
    else:
        opt = torch.optim.RMSprop(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed + 1)
    n = xt.shape[0]
    epoch_s, eval_s, val_acc = [], [], float("nan")
    for _ in range(epochs):
        start = time.perf_counter()
        train_epoch(net, opt, loss_fn, xt, yt, batch, batch_norm, shuffle)
        eval_start = time.perf_counter()
        _, val_acc = evaluate(net, xv, yv, loss_fn)
        end = time.perf_counter()
        epoch_s.append(end - start)
        eval_s.append(end - eval_start)
    return statistics.median(epoch_s), statistics.median(eval_s), val_acc


def render(headers, rows):
    """The text table of crates/search/src/table.rs: left-aligned columns two spaces apart."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(max(1, args.threads))
    epochs = max(1, args.epochs)
    log = lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    x, y = load_fashion(args.data_dir)
    load_seconds = time.perf_counter() - start
    data = split(x, y, args.train_subset)
    del x, y
    train_len, val_len = data[0].shape[0], data[2].shape[0]
    threads = torch.get_num_threads()
    log(f"measuring the matrix-multiply peak on {threads} threads")
    peak = matmul_peak_gflops()

    configs = []
    for cfg in bench_configs():
        name, hidden, batch = cfg[0], cfg[1], cfg[7]
        log(f"{name}, batch {batch}: {epochs} epochs")
        epoch_seconds, eval_seconds, val_acc = run_config(cfg, data, epochs)
        gflops = epoch_flops(data[0].shape[1], hidden, train_len, val_len) / epoch_seconds / 1e9
        configs.append({
            "name": name,
            "batch_size": batch,
            "epoch_seconds": epoch_seconds,
            "eval_seconds": eval_seconds,
            "samples_per_second": train_len / epoch_seconds,
            "gflops": gflops,
            "peak_share": gflops / peak,
            "peak_rss_mb": peak_rss_mb(),
            "val_acc": val_acc,
        })

    report = {
        "dataset": "fashion-mnist",
        "engine": f"pytorch {torch.__version__}",
        "torch_version": torch.__version__,
        "load_seconds": load_seconds,
        "threads": threads,
        "peak_gflops": peak,
        "epochs": epochs,
        "train_samples": train_len,
        "val_samples": val_len,
        "configs": configs,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"fashion-mnist (torch {torch.__version__}): decode {load_seconds:.2f} s; "
          f"matrix-multiply peak {peak:.1f} GFLOP/s on {threads} threads; "
          f"{epochs} epochs, {train_len} train / {val_len} validation images")
    headers = ["configuration", "batch", "epoch_s", "eval_share", "samples/s", "GFLOP/s",
               "of_peak", "peak_rss_MB", "val_acc"]
    rows = [[
        c["name"],
        str(c["batch_size"]),
        f"{c['epoch_seconds']:.2f}",
        f"{100 * c['eval_seconds'] / c['epoch_seconds']:.1f}%",
        f"{c['samples_per_second']:.0f}",
        f"{c['gflops']:.1f}",
        f"{100 * c['peak_share']:.0f}%",
        f"{c['peak_rss_mb']:.0f}",
        f"{c['val_acc']:.4f}",
    ] for c in configs]
    print(render(headers, rows))


if __name__ == "__main__":
    main()
