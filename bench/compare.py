"""chainrule's standard workloads beside the peers' versions of the same jobs, in one run.

Runs `chainrule bench --json` (a release build) and, where they are installed, the peers'
scripts for the same workloads (PyTorch, JAX, micrograd), then prints one Markdown table with
both times and the ratio. Peers that are not installed are reported as such, not skipped silently.

    cargo build --release -p chainrule-cli
    python bench/compare.py --peers ../shared/peers [--micrograd] [--only scalar,matmul,elementwise,mlp]
    python bench/compare.py --peers ../shared/peers --only mlp --rounds 20
    python bench/compare.py --only cnn,gpt --rounds 5 --chainrule target/avx2/release/chainrule --avx2

The peers' scripts are the reference versions of each workload (see their README); this script
only runs them and lines their numbers up with chainrule's. Each round runs chainrule once, then
each peer once; with several rounds the table gives each side's median over the rounds and the
number of rounds in which chainrule was faster and chainrule's time over the peer's in its worst
round, since on a shared machine one run of either side can be off by more than the difference
being measured. Each round's own figures go to stderr as the round ends.

`--avx2` restricts the peers to AVX2 with each library's own switch (`AVX2_PEERS`), for a
comparison with a chainrule build without the AVX-512 kernels on a processor that has them.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAINRULE = os.path.join(ROOT, "target", "release", "chainrule")

# The peers' switches to AVX2: PyTorch's kernels, MKL, oneDNN, and XLA's code generation. YNNPACK,
# where JAX sends single matrix products, chooses its kernels from CPUID with no switch, so those
# products are kept out of it (they then go to oneDNN).
AVX2_PEERS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2 --xla_cpu_experimental_ynn_fusion_type=-individual_dot",
}

GROUPS = {
    "scalar": ["scalar-chain-1m"],
    "matmul": ["matmul-256", "matmul-512", "matmul-1024", "matmul-2048"],
    "elementwise": ["add-10m", "mul-10m", "tanh-10m"],
    "mlp": ["mlp-tiny", "mlp-small", "mlp-mnist", "mlp-wide"],
    "micrograd": ["micrograd-moons"],
    "cnn": ["cnn-fashion"],
    "gpt": ["gpt-baby"],
}


def run(cmd, timeout=1800):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()[:300]}")
    return out.stdout


def chainrule(names):
    known = {line.split()[0] for line in run([CHAINRULE, "bench", "--list"]).splitlines() if line}
    names = [n for n in names if n in known]
    if not names:
        return {}
    rows = json.loads(run([CHAINRULE, "bench", "--json", "--min-time", "2", *names]))
    return {r["name"]: r["median_us"] for r in rows}


def peers(args, groups):
    """Median µs per iteration of each workload, from the peers' scripts."""
    py, out, notes = args.python, {}, []
    peer = lambda name: os.path.join(args.peers, name)  # noqa: E731
    if "scalar" in groups:
        try:
            ns = float(run([py, peer("torch_scalar.py")]).split()[-1])
            # PyTorch's figure is per operation (forward + backward); the workload has 10^6 nodes.
            out["scalar-chain-1m"] = ("PyTorch eager", ns * 1e6 / 1e3)
        except Exception as e:  # noqa: BLE001
            notes.append(f"PyTorch scalar: not measured ({e})")
    if "matmul" in groups:
        try:
            for line in run([py, peer("torch_gemm.py"), "256", "512", "1024", "2048"]).splitlines():
                n, us = line.split()
                out[f"matmul-{n}"] = ("PyTorch", float(us))
        except Exception as e:  # noqa: BLE001
            notes.append(f"PyTorch matmul: not measured ({e})")
    if "elementwise" in groups:
        try:
            rows = json.loads(run([py, os.path.join(ROOT, "bench", "torch_tensor.py"), "--json"]))
            for r in rows:
                if r["name"] in GROUPS["elementwise"]:
                    out[r["name"]] = ("PyTorch", r["median_us"])
        except Exception as e:  # noqa: BLE001
            notes.append(f"PyTorch element-wise: not measured ({e})")
    if "mlp" in groups:
        try:
            for line in run([py, peer("jax_steps.py"), *GROUPS["mlp"]]).splitlines():
                name, us = line.split()
                out[name] = ("JAX jit", float(us))
        except Exception as e:  # noqa: BLE001
            notes.append(f"JAX: not measured ({e})")
        try:
            shapes = {"2-16-16-1": "mlp-tiny", "64-128-10": "mlp-small",
                      "784-256-256-10": "mlp-mnist", "784-1024-1024-10": "mlp-wide"}
            for line in run([py, peer("torch_mlp.py")]).splitlines():
                if line.startswith("torch mlp"):
                    shape = line.split()[2]
                    us = float(line.split(":")[1].split()[0])
                    out[shapes[shape] + " (torch)"] = ("PyTorch eager", us)
        except Exception as e:  # noqa: BLE001
            notes.append(f"PyTorch MLP: not measured ({e})")
    for deep in ("cnn-fashion", "gpt-baby"):
        if deep.split("-")[0] not in groups:
            continue
        for script, peer_name, key in (("torch_deep.py", "PyTorch eager", f"{deep} (torch)"),
                                       ("jax_deep.py", "JAX jit", deep)):
            try:
                name, us = run([py, peer(script), deep]).split()[-2:]
                out[key] = (peer_name, float(us))
            except Exception as e:  # noqa: BLE001
                notes.append(f"{peer_name} {deep}: not measured ({e})")
    if "micrograd" in groups:
        try:
            text = run([py, peer("micrograd_moons.py")], timeout=3600)
            ms = float(text.split("s,")[1].split("ms")[0])
            out["micrograd-moons"] = ("micrograd", ms * 1e3)
        except Exception as e:  # noqa: BLE001
            notes.append(f"micrograd: not measured ({e})")
    return out, notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "peers"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--only", default="scalar,matmul,elementwise,mlp")
    ap.add_argument("--micrograd", action="store_true", help="also run micrograd (minutes)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternating rounds (chainrule, then the peers); medians over them")
    ap.add_argument("--chainrule", default=CHAINRULE,
                    help="the chainrule binary (e.g. an AVX2 build made with --no-default-features)")
    ap.add_argument("--avx2", action="store_true",
                    help="restrict the peers to AVX2 (the variables in AVX2_PEERS)")
    args = ap.parse_args()
    globals()["CHAINRULE"] = args.chainrule
    if args.avx2:
        os.environ.update(AVX2_PEERS)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    groups = args.only.split(",") + (["micrograd"] if args.micrograd else [])
    names = [n for g in groups for n in GROUPS[g]]

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    ours, theirs, peer_names, notes = {}, {}, {}, []
    for r in range(args.rounds):
        for name, us in chainrule(names).items():
            ours.setdefault(name, []).append(us)
        measured, round_notes = peers(args, groups)
        for key, (peer, us) in measured.items():
            peer_names[key] = peer
            # Pair each peer figure with chainrule's of the same round.
            theirs.setdefault(key, []).append((r, us))
        notes = notes or round_notes
        if args.rounds > 1:
            # Each round's own figures, so that a worst round can be told from its neighbours.
            line = f"round {r + 1} of {args.rounds} done"
            for key, (peer, us) in measured.items():
                mine = ours.get(key.removesuffix(" (torch)"), [])
                if len(mine) > r:
                    line += f"; {key}: {mine[r]:,.0f} µs, {peer} {us:,.0f} µs ({mine[r] / us:.3f})"
            print(line, file=sys.stderr, flush=True)

    rounds = args.rounds > 1
    print(f"Measured {started} on {platform.machine()} with {os.cpu_count()} cores "
          f"(load average before: {load:.1f}), {args.rounds} round{'s' if rounds else ''}"
          f"{', peers restricted to AVX2' if args.avx2 else ''}.\n")
    header = "| workload | chainrule µs | peer | peer µs | peer ÷ chainrule |"
    rule = "|---|---:|---|---:|---:|"
    if rounds:
        # The worst round's ratio, for targets such as "at most 0.75x the peer's time in every
        # round".
        header += " rounds chainrule faster | chainrule ÷ peer, worst round |"
        rule += "---:|---:|"
    print(header)
    print(rule)
    for name in names:
        for key in (name, name + " (torch)"):
            if key not in theirs and key != name:
                continue
            mine = ours.get(name, [])
            us = statistics.median(mine) if mine else None
            pairs = theirs.get(key, [])
            pus = statistics.median([p for _, p in pairs]) if pairs else None
            peer = peer_names.get(key, "—")
            if us and pus:
                line = f"| {name} | {us:,.1f} | {peer} | {pus:,.1f} | {pus / us:.2f}× |"
                if rounds:
                    wins = sum(1 for r, p in pairs if r < len(mine) and mine[r] < p)
                    worst = max(mine[r] / p for r, p in pairs if r < len(mine))
                    line += f" {wins} of {len(pairs)} | {worst:.3f} |"
            else:
                line = f"| {name} | {f'{us:,.1f}' if us else '—'} | {peer} | {f'{pus:,.1f}' if pus else '—'} | — |"
                if rounds:
                    line += " — | — |"
            print(line)
    for n in notes:
        print(f"\n{n}")


if __name__ == "__main__":
    main()
