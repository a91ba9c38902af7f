"""chainrule: reverse-mode automatic differentiation that shows its work.

Scalars as micrograd's ``Value``::

    >>> from chainrule import Value
    >>> x = Value(2.0, label="x")
    >>> y = 3 * x**2 + 1
    >>> y.backward()
    >>> y.data, x.grad
    (13.0, 12.0)

``print(y.explain())`` writes the chain rule out step by step; in a notebook a value shows its
graph, and ``y.report()`` the interactive page. ``parse("3*x^2 + 1")`` reads the expression
language. Tensors on NumPy arrays (``tensor``), PyTorch-style layers, losses and optimizers
(``chainrule.nn``, ``chainrule.functional``, ``chainrule.optim``), function transforms as in JAX
(``chainrule.func``), the library's data sets (``chainrule.data``) and model files shared with
the command line (``save``, ``load``, ``load_model``) complete it. Every number comes from the
Rust library, and every explanation and drawing from the same graph that computed it.

Memory
------
A ``Value`` holds the values it was computed from and nothing else holds them: a graph is freed
when its last value is dropped (rebinding ``loss`` frees the previous step's), whatever lives on
(parameters). ``backward()`` records the graph into the library's arena and runs the library's
sweep there.

Tensors record onto one tape per thread and element type. ``backward()`` frees the graph, as
PyTorch does (``retain_graph=True`` keeps it), and the tape is reused for the next step with its
buffers; a tape no tensor reaches any more is reused too. Tensors made from data, parameters and
results computed without gradient hold their own values and pin no tape. What keeps a graph
alive is what keeps one alive in PyTorch: a tensor computed since the last ``backward()`` (holding
``loss`` holds its graph). Evaluate under ``no_grad()``: a loop that never calls ``backward()``
and keeps its previous output while computing the next keeps the whole recording.
"""

import contextlib as _contextlib

from . import _core
from ._core import (
    ChainruleError,
    Expression,
    ModelFileError,
    ParseError,
    Report,
    ShapeError,
    Tensor,
    Value,
    arange,
    cat,
    einsum,
    eye,
    full,
    is_grad_enabled,
    load,
    load_metadata,
    manual_seed,
    ones,
    parse,
    rand,
    randn,
    save,
    stack,
    tensor,
    zeros,
)

where = getattr(_core, "where")
concat = cat

float32 = "float32"
float64 = "float64"

__all__ = [
    "ChainruleError", "Expression", "ModelFileError", "ParseError", "Report", "ShapeError",
    "Tensor", "Value", "abs", "arange", "cat", "concat", "cos", "einsum", "enable_grad", "erf",
    "exp", "expm1", "eye", "float32", "float64", "from_numpy", "full", "gelu", "grad",
    "is_grad_enabled", "load", "load_metadata", "load_model", "log", "log1p", "manual_seed",
    "matmul", "maximum", "minimum",
    "no_grad", "ones", "ones_like", "parse", "rand", "randn", "relu", "save", "set_grad_enabled",
    "sigmoid", "sin", "sqrt", "stack", "tan", "tanh", "tensor", "where", "zeros", "zeros_like",
]


class no_grad(_contextlib.ContextDecorator):
    """Operations inside record no gradient (as ``torch.no_grad``): their results hold their
    own values and pin no graph. Works as a context manager and as a decorator."""

    def __enter__(self):
        self._prev = _core._set_grad_enabled(False)
        return self

    def __exit__(self, *exc):
        _core._set_grad_enabled(self._prev)
        return False


class enable_grad(_contextlib.ContextDecorator):
    """Operations inside record gradients, even within ``no_grad()`` (as ``torch.enable_grad``)."""

    def __enter__(self):
        self._prev = _core._set_grad_enabled(True)
        return self

    def __exit__(self, *exc):
        _core._set_grad_enabled(self._prev)
        return False


class set_grad_enabled(_contextlib.ContextDecorator):
    """Turns gradient recording on or off: at once, and back when used as a context manager."""

    def __init__(self, mode):
        self._prev = _core._set_grad_enabled(bool(mode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _core._set_grad_enabled(self._prev)
        return False


def from_numpy(array):
    """A tensor holding a copy of ``array`` (float64 stays float64, float32 stays float32)."""
    return tensor(array)


def zeros_like(t, requires_grad=False):
    """Zeros of ``t``'s shape and type."""
    return zeros(*t.shape, dtype=t.dtype, requires_grad=requires_grad)


def ones_like(t, requires_grad=False):
    """Ones of ``t``'s shape and type."""
    return ones(*t.shape, dtype=t.dtype, requires_grad=requires_grad)


def grad(output, inputs, grad_output=None, create_graph=False):
    """Fresh gradients of ``output`` with respect to each of ``inputs``, accumulating nothing.

    For ``Value``s: a list of numbers, ``d output / d x`` for each ``x`` (0 where the output
    does not depend on it). For tensors: a list of tensors, as ``torch.autograd.grad``, recorded
    when ``create_graph`` (so they can be differentiated again); ``grad_output`` seeds an output
    of more than one element.
    """
    inputs = list(inputs)
    if isinstance(output, Value):
        return _core.grad(output, inputs)
    return _core._autograd(output, inputs, grad_output, create_graph)


def _elementwise(name, doc):
    def f(x):
        if isinstance(x, (Value, Tensor)):
            return getattr(x, name)()
        return getattr(Value(float(x)), name)().data
    f.__name__ = name
    f.__doc__ = doc
    return f


exp = _elementwise("exp", "``e^x`` of a Value, a Tensor (element-wise) or a number.")
log = _elementwise("log", "The natural logarithm of a Value, a Tensor or a number.")
sqrt = _elementwise("sqrt", "The square root of a Value, a Tensor or a number.")
sin = _elementwise("sin", "The sine of a Value, a Tensor or a number.")
cos = _elementwise("cos", "The cosine of a Value, a Tensor or a number.")
tan = _elementwise("tan", "The tangent of a Value, a Tensor or a number.")
tanh = _elementwise("tanh", "The hyperbolic tangent of a Value, a Tensor or a number.")
sigmoid = _elementwise("sigmoid", "The logistic function of a Value, a Tensor or a number.")
relu = _elementwise("relu", "``max(x, 0)`` of a Value, a Tensor or a number.")
gelu = _elementwise("gelu", "The GELU of a Value, a Tensor or a number.")
erf = _elementwise("erf", "The error function of a Value, a Tensor or a number.")
abs = _elementwise("abs", "``|x|`` of a Value, a Tensor or a number.")
log1p = _elementwise("log1p", "``ln(1 + x)`` of a Value, a Tensor or a number, accurate for "
                                "small ``x``.")
expm1 = _elementwise("expm1", "``e^x − 1`` of a Value, a Tensor or a number, accurate for small "
                              "``x``.")


def maximum(a, b):
    """The larger of ``a`` and ``b`` (element-wise for tensors)."""
    return a.maximum(b) if isinstance(a, Tensor) else a.max(b)


def minimum(a, b):
    """The smaller of ``a`` and ``b`` (element-wise for tensors)."""
    return a.minimum(b) if isinstance(a, Tensor) else a.min(b)


def matmul(a, b):
    """The matrix product ``a @ b``."""
    return a @ b


def load_model(path):
    """A model written by ``chainrule train --save``: a :class:`chainrule.nn.Classifier`
    (or regressor; a perceptron or a convolutional network) with the file's weights, buffers,
    class names and standardisation, whose ``predict(features)`` gives what ``chainrule
    predict`` gives, or for ``--model gpt`` a :class:`chainrule.nn.GPT` with its vocabulary
    (``encode``, ``generate``, ``decode``)."""
    from .nn import load_model as _load_model
    return _load_model(path)


from . import autograd, data, func, functional, nn, optim  # noqa: E402

Parameter = nn.Parameter
