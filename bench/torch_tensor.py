"""PyTorch's numbers for chainrule's tensor workloads, measured the same way.

Each workload is one f32 operation per iteration: an n x n matrix product (n = 256, 512, 1024,
2048), the element-wise sum / product of two tensors of 10^7 elements, or the tanh of one.
Like chainrule's `bench::measure`: one warm-up iteration, then iterations until at least 10 and
2 seconds (at most 1000), and the median.

    python bench/torch_tensor.py          # table
    python bench/torch_tensor.py --json   # name / median_us / iterations
    python bench/torch_tensor.py --out    # also add/mul into a preallocated tensor
"""

import json
import statistics
import sys
import time

import torch

N_ELEMENTWISE = 10_000_000


def measure(run, min_iterations=10, min_time=2.0):
    run()
    times = []
    start = time.perf_counter()
    while len(times) < min_iterations or (
        time.perf_counter() - start < min_time and len(times) < 1000
    ):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times), len(times)


def workloads(with_out=False):
    """The workloads as (name, run, work per iteration, unit). With `with_out`, also
    `add-10m-out` and `mul-10m-out`: the same element-wise ops writing into a preallocated
    tensor (`out=`), which leaves out the allocation PyTorch makes for each result."""
    g = torch.Generator().manual_seed(0)
    for n in (256, 512, 1024, 2048):
        a = torch.randn(n, n, generator=g)
        b = torch.randn(n, n, generator=g)
        yield f"matmul-{n}", (lambda a=a, b=b: torch.matmul(a, b)), 2.0 * n**3, "GFLOP/s"
    a = torch.rand(N_ELEMENTWISE, generator=g)
    b = torch.rand(N_ELEMENTWISE, generator=g)
    yield "add-10m", (lambda: a + b), 3 * 4 * N_ELEMENTWISE, "GB/s"
    yield "mul-10m", (lambda: a * b), 3 * 4 * N_ELEMENTWISE, "GB/s"
    x = torch.randn(N_ELEMENTWISE, generator=g)
    yield "tanh-10m", (lambda: torch.tanh(x)), 2 * 4 * N_ELEMENTWISE, "GB/s"
    if with_out:
        c = torch.empty(N_ELEMENTWISE)
        yield "add-10m-out", (lambda: torch.add(a, b, out=c)), 3 * 4 * N_ELEMENTWISE, "GB/s"
        yield "mul-10m-out", (lambda: torch.mul(a, b, out=c)), 3 * 4 * N_ELEMENTWISE, "GB/s"


def main():
    as_json = "--json" in sys.argv[1:]
    results = []
    if not as_json:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        print(f"{'workload':<12} {'median_us':>12} {'iters':>6} {'throughput':>14}")
    with torch.no_grad():
        for name, run, work, unit in workloads("--out" in sys.argv[1:]):
            median_us, iterations = measure(run)
            results.append({"name": name, "median_us": median_us, "iterations": iterations})
            if not as_json:
                rate = work / (median_us * 1e-6) / 1e9
                print(f"{name:<12} {median_us:>12.1f} {iterations:>6} {rate:>9.1f} {unit}")
    if as_json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
