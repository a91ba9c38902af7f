#!/usr/bin/env python3
"""Checks that chainrule's GPT files load into nanoGPT's `GPT` class and give the same logits.

1. `chainrule train --model gpt --save` trains a small model on a text; nanoGPT's `GPT` is
   built from the file's metadata (`gpt_config`), loads the tensors with
   `load_state_dict(safetensors.torch.load_file(path), strict=True)`, and computes the same
   logits for the next character of a prompt as `chainrule generate --json`, and the same
   greedy continuation (`--top-k 1`) as nanoGPT's own `generate`.
2. The other way: PyTorch changes the weights and saves them with `safetensors.torch.save_file`
   (both names of the tied embedding, as nanoGPT's `state_dict` has them, and the metadata);
   `chainrule generate` loads that file and agrees with PyTorch again.

The model classes below are a copy of those of nanoGPT's `model.py` that a forward pass needs
(`LayerNorm`, `CausalSelfAttention`, `MLP`, `Block`, `GPTConfig`, `GPT` with its
initialisation, `forward` and `generate`), by Andrej Karpathy, https://github.com/karpathy/nanoGPT,
under the MIT licence:

    Copyright (c) 2022 Andrej Karpathy

    Permission is hereby granted, free of charge, to any person obtaining a copy of this software
    and associated documentation files (the "Software"), to deal in the Software without
    restriction, including without limitation the rights to use, copy, modify, merge, publish,
    distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom
    the Software is furnished to do so, subject to the following conditions: The above
    copyright notice and this permission notice shall be included in all copies or substantial
    portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.

Usage: python examples/nanogpt_interop.py [path/to/chainrule]
(default: target/release/chainrule, then target/debug/chainrule, then chainrule on PATH).
Needs torch and safetensors; exits 0 with a message when they are missing.
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

try:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e.name} is not installed (pip install torch safetensors)")
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- nanoGPT's model.py (the classes a forward pass needs) -------------------------------


class LayerNorm(nn.Module):
    """LayerNorm but with an optional bias. PyTorch doesn't support simply bias=False"""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = self.resid_dropout(self.c_proj(y))
        return y


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        x = self.c_fc(x)
        x = self.gelu(x)
        x = self.c_proj(x)
        x = self.dropout(x)
        return x


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        device = idx.device
        b, t = idx.size()
        assert t <= self.config.block_size
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        tok_emb = self.transformer.wte(idx)
        pos_emb = self.transformer.wpe(pos)
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        else:
            logits = self.lm_head(x[:, [-1], :])
            loss = None
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size :]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ---- the checks ----------------------------------------------------------------------------


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


def nanogpt_from(path):
    """nanoGPT's GPT with the file's shape and weights, loaded strictly, and the vocabulary."""
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    c = json.loads(meta["gpt_config"])
    assert c["tie_weights"], "nanoGPT's GPT always ties its output layer to the embedding"
    config = GPTConfig(
        block_size=c["block_size"],
        vocab_size=c["vocab_size"],
        n_layer=c["n_layer"],
        n_head=c["n_head"],
        n_embd=c["n_embd"],
        dropout=0.0,
        bias=c["bias"],
    )
    model = GPT(config)
    model.load_state_dict(load_file(path), strict=True)
    model.eval()
    return model, json.loads(meta["vocab"]), meta


def compare(path, prompt):
    model, vocab, _ = nanogpt_from(path)
    ids = torch.tensor([[vocab.index(ch) for ch in prompt]])
    with torch.no_grad():
        want = model(ids)[0][0, -1].tolist()
    got = json.loads(chainrule("generate", "--model", path, "--prompt", prompt, "--tokens", "24",
                               "--top-k", "1", "--json"))
    worst = max(abs(a - b) for a, b in zip(got["next_logits"], want))
    assert len(got["next_logits"]) == len(want), (len(got["next_logits"]), len(want))
    assert worst < 1e-4, f"logits differ by up to {worst}"
    greedy = model.generate(ids, 24, top_k=1)[0, len(prompt):].tolist()
    text = "".join(vocab[i] for i in greedy)
    assert got["text"] == text, f"chainrule continues {got['text']!r}, nanoGPT {text!r}"
    return worst


def main():
    text = (
        "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
        "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\n"
    ) * 40
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "citizens.txt")
        with open(data, "w") as f:
            f.write(text)
        for bias in (False, True):
            path = os.path.join(tmp, f"gpt-{bias}.safetensors")
            args = ["train", "--data", data, "--model", "gpt", "--steps", "40", "--context", "32",
                    "--layers", "2", "--heads", "2", "--channels", "32", "--batch", "8",
                    "--warmup", "5", "--eval-every", "0", "--eval-batches", "2", "--save", path]
            chainrule(*(args + (["--bias"] if bias else [])))
            worst = compare(path, "First Citizen:\nBefore we")
            print(f"bias={bias}: nanoGPT's GPT loads the file strictly; next logits agree within {worst:.1e}, greedy text too")

            # PyTorch changes the weights and saves them; chainrule reads them back.
            model, vocab, meta = nanogpt_from(path)
            with torch.no_grad():
                for i, p in enumerate(model.parameters()):
                    p.add_(0.01 * torch.sin(torch.arange(p.numel(), dtype=p.dtype) + i).view_as(p))
            state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
            changed = os.path.join(tmp, f"changed-{bias}.safetensors")
            save_file(state, changed, metadata=meta)
            worst = compare(changed, "All:\nSpeak")
            print(f"bias={bias}: weights saved by PyTorch load into chainrule; logits agree within {worst:.1e}")
    print("ok")


if __name__ == "__main__":
    BIN = find_binary()
    main()
