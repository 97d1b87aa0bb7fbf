#!/usr/bin/env python3
"""An exported fcnsweep network is a PyTorch nn.Sequential state dict.

Trains a small network with `fcnsweep train --save`, reads the safetensors file with nothing
but numpy (the format is an 8-byte header length, a JSON header, then raw little-endian
tensors), runs an evaluation-mode forward pass written here from PyTorch's definitions of
Linear, BatchNorm1d and ReLU, and checks that it classifies the test set exactly as fcnsweep
measured. Where torch is installed, the file is also loaded with `load_state_dict(strict=True)`
into the equivalent nn.Sequential and evaluated the same way.

    python3 tests/python/check_export.py --bin target/debug/fcnsweep --data ../shared/data
"""

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n :]
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return tensors, json.loads(meta["fcnsweep"])


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    dims = [struct.unpack(">I", data[4 + 4 * i : 8 + 4 * i])[0] for i in range(magic & 0xFF)]
    return np.frombuffer(data[4 + 4 * len(dims) :], dtype=np.uint8).reshape(dims)


def sequential_forward(tensors, x):
    """Eval-mode nn.Sequential: BatchNorm1d where running stats exist, Linear where a 2-D
    weight exists, ReLU (or Dropout, the identity in eval mode after a ReLU) elsewhere."""
    last = max(int(k.split(".")[0]) for k in tensors)
    h = x.astype(np.float64)
    for i in range(last + 1):
        if f"{i}.running_mean" in tensors:
            m, v = tensors[f"{i}.running_mean"], tensors[f"{i}.running_var"]
            h = (h - m) / np.sqrt(v + 1e-5) * tensors[f"{i}.weight"] + tensors[f"{i}.bias"]
        elif f"{i}.weight" in tensors:
            h = h @ tensors[f"{i}.weight"].T.astype(np.float64) + tensors[f"{i}.bias"]
        else:
            h = np.maximum(h, 0.0)
    return h


def torch_accuracy(path, info, x, y):
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    model = info["model"]
    layers, fan_in = [], info["inputs"]
    for width in model["hidden"]:
        layers.append(nn.Linear(fan_in, width))
        if model["norm"] == "batch":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if model["dropout"] > 0:
            layers.append(nn.Dropout(model["dropout"]))
        fan_in = width
    layers.append(nn.Linear(fan_in, info["classes"]))
    net = nn.Sequential(*layers)
    tensors, _ = read_safetensors(path)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(x))
    return float((logits.argmax(1).numpy() == y).mean())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--data", required=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.safetensors")
        out = subprocess.run(
            [args.bin, "train", "--hidden", "48,24", "--norm", "batch", "--dropout", "0.1",
             "--standardize", "--epochs", "1", "--train-subset", "3000", "--json",
             "--save", path, "--data-dir", args.data],
            check=True, capture_output=True, text=True,
        )
        test_acc = json.loads(out.stdout.strip().splitlines()[-1])["test_acc"]
        tensors, info = read_safetensors(path)
        images = read_idx(os.path.join(args.data, "fashion-mnist", "t10k-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(args.data, "fashion-mnist", "t10k-labels-idx1-ubyte.gz"))
        x = images.reshape(len(images), -1).astype(np.float32) / 255.0
        if info["normalization"] is not None:
            mean, std = info["normalization"]
            x = (x - np.float32(mean)) / np.float32(std)
        acc = float((sequential_forward(tensors, x).argmax(1) == labels).mean())
        print(f"fcnsweep test accuracy {test_acc:.4f}; numpy forward pass of the exported file {acc:.4f}")
        ok = abs(acc - test_acc) <= 2e-4  # float64 here vs float32 there: at most a tie or two
        t = torch_accuracy(path, info, x, labels)
        if t is not None:
            print(f"torch nn.Sequential.load_state_dict(strict=True) of the file: {t:.4f}")
            ok = ok and abs(t - test_acc) <= 2e-4
        if not ok:
            sys.exit("the exported network does not reproduce fcnsweep's test accuracy")


if __name__ == "__main__":
    main()
