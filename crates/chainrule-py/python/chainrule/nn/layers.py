"""The layers: ``Linear``, activations, ``Dropout``, convolution, pooling, normalisation,
embeddings and attention, with PyTorch's parameter names, layouts and initialisations."""

import math

import numpy as _np

from .. import _core
from .. import functional as F
from .module import Module, Parameter


def _seed():
    # Draws from the module's generator (``chainrule.manual_seed``).
    return _core._next_seed()


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class Linear(Module):
    """``y = x·Wᵀ + b``, with ``weight`` ``[out_features, in_features]`` and ``bias``
    ``[out_features]``, initialised as PyTorch does (uniform in ``±1/√in_features``), by the
    library's own layer."""

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w, b = _core._linear_init(in_features, out_features, _seed())
        if dtype is not None and _np.dtype(dtype) == _np.float64:
            w, b = Parameter(w.double()), Parameter(b.double())
        self.weight = w
        if bias:
            self.bias = b
        else:
            self.bias = None

    def forward(self, x):
        return x.linear(self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """``max(x, 0)``. ``inplace`` is accepted for PyTorch's signature; the output is always a
    new tensor, which is what the graph needs."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.relu()


class Tanh(Module):
    """The hyperbolic tangent."""

    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    """The logistic function."""

    def forward(self, x):
        return x.sigmoid()


class GELU(Module):
    """The Gaussian error linear unit: exact by default, or by its tanh form with
    ``approximate="tanh"`` (GPT-2's)."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return x.gelu(self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """``x · sigmoid(x)`` (the swish). ``inplace`` is accepted, as for :class:`ReLU`."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.silu()


class ELU(Module):
    """``x`` where ``x > 0``, ``alpha·(e^x − 1)`` elsewhere. ``inplace`` is accepted, as for
    :class:`ReLU`."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return x.elu(self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class LeakyReLU(Module):
    """``x`` where ``x > 0``, ``negative_slope · x`` elsewhere. ``inplace`` is accepted, as for
    :class:`ReLU`."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """``ln(1 + e^(beta·x)) / beta``, and ``x`` itself where ``beta·x > threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """``ln sigmoid(x)``, stable for any ``x``."""

    def forward(self, x):
        return x.log_sigmoid()


class Softmax(Module):
    """Softmax along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.softmax(self.dim)


class Dropout(Module):
    """Zeroes elements with probability ``p`` in training (scaling the rest by ``1/(1-p)``);
    nothing in evaluation."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """Dimensions ``start_dim..=end_dim`` merged (by default all but the batch)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


def _uniform(shape, bound):
    u = _core.rand(*shape)
    return Parameter((u * (2 * bound) - bound).numpy())


class Conv2d(Module):
    """Two-dimensional convolution, as ``torch.nn.Conv2d``: ``weight`` ``[out, in/groups, kh,
    kw]``, ``bias`` ``[out]``, PyTorch's initialisation (uniform in ``±1/√(in/groups·kh·kw)``);
    ``padding`` an int, a pair, ``'valid'`` or ``'same'``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: {in_channels} input and {out_channels} output channels "
                             f"do not divide into {groups} groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.dilation, self.groups = dilation, groups
        bound = 1 / math.sqrt(in_channels // groups * kh * kw)
        self.weight = _uniform((out_channels, in_channels // groups, kh, kw), bound)
        self.bias = _uniform((out_channels,), bound) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """The maximum of each window (the stride defaults to the window)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The average of each window."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _BatchNorm(Module):
    """The batch normalisations' shared part: ``weight`` and ``bias`` per feature (with
    ``affine``), and the buffers ``running_mean``, ``running_var`` and ``num_batches_tracked``
    (with ``track_running_stats``), PyTorch's names. In training the batch's statistics
    normalise and the running ones follow them (by ``momentum``, or their cumulative average
    when ``momentum`` is ``None``); in evaluation the running ones normalise."""

    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(_np.ones(num_features, dtype=_np.float32))
            self.bias = Parameter(_np.zeros(num_features, dtype=_np.float32))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", _core.zeros(num_features))
            self.register_buffer("running_var", _core.ones(num_features))
            self.register_buffer("num_batches_tracked", _core.tensor(_np.zeros((), _np.float32)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _check(self, x):
        if len(x.shape) not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input of shape "
                             f"{self._shape_text}, got {len(x.shape)}D input of shape "
                             f"{list(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: the input {list(x.shape)} has "
                             f"{x.shape[1]} channels but the layer normalises "
                             f"{self.num_features} (running_mean [{self.num_features}])")

    def reset_running_stats(self):
        """Running mean 0, variance 1, no batch counted."""
        if self.track_running_stats:
            self.running_mean.data = _np.zeros(self.num_features, _np.float32)
            self.running_var.data = _np.ones(self.num_features, _np.float32)
            self.num_batches_tracked.data = _np.zeros((), _np.float32)

    def forward(self, x):
        """The input normalised per channel (or feature): by the batch's statistics in
        training, counting the batch in ``num_batches_tracked``, by the running ones in
        evaluation."""
        self._check(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        use_batch = self.training or not self.track_running_stats
        counts = self.training and self.track_running_stats
        if counts:
            n = float(self.num_batches_tracked.item()) + 1
            if self.momentum is None:
                momentum = 1.0 / n
        running = self.track_running_stats and (self.training or not use_batch)
        y = F.batch_norm(x, self.running_mean if running else None,
                         self.running_var if running else None, self.weight, self.bias,
                         use_batch, momentum, self.eps)
        if counts:
            self.num_batches_tracked.data = _np.array(n, dtype=_np.float32)
        return y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``[batch, features]`` (or ``[batch, channels, length]``) over
    the batch (and the length), as ``torch.nn.BatchNorm1d``."""

    _dims = (2, 3)
    _shape_text = "[batch, features] or [batch, channels, length]"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over the channels of ``[batch, channels, height, width]``, as
    ``torch.nn.BatchNorm2d``."""

    _dims = (4,)
    _shape_text = "[batch, channels, height, width]"


class AdaptiveAvgPool2d(Module):
    """The average over windows that divide each plane into ``output_size`` (an int or a pair)
    parts, as ``torch.nn.AdaptiveAvgPool2d``; ``AdaptiveAvgPool2d(1)`` is global average
    pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class LayerNorm(Module):
    """Layer normalisation over the last dimensions ``normalized_shape``, as
    ``torch.nn.LayerNorm`` (``bias=False`` leaves the bias out, as nanoGPT's)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        if elementwise_affine:
            self.weight = Parameter(_np.ones(shape, dtype=_np.float32))
            self.bias = Parameter(_np.zeros(shape, dtype=_np.float32)) if bias else None
        else:
            self.weight = self.bias = None

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class Embedding(Module):
    """A table of ``num_embeddings`` rows of ``embedding_dim``, looked up by index (normal
    initialisation, as PyTorch)."""

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(_core.randn(num_embeddings, embedding_dim).numpy())

    def forward(self, idx):
        return F.embedding(idx, self.weight)


class CausalSelfAttention(Module):
    """nanoGPT's causal self-attention: ``c_attn`` projects ``[batch, time, n_embd]`` to
    queries, keys and values, ``n_head`` heads attend causally (the library's fused attention),
    ``c_proj`` projects back. In training, ``dropout`` applies to the attention weights (then
    composed from their operations: scores, causal mask, softmax, dropout) and to the output,
    as nanoGPT's ``attn_dropout`` and ``resid_dropout``."""

    def __init__(self, n_embd, n_head, bias=True, dropout=0.0):
        super().__init__()
        if n_head < 1 or n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd {n_embd} is not a multiple of "
                             f"n_head {n_head}")
        self.n_embd, self.n_head, self.dropout = n_embd, n_head, dropout
        self.c_attn = Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = Linear(n_embd, n_embd, bias=bias)

    def forward(self, x):
        if len(x.shape) != 3 or x.shape[2] != self.n_embd:
            raise ValueError(f"CausalSelfAttention: expected [batch, time, {self.n_embd}], "
                             f"got {list(x.shape)}")
        qkv = self.c_attn(x)
        if self.training and self.dropout:
            y = self._attention_with_dropout(qkv)
        else:
            y = F.causal_self_attention(qkv, self.n_head)
        y = self.c_proj(y)
        return F.dropout(y, self.dropout, self.training) if self.dropout else y

    def _attention_with_dropout(self, qkv):
        b, t, c3 = qkv.shape
        c = c3 // 3
        hs = c // self.n_head
        q, k, v = (qkv[:, :, i * c:(i + 1) * c].reshape(b, t, self.n_head, hs).transpose(1, 2)
                   for i in range(3))
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        hidden = _core.tensor(_np.array(-_np.inf, dtype=scores.dtype))
        weights = F.softmax(_core.where(_np.tril(_np.ones((t, t), bool)), scores, hidden), -1)
        weights = F.dropout(weights, self.dropout, True)
        return (weights @ v).transpose(1, 2).reshape(b, t, c)

    def extra_repr(self):
        return f"n_embd={self.n_embd}, n_head={self.n_head}"
