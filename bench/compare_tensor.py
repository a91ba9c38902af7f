"""chainrule and PyTorch side by side on the tensor workloads, in one run.

For each workload, alternately runs chainrule's `bench_tensor` example (a release build) and
PyTorch on the same job, for several rounds, and keeps each side's best median: on a shared
machine the best round is the one least disturbed by other work.

    cargo build --release --example bench_tensor
    python bench/compare_tensor.py [--rounds 3]
"""

import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_tensor  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXE = os.path.join(ROOT, "target", "release", "examples", "bench_tensor")


def chainrule(name):
    out = subprocess.run([EXE, "--json", name], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)[0]["median_us"]


def main():
    rounds = 3
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} cores, "
          f"best of {rounds} alternating rounds")
    print(f"{'workload':<12} {'chainrule us':>13} {'torch us':>10} {'chainrule':>16} "
          f"{'torch':>16} {'ratio':>6}")
    with torch.no_grad():
        for name, run, work, unit in torch_tensor.workloads(with_out=True):
            ours, theirs = [], []
            for _ in range(rounds):
                # `add-10m-out` compares chainrule's `add-10m` with PyTorch writing into `out=`.
                ours.append(chainrule(name.removesuffix("-out")))
                theirs.append(torch_tensor.measure(run)[0])
            a, b = min(ours), min(theirs)
            ra, rb = work / (a * 1e-6) / 1e9, work / (b * 1e-6) / 1e9
            print(f"{name:<12} {a:>13.1f} {b:>10.1f} {ra:>8.1f} {unit:<7} {rb:>8.1f} {unit:<7} "
                  f"{ra / rb:>6.2f}")


if __name__ == "__main__":
    main()
