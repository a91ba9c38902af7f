#!/usr/bin/env python3
"""Checks that chainrule's model files interoperate with PyTorch.

1. `chainrule train --save` writes a model; PyTorch builds the equivalent `torch.nn.Sequential`
   from the file's metadata, loads the tensors with
   `model.load_state_dict(safetensors.torch.load_file(path))` (strict: same names, same shapes),
   and computes the same outputs and predictions as `chainrule predict`.
2. The other way: PyTorch changes the weights and saves them with `safetensors.torch.save_file`
   (keeping the metadata); `chainrule predict` loads that file and agrees with PyTorch again.

Both ways for perceptrons (iris, with leaky ReLU too; digits with GELU, SiLU and softplus) and
for convolutional networks with batch normalisation and dropout (digits with `--model cnn`,
with ReLU and with ELU, and Fashion-MNIST when Debian's `dataset-fashion-mnist` is
installed): their files hold the running statistics as PyTorch's buffers,
`num_batches_tracked` as a 0-dimensional int64 tensor, and PyTorch's edits of the running
statistics reach chainrule too.

Usage: python examples/torch_interop.py [path/to/chainrule]
(default: target/release/chainrule, then target/debug/chainrule, then chainrule on PATH).
Needs torch and safetensors; exits 0 with a message when they are missing.
"""

import csv
import gzip
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
FASHION = "/usr/share/datasets/fashion-mnist"


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
    if meta.get("format") == "chainrule.convnet":
        # A convolutional network's file holds the PyTorch code of its Sequential.
        return eval(meta["torch"], {"nn": nn}).eval()  # noqa: S307 (our own file)
    sizes = [int(s) for s in meta["architecture"].split("-")]
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
           "silu": nn.SiLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU,
           "softplus": nn.Softplus}[meta["activation"]]
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
    return x


def fashion_test_images():
    """Fashion-MNIST's 10,000 test images as rows of 784 values in [0, 1]."""
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    x = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).to(torch.float32) / 255.0
    return x.reshape(-1, 784)


def torch_outputs(model, meta, x):
    if "standardize_mean" in meta:
        mean = torch.tensor(json.loads(meta["standardize_mean"]))
        std = torch.tensor(json.loads(meta["standardize_std"]))
        x = (x - mean) / std
    if "input_shape" in meta:
        x = x.reshape(-1, *[int(d) for d in meta["input_shape"].split("x")])
    with torch.no_grad():
        return model(x)


def compare(path, data, x):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
    model = build(meta)
    state = load_file(path)
    model.load_state_dict(state)  # strict: every name and shape must match
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            assert t.dtype == torch.int64 and t.dim() == 0, (name, t.dtype, t.shape)
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
    digits = lambda: features(os.path.join(ROOT, "data", "digits.csv"), "digit")  # noqa: E731
    runs = [
        ("iris", lambda: features(os.path.join(ROOT, "data", "iris.csv"), "species"), []),
        ("digits", digits, ["--activation", "gelu", "--model", "64-32-32-10"]),
        ("iris", lambda: features(os.path.join(ROOT, "data", "iris.csv"), "species"),
         ["--activation", "leaky_relu"]),
        ("digits", digits, ["--activation", "silu", "--model", "64-32-10", "--epochs", "5"]),
        ("digits", digits, ["--activation", "softplus", "--model", "64-32-10", "--epochs", "5"]),
        ("digits", digits, ["--model", "cnn", "--epochs", "3"]),
        ("digits", digits, ["--model", "cnn", "--activation", "elu", "--epochs", "1"]),
    ]
    if os.path.exists(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")):
        runs.append(("fashion-mnist", fashion_test_images,
                     ["--model", "c8bn-p2-c16-p2-f32bn-10", "--epochs", "1"]))
    else:
        print(f"Fashion-MNIST not checked: not installed in {FASHION}")
    with tempfile.TemporaryDirectory() as tmp:
        for k, (data, x, extra) in enumerate(runs):
            x = x()
            path = os.path.join(tmp, f"{data}-{k}.safetensors")
            chainrule("train", "--data", data, "--save", path, "--json", *extra)
            print("chainrule -> PyTorch")
            model, meta = compare(path, data, x)

            print("PyTorch -> chainrule")
            torch.manual_seed(0)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn_like(p))
                for name, b in model.named_buffers():
                    if name.endswith("running_mean"):
                        b.add_(0.05 * torch.randn_like(b))
                    elif name.endswith("running_var"):
                        b.mul_(1.1)
            edited = os.path.join(tmp, f"{data}-{k}-edited.safetensors")
            save_file(model.state_dict(), edited, metadata=meta)
            compare(edited, data, x)
    print("ok: PyTorch and chainrule agree")


BIN = find_binary()
if __name__ == "__main__":
    main()
