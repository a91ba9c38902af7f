"""Residual blocks and nanoGPT's language model (``MLP``, ``Block``, ``GPTConfig``, ``GPT``),
with nanoGPT's parameter names (``transformer.h.0.attn.c_attn.weight``, ``lm_head.weight``...),
so that a ``state_dict`` moves between chainrule, nanoGPT and ``chainrule train --model gpt``
files unchanged."""

import math
from dataclasses import dataclass, fields

import numpy as _np

from .. import _core, no_grad
from .. import functional as F
from .layers import GELU, CausalSelfAttention, Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential


class Residual(Sequential):
    """``x + f(x)`` for the modules ``f`` applied in order (their output has the shape of their
    input); the parameters keep the names they have in ``f`` (``0.weight``...), as the
    library's ``Residual``."""

    def forward(self, x):
        """``x + f(x)``."""
        y = super().forward(x)
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(f"Residual: the block turns {list(x.shape)} into {list(y.shape)}; "
                             f"its output must have its input's shape")
        return x + y


class MLP(Module):
    """nanoGPT's feed-forward part of a block: ``c_fc`` to ``4·n_embd``, GELU, ``c_proj``
    back, dropout."""

    def __init__(self, n_embd, bias=True, dropout=0.0):
        super().__init__()
        self.c_fc = Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = GELU()
        self.c_proj = Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(Module):
    """nanoGPT's pre-norm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``,
    on ``[batch, time, n_embd]``."""

    def __init__(self, n_embd, n_head, bias=True, dropout=0.0):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, bias=bias, dropout=dropout)
        self.ln_2 = LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, bias=bias, dropout=dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


@dataclass
class GPTConfig:
    """The shape of a :class:`GPT`, nanoGPT's ``GPTConfig`` fields (and its defaults), plus
    ``tie_weights``: whether the output layer is the token embedding."""

    block_size: int = 1024
    vocab_size: int = 50304
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True


def _normal_(p, std):
    p.data = (_core.randn(*p.shape) * std).numpy()


class GPT(Module):
    """nanoGPT's ``GPT``: token and position embeddings, ``n_layer`` :class:`Block` s, a final
    layer norm and ``lm_head`` (the token embedding's weight when ``tie_weights``), initialised
    as nanoGPT does (normal weights of deviation 0.02, ``c_proj`` weights
    0.02/√(2·n_layer), zero biases).

    ``model(idx)`` with token indices ``[batch, time]`` gives the logits ``[batch, time,
    vocab_size]``; ``model(idx, targets)`` gives ``(logits, loss)`` as nanoGPT's forward does
    (the mean cross-entropy). :meth:`generate` continues a context. :meth:`from_file` (and
    ``chainrule.nn.load_model``) reads the files ``chainrule train --model gpt --save``
    writes, with their vocabulary (:meth:`encode`, :meth:`decode`)."""

    def __init__(self, config):
        super().__init__()
        c = config
        if c.n_head < 1 or c.n_embd % c.n_head:
            raise ValueError(f"GPT: n_embd {c.n_embd} is not a multiple of n_head {c.n_head}")
        for name in ("vocab_size", "block_size", "n_layer", "n_embd"):
            if getattr(c, name) < 1:
                raise ValueError(f"GPT: {name} must be at least 1")
        self.config = c
        self.vocab = None
        self.transformer = ModuleDict(dict(
            wte=Embedding(c.vocab_size, c.n_embd),
            wpe=Embedding(c.block_size, c.n_embd),
            drop=Dropout(c.dropout),
            h=ModuleList([Block(c.n_embd, c.n_head, c.bias, c.dropout) for _ in range(c.n_layer)]),
            ln_f=LayerNorm(c.n_embd, bias=c.bias),
        ))
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                _normal_(p, 0.02 / math.sqrt(2 * c.n_layer))
            elif name.endswith(".bias"):
                p.data = _np.zeros(p.shape, _np.float32)
            elif ".ln_" in name or name.startswith("transformer.ln_f"):
                p.data = _np.ones(p.shape, _np.float32)
            else:
                _normal_(p, 0.02)
        if c.tie_weights:
            self.lm_head.weight = self.transformer["wte"].weight

    def forward(self, idx, targets=None):
        """The logits ``[batch, time, vocab_size]`` of token indices ``idx`` ``[batch, time]``
        (ints, ``time`` at most ``block_size``); with ``targets`` (ints of ``idx``'s shape)
        ``(logits, loss)``, the loss the mean cross-entropy, as nanoGPT's forward."""
        idx = _np.asarray(idx.numpy() if isinstance(idx, _core.Tensor) else idx)
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(f"GPT: the tokens must be [batch, time] with time ≥ 1, not "
                             f"{list(idx.shape)}")
        b, t = idx.shape
        if t > self.config.block_size:
            raise ValueError(f"GPT: a context of {t} tokens is longer than the model's "
                             f"{self.config.block_size}")
        if idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= self.config.vocab_size:
            raise ValueError(f"GPT: tokens must be ints in [0, {self.config.vocab_size})")
        tr = self.transformer
        x = tr["wte"](idx) + tr["wpe"](_np.arange(t))
        x = tr["drop"](x)
        for block in tr["h"]:
            x = block(x)
        logits = self.lm_head(tr["ln_f"](x))
        if targets is None:
            return logits
        targets = _np.asarray(targets).reshape(-1)
        loss = F.cross_entropy(logits.reshape(b * t, self.config.vocab_size), targets)
        return logits, loss

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        """nanoGPT's ``generate``: ``max_new_tokens`` tokens drawn one after the other after
        the contexts ``idx`` (``[batch, time]`` ints, each step seeing its last
        ``block_size`` tokens) from the softmax of the last logits divided by ``temperature``,
        among the ``top_k`` most likely when given, in evaluation mode and without gradients
        (draws seeded by ``chainrule.manual_seed``). Returns ``[batch, time +
        max_new_tokens]`` ints (NumPy)."""
        if not (temperature > 0 and math.isfinite(temperature)):
            raise ValueError(f"generate: the temperature must be a number above 0, not "
                             f"{temperature}")
        idx = _np.array(idx, dtype=_np.int64)
        if idx.ndim == 1:
            idx = idx[None, :]
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    cond = idx[:, -self.config.block_size:]
                    logits = self(cond).numpy()[:, -1, :].astype(_np.float64) / temperature
                    if top_k is not None:
                        k = min(int(top_k), logits.shape[-1])
                        kth = _np.sort(logits, axis=-1)[:, -k][:, None]
                        logits = _np.where(logits < kth, -_np.inf, logits)
                    p = _np.exp(logits - logits.max(axis=-1, keepdims=True))
                    p /= p.sum(axis=-1, keepdims=True)
                    nxt = _core.multinomial(_core.tensor(p), 1)
                    idx = _np.concatenate([idx, _np.asarray(nxt, dtype=_np.int64).reshape(-1, 1)], 1)
        finally:
            self.train(was_training)
        return idx

    def encode(self, text):
        """The token indices of ``text`` in the model's vocabulary (a model read from a file)."""
        if self.vocab is None:
            raise ValueError("GPT: this model has no vocabulary (it was not read from a file)")
        pos = {ch: i for i, ch in enumerate(self.vocab)}
        bad = [ch for ch in text if ch not in pos]
        if bad:
            raise ValueError(f"GPT: {bad[0]!r} is not in the model's vocabulary")
        return [pos[ch] for ch in text]

    def decode(self, tokens):
        """The text of token indices (a model read from a file)."""
        if self.vocab is None:
            raise ValueError("GPT: this model has no vocabulary (it was not read from a file)")
        return "".join(self.vocab[int(i)] for i in _np.asarray(tokens).reshape(-1))

    @classmethod
    def from_file(cls, path):
        """The language model in ``path``, written by ``chainrule train --model gpt --save``
        (checked as ``chainrule generate`` checks it; a bad file raises ``ModelFileError``),
        in evaluation mode, with its vocabulary."""
        config, vocab, tensors = _core._load_gpt(str(path))
        names = {f.name for f in fields(GPTConfig)}
        model = cls(GPTConfig(**{k: v for k, v in config.items() if k in names}))
        model.load_state_dict(tensors)
        model.vocab = vocab
        model.eval()
        return model

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, "
                f"n_head={c.n_head}, n_embd={c.n_embd}")


__all__ = ["Block", "GPT", "GPTConfig", "MLP", "Residual"]
