"""chainrule: reverse-mode automatic differentiation that shows its work.

Scalars as micrograd's ``Value``::

    >>> from chainrule import Value
    >>> x = Value(2.0, label="x")
    >>> y = 3 * x**2 + 1
    >>> y.backward()
    >>> y.data, x.grad
    (13.0, 12.0)
    >>> print(y.explain())        # the chain rule, step by step   # doctest: +SKIP

Expressions (``parse``), tensors on NumPy arrays (``tensor``), PyTorch-style layers, losses and
optimizers (``chainrule.nn``, ``chainrule.optim``, ``chainrule.functional``), function
transforms as in JAX (``chainrule.func``) and model files shared with the command line
(``save``, ``load``). Every number comes from the Rust library; the explanations and drawings
are derived from the same graph that computes them.
"""

from ._core import (
    ChainruleError,
    Expression,
    ModelFileError,
    ParseError,
    Report,
    ShapeError,
    Value,
    grad as _value_grad,
    parse,
)

__all__ = [
    "ChainruleError",
    "Expression",
    "ModelFileError",
    "ParseError",
    "Report",
    "ShapeError",
    "Value",
    "grad",
    "parse",
]


def grad(output, inputs):
    """Fresh gradients of ``output`` with respect to each of ``inputs``.

    For ``Value``s: a list of numbers, ``d output / d x`` for each ``x`` of ``inputs`` (0 for
    an input the output does not depend on); nothing is accumulated into ``.grad``.
    """
    return _value_grad(output, list(inputs))
