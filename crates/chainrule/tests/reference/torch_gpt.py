"""PyTorch's numbers for tests/gpt.rs: nanoGPT's GPT (the copy in examples/nanogpt_interop.py)
on fixed weights and tokens, and nanoGPT's optimizer settings on fixed gradients.

1. A tiny GPT (vocabulary 11, block 6, 2 layers, 2 heads, 8 channels), without and with
   biases, every parameter set by a formula of its position in `named_parameters` and of its
   element's index (tests/gpt.rs writes the same formula): the loss on 2 sequences of 5 tokens,
   the logits, and for each parameter its gradient's norm and its projection on a fixed vector.
2. Five steps of AdamW with weight decay on the 2-D group only, betas (0.9, 0.99), gradients
   clipped at global norm 1, the learning rate of nanoGPT's `get_lr` (warmup 2, 6 steps to
   1e-4), on two parameters with fixed gradients: the parameters after each step.

Run: python crates/chainrule/tests/reference/torch_gpt.py (prints the Rust constants).
"""

import math
import os
import sys

import torch

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "../../../../examples"))
from nanogpt_interop import GPT, GPTConfig  # noqa: E402

torch.set_default_dtype(torch.float64)


def fill(name, p, k):
    i = torch.arange(p.numel(), dtype=torch.float64)
    wave = torch.sin(0.7 * i + 1.3 * k + 0.1)
    if p.dim() >= 2:
        v = 0.3 * wave
    elif name.endswith(".weight"):
        v = 1.0 + 0.2 * wave
    else:
        v = 0.1 * wave
    with torch.no_grad():
        p.copy_(v.view_as(p))


def project(g):
    i = torch.arange(g.numel(), dtype=torch.float64)
    return float((g.reshape(-1) * torch.sin(3.1 * i + 0.5)).sum())


def rust(name, values):
    body = ", ".join(f"{v:.12e}" for v in values)
    print(f"const {name}: [f64; {len(values)}] = [{body}];")


def gpt_case(bias):
    config = GPTConfig(block_size=6, vocab_size=11, n_layer=2, n_head=2, n_embd=8, dropout=0.0, bias=bias)
    model = GPT(config)
    for k, (name, p) in enumerate(model.named_parameters()):
        fill(name, p, k)
    ids = torch.tensor([[1, 4, 9, 0, 3], [10, 2, 2, 7, 5]])
    targets = torch.tensor([[4, 9, 0, 3, 8], [2, 2, 7, 5, 6]])
    logits, loss = model(ids, targets)
    loss.backward()
    tag = "BIAS" if bias else "NO_BIAS"
    print(f"// {', '.join(n for n, _ in model.named_parameters())}")
    rust(f"LOSS_{tag}", [loss.item()])
    rust(f"LOGITS_{tag}", logits.reshape(-1).tolist())
    rust(f"GRAD_NORMS_{tag}", [p.grad.norm().item() for _, p in model.named_parameters()])
    rust(f"GRAD_PROJECTIONS_{tag}", [project(p.grad) for _, p in model.named_parameters()])


def optim_case():
    w = torch.nn.Parameter(torch.tensor([[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]]))
    b = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.99))
    lr, min_lr, warmup, steps = 1e-2, 1e-4, 2, 6

    def get_lr(it):
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        if it > steps:
            return min_lr
        ratio = (it - warmup) / (steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)

    out, norms, lrs = [], [], []
    for it in range(5):
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        lrs.append(get_lr(it))
        scale = 1.0 + it
        w.grad = torch.sin(torch.arange(6.0) * 1.7 + it).view(2, 3) * scale
        b.grad = torch.cos(torch.arange(3.0) * 0.9 + it) * scale
        norms.append(float(torch.nn.utils.clip_grad_norm_([w, b], 1.0)))
        opt.step()
        out.extend(w.detach().reshape(-1).tolist() + b.detach().tolist())
    rust("OPTIM_LRS", lrs)
    rust("OPTIM_NORMS", norms)
    rust("OPTIM_PARAMS", out)


print(f"// printed by tests/reference/torch_gpt.py with torch {torch.__version__}")
gpt_case(False)
gpt_case(True)
optim_case()
