#!/usr/bin/env python3
"""The run of `chainrule train --model gpt` in PyTorch: nanoGPT's model and training loop.

Same data and split (the sorted characters of the text as tokens, the first 90% for training,
the last 10% for validation), same model (nanoGPT's `GPT` class and initialisation, copied in
examples/nanogpt_interop.py), same optimizer (AdamW, weight decay on the parameters of two or
more dimensions only, betas (0.9, 0.99)), schedule (linear warmup, cosine to the minimum over
the run: nanoGPT's `get_lr`), clipping (global norm 1) and number of steps; random windows of
the context length for batches, as nanoGPT's `get_batch`. The random numbers are PyTorch's, so
the batches and initial weights differ from chainrule's for the same seed: compare over seeds.

At the end it prints one JSON object with the fields of `chainrule train --json`:
`val_loss` is the mean cross-entropy over the whole validation part, cut into windows of the
context length (the last one shorter), every position scored once, as chainrule computes it;
`train_loss` the mean over `--eval-batches` random training batches (nanoGPT's
`estimate_loss`). As chainrule, it evaluates every `--eval-every` steps (0: only at the end) on
`--eval-batches` random batches of each part, so that a whole run does the same work in both;
`seconds` is the loop with its evaluations, `tokens_per_second` counts the steps' time alone.

Usage: python bench/torch_gpt_train.py [--data FILE] [--steps 2000] [--seed 0] [--threads 2]
    [--eval-every 250] [--eval-batches 20]
(the data defaults to the shipped crates/chainrule/data/shakespeare.txt).
"""

import argparse
import json
import math
import os
import sys
import time

import torch
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from nanogpt_interop import GPT, GPTConfig  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.path.join(ROOT, "crates/chainrule/data/shakespeare.txt"))
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)

    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(len(data) * 0.9)
    train, val = data[:n], data[n:]

    config = GPTConfig(block_size=a.context, vocab_size=len(chars), n_layer=a.layers,
                       n_head=a.heads, n_embd=a.channels, dropout=0.0, bias=False)
    model = GPT(config)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.99))

    def get_lr(it):
        if it < a.warmup:
            return a.lr * (it + 1) / (a.warmup + 1)
        if it > a.steps:
            return a.min_lr
        ratio = (it - a.warmup) / (a.steps - a.warmup)
        return a.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - a.min_lr)

    def get_batch(part):
        ix = torch.randint(len(part) - a.context, (a.batch,))
        x = torch.stack([part[i:i + a.context] for i in ix])
        y = torch.stack([part[i + 1:i + 1 + a.context] for i in ix])
        return x, y

    @torch.no_grad()
    def estimate_loss():
        model.eval()
        out = [sum(model(*get_batch(part))[1].item() for _ in range(a.eval_batches))
               / max(a.eval_batches, 1) for part in (train, val)]
        model.train()
        return out

    evals, busy = [], 0.0
    start = time.perf_counter()
    for it in range(a.steps):
        if a.eval_every > 0 and it % a.eval_every == 0:
            evals.append([it] + estimate_loss())
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        x, y = get_batch(train)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        busy += time.perf_counter() - t0
    train_loss = estimate_loss()[0]
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        # Whole windows `batch` at a time, then the shorter last one, as chainrule.
        total, block = 0.0, a.context
        m = len(val) - 1
        full = m // block
        for w in range(0, full, a.batch):
            k = min(a.batch, full - w)
            idx = torch.arange(w * block, (w + k) * block)
            _, loss = model(val[idx].view(k, block), val[idx + 1].view(k, block))
            total += loss.item() * k * block
        if m % block:
            s, t = full * block, m % block
            _, loss = model(val[s:s + t].view(1, -1), val[s + 1:s + 1 + t].view(1, -1))
            total += loss.item() * t
        count = m
    print(json.dumps({
        "train_loss": train_loss,
        "val_loss": total / count,
        "steps": a.steps,
        "seconds": seconds,
        "tokens_per_second": a.steps * a.batch * a.context / max(busy, 1e-9),
        "seed": a.seed,
        "evals": evals,
    }))


if __name__ == "__main__":
    main()
