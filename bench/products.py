"""The baby GPT step's matrix products on one thread, chainrule's `gemm` kernels beside PyTorch's
(MKL), in alternating rounds: `crates/chainrule/examples/step_products.rs` and
`bench/torch_products.py`, the same shapes and layouts.

    cargo build --release -p chainrule --example step_products
    python bench/products.py --rounds 6 --python VENV/bin/python
    # AVX2 on both sides: the build without the AVX-512 kernels, PyTorch restricted as compare.py does
    CARGO_TARGET_DIR=target/avx2 cargo build --release -p chainrule --no-default-features --example step_products
    python bench/products.py --avx2 --example target/avx2/release/examples/step_products --python VENV/bin/python

Each round runs both once (the order swapped every other round). The table gives each product's
median over the rounds on each side; the last row is the sum over the products, with the rounds
in which chainrule's sum was the smaller and its ratio to PyTorch's in its worst round.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from compare import AVX2_PEERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--example", default=os.path.join(ROOT, "target", "release", "examples", "step_products"),
                    help="the step_products example binary")
    ap.add_argument("--python", default=sys.executable, help="a Python with PyTorch installed")
    ap.add_argument("--avx2", action="store_true", help="restrict PyTorch to AVX2 (AVX2_PEERS in compare.py)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if not os.path.exists(args.example):
        sys.exit(f"{args.example} does not exist: build it with cargo build --release -p chainrule --example step_products")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if args.avx2:
        env.update(AVX2_PEERS)
    torch_cmd = [args.python, os.path.join(ROOT, "bench", "torch_products.py"), "--json"]
    probe = subprocess.run([args.python, "-c", "import torch"], capture_output=True, env=env)
    if probe.returncode != 0:
        sys.exit(f"PyTorch is not installed for {args.python}: nothing to compare with")
    sides = {"chainrule": [], "PyTorch": []}
    for r in range(args.rounds):
        order = [("chainrule", [args.example, "--json"]), ("PyTorch", torch_cmd)]
        for label, cmd in order if r % 2 == 0 else order[::-1]:
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            sides[label].append(json.loads(out.stdout))
        c, t = sides["chainrule"][-1], sides["PyTorch"][-1]
        print(f"round {r + 1} of {args.rounds}: chainrule ({c['kernels']}) {c['total_us']:,.0f} µs, "
              f"PyTorch ({t['kernels']}) {t['total_us']:,.0f} µs ({c['total_us'] / t['total_us']:.3f}); "
              f"FMA peaks (GFLOP/s) {c['peak_gflops']}", file=sys.stderr)
    print(f"{args.rounds} rounds, one thread each; chainrule kernels {sides['chainrule'][0]['kernels']}, "
          f"PyTorch kernels {sides['PyTorch'][0]['kernels']}.\n")
    print("| product | m×k×n | chainrule µs | PyTorch µs | chainrule ÷ PyTorch |")
    print("|---|---|---:|---:|---:|")
    for i, p in enumerate(sides["chainrule"][0]["products"]):
        c = statistics.median(run["products"][i]["us"] for run in sides["chainrule"])
        t = statistics.median(run["products"][i]["us"] for run in sides["PyTorch"])
        print(f"| {p['name']} | {p['m']}×{p['k']}×{p['n']} | {c:,.1f} | {t:,.1f} | {c / t:.3f} |")
    ratios = [c["total_us"] / t["total_us"] for c, t in zip(sides["chainrule"], sides["PyTorch"])]
    c = statistics.median(run["total_us"] for run in sides["chainrule"])
    t = statistics.median(run["total_us"] for run in sides["PyTorch"])
    won = sum(x < 1 for x in ratios)
    print(f"| all, once each | | {c:,.1f} | {t:,.1f} | {c / t:.3f} |")
    print(f"\nchainrule's sum was the smaller in {won} of {args.rounds} rounds; its worst round {max(ratios):.3f} of PyTorch's, "
          f"its best {min(ratios):.3f}.")


if __name__ == "__main__":
    main()
