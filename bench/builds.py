"""Two builds of chainrule side by side: `chainrule bench --json` of each, in alternating rounds.

    python bench/builds.py OLD_BINARY NEW_BINARY mlp-tiny,mlp-small,mlp-mnist --rounds 5

Each round runs both builds once (the order swapped every other round, so that neither always
runs second), and the table gives each build's median over the rounds and the rounds the new one
was faster in.
"""

import argparse
import json
import statistics
import subprocess


def bench(exe, names):
    out = subprocess.check_output([exe, "bench", "--json", "--min-time", "1", *names])
    return {row["name"]: row["median_us"] for row in json.loads(out)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before", help="the older build's chainrule binary")
    ap.add_argument("after", help="the newer build's chainrule binary")
    ap.add_argument("names", help="workloads, separated by commas")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    names = args.names.split(",")
    res = {"after": {}, "before": {}}
    for r in range(args.rounds):
        order = [("after", args.after), ("before", args.before)]
        for label, exe in order if r % 2 == 0 else order[::-1]:
            for name, us in bench(exe, names).items():
                res[label].setdefault(name, []).append(us)
    print("| workload | before µs | after µs | after ÷ before | rounds after faster |")
    print("|---|---:|---:|---:|---:|")
    for n in names:
        b, a = res["before"][n], res["after"][n]
        wins = sum(x < y for x, y in zip(a, b))
        ratio = statistics.median(a) / statistics.median(b)
        print(f"| {n} | {statistics.median(b):,.1f} | {statistics.median(a):,.1f} | {ratio:.3f} "
              f"| {wins} of {len(a)} |")


if __name__ == "__main__":
    main()
