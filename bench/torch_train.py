"""The plain PyTorch training loop that `chainrule train` is compared with, end to end.

Reads Fashion-MNIST's four IDX files (gzipped, as Debian's `dataset-fashion-mnist` installs them)
and trains, as `chainrule train --data fashion-mnist` does: the 60,000 training images shuffled
each epoch, mini-batches, one optimizer step each, and the test accuracy on the official 10,000
after every epoch. The inputs are standardised once before training, as chainrule does (each
pixel for the MLP, the one channel for the CNN). The time printed covers the epochs only (as
chainrule's `seconds`), not reading the files.

    python bench/torch_train.py mlp     # 784-256-128-10 ReLU, Adam 1e-3, batch 64, 10 epochs
    python bench/torch_train.py cnn     # the network of `--model cnn`, with its default settings
    python bench/torch_train.py cnn --epochs 1 --json

`--json` prints {"model", "seconds", "test_accuracy", "epochs"}.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder):
    part = lambda p, w: idx(os.path.join(folder, f"{p}-{w}.gz"))  # noqa: E731
    xs = [part(p, "images-idx3-ubyte").astype(np.float32) / 255.0 for p in ("train", "t10k")]
    ys = [part(p, "labels-idx1-ubyte").astype(np.int64) for p in ("train", "t10k")]
    return xs[0], ys[0], xs[1], ys[1]


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def cnn():
    """`--model cnn` on 1x28x28 images: c32bn-p2-c64bn-p2-f128-d0.3-10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


# The settings of each model: chainrule's defaults for it.
SETTINGS = {
    "mlp": dict(build=mlp, epochs=10, batch=64, lr=1e-3, schedule="none", warmup=0),
    "cnn": dict(build=cnn, epochs=10, batch=128, lr=2e-3, schedule="cosine", warmup=100),
}


def lr_at(step, total, base, schedule, warmup):
    """chainrule's schedule per step: linear warm-up, then cosine to 0 (or constant)."""
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "cosine":
        return base * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))) / 2
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(SETTINGS))
    ap.add_argument("--data-dir", default=DATA)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    s = SETTINGS[args.model]
    epochs = args.epochs or s["epochs"]
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load(args.data_dir)
    if args.model == "mlp":
        xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
        mean, std = xtr.mean(0), xtr.std(0)
        std[std == 0] = 1
    else:
        xtr, xte = xtr[:, None], xte[:, None]
        mean, std = xtr.mean(), xtr.std()
    xtr, xte = torch.from_numpy((xtr - mean) / std), torch.from_numpy((xte - mean) / std)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)
    model = s["build"]()
    opt = torch.optim.Adam(model.parameters(), lr=s["lr"])
    steps_per_epoch = math.ceil(len(xtr) / s["batch"])
    total = steps_per_epoch * epochs
    step = 0
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), s["batch"]):
            idx_ = perm[i: i + s["batch"]]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, s["lr"], s["schedule"], s["warmup"])
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xtr[idx_]), ytr[idx_]).backward()
            opt.step()
            step += 1
        model.eval()
        right = 0
        with torch.no_grad():
            for i in range(0, len(xte), 1000):
                right += (model(xte[i: i + 1000]).argmax(1) == yte[i: i + 1000]).sum().item()
        acc = right / len(xte)
        if not args.json:
            print(f"epoch {epoch + 1}/{epochs}  test acc {acc:.4f}  "
                  f"[{time.perf_counter() - start:.1f} s]", file=sys.stderr)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"model": args.model, "seconds": seconds, "test_accuracy": acc,
                          "epochs": epochs}))
    else:
        print(f"{args.model}: {epochs} epochs in {seconds:.2f} s; test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
