"""The Python package against its peers, in alternating rounds.

    python bench/python_bench.py [--rounds 5] [--chainrule-bin target/release/chainrule]

Workloads (each round runs chainrule's, then each installed peer's, once):

- ``moons``: micrograd's two-moons demo (MLP 2-16-16-1 on 100 points, SVM loss, L2, SGD), with
  ``chainrule.micrograd`` exactly as micrograd's, against the ``micrograd`` package: ms/step;
- ``add10``: ``a + b`` on 10 elements, forward and backward (``(a + b).sum().backward()``),
  against PyTorch: µs per call;
- ``mlp-mnist``: one SGD training step of a ReLU MLP 784-256-256-10 on a batch of 128, cross
  entropy, driven from Python, against ``chainrule bench mlp-mnist`` (the same step in Rust):
  µs/step.

A peer that is not installed is said so and skipped. The CPU and the load average are printed
first (and the load again at the end); medians over the rounds, the rounds won and the rounds
that meet the targets (moons at least 20 times faster than micrograd, add10 faster than PyTorch,
mlp-mnist within 15% of the Rust step) are printed at the end. In mlp-mnist the order of the two
alternates from round to round.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

import numpy as np

import chainrule as cr


def moons_data():
    d = cr.data.moons(100, 0.1, 1337)
    return d.features.astype(np.float64), d.targets * 2 - 1


def moons_demo(Value, MLP, steps):
    random.seed(1337)
    X, y = moons_data()
    model = MLP(2, [16, 16, 1])

    def loss():
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    t = time.perf_counter()
    for k in range(steps):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    return (time.perf_counter() - t) / steps * 1e3


def time_calls(f, n):
    f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n * 1e6


def add10_chainrule(n=20000):
    a = cr.tensor(np.ones(10, np.float32), requires_grad=True)
    b = cr.tensor(np.ones(10, np.float32), requires_grad=True)

    def step():
        (a + b).sum().backward()
    return time_calls(step, n)


def add10_torch(torch, n=20000):
    a = torch.ones(10, requires_grad=True)
    b = torch.ones(10, requires_grad=True)

    def step():
        (a + b).sum().backward()
    return time_calls(step, n)


def mlp_mnist_python(n=200):
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(784, 256), cr.nn.ReLU(), cr.nn.Linear(256, 256),
                             cr.nn.ReLU(), cr.nn.Linear(256, 10))
    opt = cr.optim.SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=128)

    def step():
        xt = cr.tensor(x)
        opt.zero_grad()
        loss = cr.functional.cross_entropy(model(xt), y)
        loss.backward()
        opt.step()
    step()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def mlp_mnist_rust(binary):
    out = subprocess.run([binary, "bench", "mlp-mnist", "--json"], capture_output=True, text=True,
                         check=True).stdout
    line = out.strip().splitlines()[-1]
    v = json.loads(line)
    if isinstance(v, list):
        v = v[0]
    return float(v.get("median_us"))


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--moons-steps", type=int, default=10)
    ap.add_argument("--micrograd-steps", type=int, default=2)
    ap.add_argument("--chainrule-bin", default="target/release/chainrule")
    ap.add_argument("--only", default="moons,add10,mlp-mnist")
    args = ap.parse_args()
    only = args.only.split(",")

    try:
        import micrograd.engine as mg_engine
        import micrograd.nn as mg_nn
    except ImportError:
        mg_engine = None
        print("micrograd is not installed: the moons demo runs without its peer")
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
        print("PyTorch is not installed: add10 runs without its peer")
    from chainrule.micrograd.engine import Value
    from chainrule.micrograd.nn import MLP

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; load average {load()}; "
          f"Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__}" if torch else ""), flush=True)
    results = {k: ([], []) for k in only}
    for r in range(args.rounds):
        line = [f"round {r + 1}:"]
        if "moons" in only:
            ours = moons_demo(Value, MLP, args.moons_steps)
            theirs = moons_demo(mg_engine.Value, mg_nn.MLP, args.micrograd_steps) if mg_engine else None
            results["moons"][0].append(ours)
            if theirs:
                results["moons"][1].append(theirs)
            line.append(f"moons {ours:.1f} ms/step" + (f" (micrograd {theirs:.0f})" if theirs else ""))
        if "add10" in only:
            ours = add10_chainrule()
            theirs = add10_torch(torch) if torch else None
            results["add10"][0].append(ours)
            if theirs:
                results["add10"][1].append(theirs)
            line.append(f"add10 {ours:.2f} µs" + (f" (torch {theirs:.2f})" if theirs else ""))
        if "mlp-mnist" in only:
            if r % 2:
                ours = mlp_mnist_python()
            try:
                theirs = mlp_mnist_rust(args.chainrule_bin)
            except (OSError, subprocess.CalledProcessError, ValueError) as e:
                theirs = None
                if r == 0:
                    print(f"chainrule bench could not run ({e}): mlp-mnist runs alone")
            if r % 2 == 0:
                ours = mlp_mnist_python()
            results["mlp-mnist"][0].append(ours)
            if theirs:
                results["mlp-mnist"][1].append(theirs)
            line.append(f"mlp-mnist {ours:.0f} µs" + (f" (Rust {theirs:.0f})" if theirs else ""))
        print("  ".join(line), flush=True)

    print(f"load average at the end: {load()}")
    print()
    targets = {"moons": lambda a, b: b / a >= 20, "add10": lambda a, b: a < b,
               "mlp-mnist": lambda a, b: a <= 1.15 * b}
    goal = {"moons": "at least 20× faster", "add10": "faster than PyTorch",
            "mlp-mnist": "within 15% of Rust"}
    names = {"moons": ("ms/step", "micrograd"), "add10": ("µs/call", "PyTorch"),
             "mlp-mnist": ("µs/step", "chainrule bench (Rust)")}
    for k, (ours, theirs) in results.items():
        unit, peer = names[k]
        m = statistics.median(ours)
        if theirs:
            p = statistics.median(theirs)
            n = len(theirs)
            won = sum(1 for a, b in zip(ours, theirs) if a < b)
            met = sum(1 for a, b in zip(ours, theirs) if targets[k](a, b))
            print(f"{k}: chainrule {m:.2f} {unit}, {peer} {p:.2f} {unit}, ratio {p / m:.2f}, "
                  f"chainrule faster in {won} of {n} rounds, {goal[k]} in {met} of {n}")
        else:
            print(f"{k}: chainrule {m:.2f} {unit} ({peer} not run)")


if __name__ == "__main__":
    sys.exit(main())
