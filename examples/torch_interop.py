#!/usr/bin/env python3
"""Checks that chainrule's model files interoperate with PyTorch.

1. `chainrule train --save` writes a model; PyTorch builds the equivalent `torch.nn.Sequential`
   from the file's metadata, loads the tensors with
   `model.load_state_dict(safetensors.torch.load_file(path))` (strict: same names, same shapes),
   and computes the same outputs and predictions as `chainrule predict`.
2. The other way: PyTorch changes the weights and saves them with `safetensors.torch.save_file`
   (keeping the metadata); `chainrule predict` loads that file and agrees with PyTorch again.

Usage: python examples/torch_interop.py [path/to/chainrule]
(default: target/release/chainrule, then target/debug/chainrule, then chainrule on PATH).
Needs torch and safetensors; exits 0 with a message when they are missing.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import torch
    from torch import nn
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e.name} is not installed (pip install torch safetensors)")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_binary():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for profile in ("release", "debug"):
        path = os.path.join(ROOT, "target", profile, "chainrule")
        if os.path.exists(path):
            return path
    found = shutil.which("chainrule")
    if not found:
        sys.exit("chainrule not found: build it with `cargo build --release` or pass its path")
    return found


def chainrule(*args):
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True)
    return out.stdout


def build(meta):
    """The torch.nn.Sequential that the metadata describes."""
    sizes = [int(s) for s in meta["architecture"].split("-")]
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}[
        meta["activation"]
    ]
    dropout = float(meta.get("dropout", "0"))
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers).eval()


def features(csv_path, target):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0].keys() if c != target]
    x = torch.tensor([[float(r[c]) for c in cols] for r in rows], dtype=torch.float32)
    return x, [r[target] for r in rows]


def torch_outputs(model, meta, x):
    if "standardize_mean" in meta:
        mean = torch.tensor(json.loads(meta["standardize_mean"]))
        std = torch.tensor(json.loads(meta["standardize_std"]))
        x = (x - mean) / std
    with torch.no_grad():
        return model(x)


def compare(path, data, csv_path, target):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    model = build(meta)
    model.load_state_dict(load_file(path))  # strict: every name and shape must match
    x, _ = features(csv_path, target)
    ours = torch_outputs(model, meta, x)
    theirs = json.loads(chainrule("predict", "--model", path, "--data", data, "--json", "--outputs"))
    theirs_out = torch.tensor(theirs["outputs"])
    classes = json.loads(meta["classes"])
    torch_preds = [classes[i] for i in ours.argmax(dim=1).tolist()]
    same = sum(a == b for a, b in zip(torch_preds, theirs["predictions"]))
    diff = (ours - theirs_out).abs().max().item()
    print(f"  {data}: {meta['torch']}")
    print(f"    largest output difference {diff:.2e}; same prediction for {same} of {len(torch_preds)}")
    assert diff < 1e-4, diff
    assert same == len(torch_preds)
    return model, meta


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for data, csv_name, target, extra in [
            ("iris", "iris.csv", "species", []),
            ("digits", "digits.csv", "digit", ["--activation", "gelu", "--model", "64-32-32-10"]),
        ]:
            csv_path = os.path.join(ROOT, "data", csv_name)
            path = os.path.join(tmp, f"{data}.safetensors")
            chainrule("train", "--data", data, "--save", path, "--json", *extra)
            print("chainrule -> PyTorch")
            model, meta = compare(path, data, csv_path, target)

            print("PyTorch -> chainrule")
            torch.manual_seed(0)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
            edited = os.path.join(tmp, f"{data}-edited.safetensors")
            save_file(model.state_dict(), edited, metadata=meta)
            compare(edited, data, csv_path, target)
    print("ok: PyTorch and chainrule agree")


BIN = find_binary()
if __name__ == "__main__":
    main()
