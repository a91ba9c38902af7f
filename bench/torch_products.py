"""The baby GPT step's matrix products on one thread in PyTorch: the shapes and layouts of
`crates/chainrule/examples/step_products.rs` (each of the step's two threads' share), timed the
same way (about 5 GFLOP per product, the median of five timings). `bench/products.py` runs both
in alternating rounds.

    python bench/torch_products.py [--json]
"""

import json
import sys
import time

import torch

# (name, m, k, n, lhs transposed, rhs transposed), as in step_products.rs.
PRODUCTS = [
    ("qkv x·Wᵀ", 384, 128, 384, False, True),
    ("attn proj x·Wᵀ", 384, 128, 128, False, True),
    ("fc x·Wᵀ", 384, 128, 512, False, True),
    ("mlp proj x·Wᵀ", 384, 512, 128, False, True),
    ("lm head x·Wᵀ", 384, 128, 65, False, True),
    ("qkv dY·W", 384, 384, 128, False, False),
    ("fc dY·W", 384, 512, 128, False, False),
    ("mlp proj dY·W", 384, 128, 512, False, False),
    ("qkv dYᵀ·X", 384, 384, 128, True, False),
    ("fc dYᵀ·X", 512, 384, 128, True, False),
    ("mlp proj dYᵀ·X", 128, 384, 512, True, False),
]
FLOPS_PER_PRODUCT = 5e9


def operand(rows, cols, transposed, seed):
    """A `rows × cols` operand; a transposed one is stored the other way round and read as a view."""
    shape = (cols, rows) if transposed else (rows, cols)
    n = shape[0] * shape[1]
    t = (((torch.arange(n) * 7 + seed) % 13).float() / 13.0 - 0.5).reshape(shape)
    return t.t() if transposed else t


def time_product(m, k, n, lhs_t, rhs_t):
    a, b = operand(m, k, lhs_t, 1), operand(k, n, rhs_t, 2)
    c = torch.empty(m, n)
    reps = max(1, int(-(-FLOPS_PER_PRODUCT / 5 // (2 * m * n * k))))
    for _ in range(min(reps, 20)):
        torch.matmul(a, b, out=c)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b, out=c)
        times.append((time.perf_counter() - t) * 1e6 / reps)
    return sorted(times)[2]


def main():
    torch.set_num_threads(1)
    rows = [(p, time_product(*p[1:])) for p in PRODUCTS]
    total = sum(us for _, us in rows)
    if "--json" in sys.argv[1:]:
        print(json.dumps({
            "kernels": torch.backends.cpu.get_cpu_capability(),
            "total_us": total,
            "products": [{"name": p[0], "m": p[1], "k": p[2], "n": p[3], "us": us} for p, us in rows],
        }))
        return
    print(f"PyTorch {torch.__version__}, kernels {torch.backends.cpu.get_cpu_capability()}, one thread")
    for (name, m, k, n, _, _), us in rows:
        print(f"{name:>16}  {m}×{k}×{n:<5}  {us:10.1f} µs  {2 * m * n * k / us / 1e3:8.1f} GFLOP/s")
    print(f"{'all, once each':>16}  {'':11}  {total:10.1f} µs")


if __name__ == "__main__":
    main()
