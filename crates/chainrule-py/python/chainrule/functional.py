"""Tensor functions with ``torch.nn.functional``'s names and signatures (``import
chainrule.functional as F``): activations, the layers' operations (linear, convolution,
pooling, normalisation, attention, dropout) and the losses.

Every function is one or a few of the library's tensor operations, so gradients (of any order)
come from the library's rules.
"""

import math as _math

import numpy as _np

from . import _core
from ._core import (
    Tensor,
    avg_pool2d,
    batch_norm,
    causal_self_attention,
    layer_norm,
    max_pool2d,
    multinomial,
    pad,
    scaled_dot_product_attention,
)

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits",
    "causal_self_attention", "conv2d", "cross_entropy", "dropout", "elu", "embedding", "gelu",
    "hinge_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool2d",
    "mse_loss", "multinomial", "nll_loss", "one_hot", "pad", "relu", "scaled_dot_product_attention",
    "sigmoid", "silu", "softmax", "softplus", "tanh",
]


def relu(x):
    """``max(x, 0)``, element-wise."""
    return x.relu()


def sigmoid(x):
    """The logistic function, element-wise."""
    return x.sigmoid()


def tanh(x):
    """The hyperbolic tangent, element-wise."""
    return x.tanh()


def gelu(x, approximate="none"):
    """The Gaussian error linear unit ``x·Φ(x)``, element-wise: exact by default, or by its
    tanh form with ``approximate="tanh"`` (GPT-2's), as ``F.gelu``."""
    return x.gelu(approximate)


def silu(x):
    """``x · sigmoid(x)``, element-wise (the swish)."""
    return x.silu()


def elu(x, alpha=1.0):
    """``x`` where ``x > 0``, ``alpha·(e^x − 1)`` elsewhere; its derivative at 0 is ``alpha``."""
    return x.elu(alpha)


def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x > 0``, ``negative_slope · x`` elsewhere; its derivative at 0 is
    ``negative_slope``."""
    return x.leaky_relu(negative_slope)


def logsigmoid(x):
    """``ln sigmoid(x)``, element-wise, stable for any ``x``."""
    return x.log_sigmoid()


def softplus(x, beta=1.0, threshold=20.0):
    """``ln(1 + e^(beta·x)) / beta``, element-wise, and ``x`` itself where ``beta·x >
    threshold``, as ``F.softplus``; its derivative is ``sigmoid(beta·x)`` (1 above the
    threshold).

    With the defaults this is one operation of the library; other values compose it with
    ``where`` (above a threshold over 20 the library's softplus is already linear, within
    ``e^-20`` of ``ln(1 + e^z)``)."""
    beta, threshold = float(beta), float(threshold)
    if not (_math.isfinite(beta) and beta != 0.0):
        raise _core.ChainruleError(f"softplus: beta must be a finite non-zero number, got {beta}")
    if _math.isnan(threshold):
        raise _core.ChainruleError("softplus: threshold must be a number, got nan")
    if beta == 1.0 and threshold == 20.0:
        return x.softplus()
    bx = x * beta
    # Clamped so that the branch not taken neither overflows nor sends back a NaN gradient.
    return _core.where(bx > threshold, x, bx.clamp(max=threshold).softplus() / beta)


def softmax(x, dim=-1):
    """Softmax along ``dim``."""
    return x.softmax(dim)


def log_softmax(x, dim=-1):
    """The logarithm of the softmax along ``dim``, computed stably."""
    return x.log_softmax(dim)


def linear(input, weight, bias=None):
    """``input · weightᵀ + bias``, fused, as ``torch.nn.functional.linear``."""
    return input.linear(weight, bias)


def dropout(input, p=0.5, training=True):
    """Zeroes each element with probability ``p`` and scales the others by ``1/(1-p)`` in
    training (seeded by ``chainrule.manual_seed``); the input itself otherwise."""
    return _core.dropout(input, p, training)


def _pair(v, what):
    if isinstance(v, int):
        return v, v
    v = tuple(v)
    if len(v) != 2:
        raise TypeError(f"{what} is an int or a pair of ints")
    return v


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Two-dimensional convolution, as ``torch.nn.functional.conv2d``: ``input`` ``[batch,
    channels, height, width]`` (or without the batch), ``weight`` ``[out, in/groups, kh,
    kw]``, ``bias`` ``[out]``; ``stride``, ``padding`` and ``dilation`` ints or pairs, or
    ``padding='valid'`` (none) or ``'same'`` (the output as large as the input, at stride 1;
    an odd total padding puts the extra row and column at the end, as PyTorch does)."""
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if _pair(stride, "stride") != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided "
                                 "convolutions")
            if len(weight.shape) != 4:
                raise _core.ShapeError(f"conv2d: expected weights of shape [out, in / groups, "
                                       f"kh, kw], got {list(weight.shape)}")
            dh, dw = _pair(dilation, "dilation")
            th, tw = dh * (weight.shape[2] - 1), dw * (weight.shape[3] - 1)
            if th % 2 or tw % 2:
                input = _core.pad(input, (tw // 2, tw - tw // 2, th // 2, th - th // 2))
                padding = 0
            else:
                padding = (th // 2, tw // 2)
        else:
            raise ValueError(f"conv2d: padding is an int, a pair, 'valid' or 'same', not "
                             f"{padding!r}")
    return _core.conv2d(input, weight, bias, stride, padding, dilation, groups)


def adaptive_avg_pool2d(input, output_size):
    """The average over windows that divide each plane of ``[batch, channels, height, width]``
    (or ``[channels, height, width]``) into ``output_size`` (an int or a pair) parts, as
    ``torch.nn.functional.adaptive_avg_pool2d``: window ``i`` of ``n`` along a side of ``s``
    spans ``floor(i·s/n)`` to ``ceil((i+1)·s/n)``. Sizes that divide the input run as one
    library operation; others as one average per window."""
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    shape = list(input.shape)
    if len(shape) not in (3, 4):
        raise _core.ShapeError(f"adaptive_avg_pool2d: expected an input of shape [batch, "
                               f"channels, height, width] or [channels, height, width], got "
                               f"{shape}")
    h, w = shape[-2:]
    if oh < 1 or ow < 1:
        raise _core.ShapeError(f"adaptive_avg_pool2d: the output size must be at least 1×1, "
                               f"got {oh}×{ow} (input {shape})")
    if h % oh == 0 and w % ow == 0:
        return _core.adaptive_avg_pool2d(input, (oh, ow))
    rows = []
    for i in range(oh):
        h0, h1 = i * h // oh, -(-(i + 1) * h // oh)
        cols = [input[..., h0:h1, j * w // ow:-(-(j + 1) * w // ow)].mean((-2, -1))
                for j in range(ow)]
        rows.append(_core.stack(cols, -1))
    return _core.stack(rows, -2)


def embedding(input, weight):
    """The rows of ``weight`` at the positions ``input`` (ints of any shape), as
    ``torch.nn.functional.embedding``; gradients flow back into the rows picked."""
    idx = _np.asarray(input.numpy() if isinstance(input, Tensor) else input)
    if len(weight.shape) != 2:
        raise _core.ShapeError(f"embedding: expected a weight [num_embeddings, embedding_dim], "
                               f"got {list(weight.shape)} (indices {list(idx.shape)})")
    if idx.dtype.kind not in "iu" and idx.size:
        raise TypeError(f"embedding: indices must be ints, not {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for a weight of {n} rows "
                         f"{list(weight.shape)}")
    rows = weight.index_select(0, idx.reshape(-1).astype(_np.int64))
    return rows.reshape(*idx.shape, weight.shape[1])


def one_hot(targets, num_classes):
    """The class labels ``targets`` as rows of zeros with a one at the label (float32)."""
    t = _np.asarray(targets).astype(_np.int64)
    out = _np.zeros(t.shape + (num_classes,), dtype=_np.float32)
    _np.put_along_axis(out, t[..., None], 1.0, axis=-1)
    return _core.tensor(out)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def mse_loss(input, target, reduction="mean"):
    """The squared error ``(input - target)²``, reduced by its mean (``reduction='mean'``), its
    sum or not at all, as ``torch.nn.functional.mse_loss``."""
    d = input - target
    return _reduce(d * d, reduction)


def _labels(target):
    if isinstance(target, Tensor):
        target = target.numpy()
    return _np.asarray(target)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """The negative log-likelihood of log-probabilities ``input`` ``[batch, classes]`` at the
    class indices ``target``, as ``torch.nn.functional.nll_loss``."""
    return _cross_entropy_from_log_probs(input, target, weight, ignore_index, reduction, 0.0)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """The cross-entropy of logits ``input`` ``[batch, classes]`` (or ``[batch, classes, ...]``)
    against class indices ``target``, as ``torch.nn.functional.cross_entropy``: with a weight
    per class, an ``ignore_index`` whose rows count for nothing, ``reduction`` ``'mean'`` (a
    weighted mean over the rows not ignored), ``'sum'`` or ``'none'``, and ``label_smoothing``
    (the target mixes the label with the uniform distribution). Class probabilities as targets
    (a float array of the logits' shape) work too. Stable for any finite logits."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0 and 1, not {label_smoothing}")
    if (weight is None and reduction == "mean" and label_smoothing == 0.0
            and isinstance(input, Tensor) and len(input.shape) == 2):
        t = _labels(target)
        if (t.ndim == 1 and t.dtype.kind in "iu" and t.shape[0] == input.shape[0] and t.size
                and t.min() >= 0 and (ignore_index < 0 or not (t == ignore_index).any())):
            # No option in use: the library's own loss, in one call.
            return _core._cross_entropy(input, _np.ascontiguousarray(t, dtype=_np.int64))
    return _cross_entropy_from_log_probs(input.log_softmax(1), target, weight, ignore_index,
                                         reduction, label_smoothing)


def _cross_entropy_from_log_probs(logp, target, weight, ignore_index, reduction, smoothing):
    shape = logp.shape
    if len(shape) < 2:
        raise _core.ShapeError(
            f"cross_entropy: expected logits of shape [batch, classes], got {list(shape)}")
    classes = shape[1]
    if len(shape) > 2:
        # [batch, classes, d1, ...] -> [batch·d1·..., classes]
        perm = [0] + list(range(2, len(shape))) + [1]
        logp = logp.permute(*perm).reshape(-1, classes)
    t = _labels(target)
    if t.dtype.kind == "f" and t.shape == tuple(shape):
        probs = t if len(shape) == 2 else _np.moveaxis(t, 1, -1).reshape(-1, classes)
        w = _np.ones(classes, dtype=probs.dtype) if weight is None else _np.asarray(weight)
        if smoothing:
            probs = probs * (1 - smoothing) + smoothing / classes
        per_row = -(logp * _core.tensor((probs * w).astype(_np.float64 if logp.dtype == _np.float64 else _np.float32))).sum(1)
        if reduction == "mean":
            return per_row.sum() / logp.shape[0]
        return _reduce(per_row, reduction)
    t = t.reshape(-1)
    if t.dtype.kind not in "iu" and not (t.dtype.kind == "f" and _np.all(t == _np.floor(t))):
        raise TypeError("cross_entropy: targets must be class indices (ints)")
    t = t.astype(_np.int64)
    if t.shape[0] != logp.shape[0]:
        raise _core.ShapeError(
            f"cross_entropy: {logp.shape[0]} rows of logits but {t.shape[0]} targets")
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= classes))
    if _np.any(bad):
        raise IndexError(
            f"cross_entropy: target {int(t[bad][0])} is out of bounds for {classes} classes")
    safe = _np.where(keep, t, 0)
    w = _np.ones(classes) if weight is None else _np.asarray(weight.numpy() if isinstance(weight, Tensor) else weight, dtype=_np.float64)
    row_w = _np.where(keep, w[safe], 0.0)
    picked = logp.gather(1, safe.reshape(-1, 1)).reshape(-1)
    dt = _np.float64 if logp.dtype == _np.float64 else _np.float32
    loss = -(picked * _core.tensor(row_w.astype(dt)))
    if smoothing:
        # PyTorch: (1 - ε)·nll + ε·mean over classes of (-w_c · logp_c)
        smooth = -(logp * _core.tensor(w.astype(dt))).sum(1) / classes
        smooth = smooth * _core.tensor(keep.astype(dt))
        loss = loss * (1 - smoothing) + smooth * smoothing
    if reduction == "mean":
        total = float(row_w.sum())
        return loss.sum() / total if total > 0 else loss.sum() * 0.0
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """The binary cross-entropy of logits against targets in ``[0, 1]``, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``:
    ``max(x, 0) - x·y + log(1 + e^-|x|)`` per element (with ``pos_weight`` scaling the positive
    term), stable for any finite logits."""
    softplus_neg_abs = (-(input.abs())).exp().__add__(1.0).log()
    if pos_weight is None:
        loss = input.relu() - input * target + softplus_neg_abs
    else:
        # (1 - y)·x + (1 + (p - 1)·y)·softplus(-x), with softplus(-x) = relu(-x) + log(1 + e^-|x|)
        lw = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + lw * ((-input).relu() + softplus_neg_abs)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def hinge_loss(scores, targets):
    """micrograd's demo loss ``mean(relu(1 - y·score))`` for targets of ±1."""
    return (1 - targets * scores).relu().mean()
