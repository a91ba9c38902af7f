"""Function transforms as in JAX and ``torch.func``: ``grad``, ``value_and_grad``, ``vjp``,
``jvp``, ``jacrev``, ``jacfwd``, ``hessian``, of Python functions written with chainrule tensor
operations. They compose (``hessian = jacfwd(jacrev(f))``, ``grad(grad(f))``): every derivative
is recorded by the library (``Tape::grad_graph`` and ``Tape::jvp``), so it can be differentiated
again.

    >>> import chainrule as cr
    >>> from chainrule.func import grad, hessian
    >>> f = lambda x: (x ** 3).sum()
    >>> x = cr.tensor([1.0, 2.0], dtype="float64")
    >>> grad(f)(x).tolist()          # 3x²
    [3.0, 12.0]
    >>> hessian(f)(x).tolist()       # diag(6x)
    [[6.0, 0.0], [0.0, 12.0]]
"""

import numpy as _np

from . import _core, enable_grad

__all__ = ["grad", "hessian", "jacfwd", "jacrev", "jvp", "value_and_grad", "vjp"]


def _as_input(x):
    """An argument as a tensor that records: kept when it already does (inside another
    transform), else a fresh leaf with ``requires_grad=True`` holding its value."""
    if isinstance(x, _core.Tensor) and x.requires_grad:
        return x
    t = _core.tensor(x) if not isinstance(x, _core.Tensor) else x.detach()
    t.requires_grad = True
    return t


def _argnums(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for {n} arguments")
    return nums


def value_and_grad(f, argnums=0, has_aux=False):
    """A function returning ``(f(*args), gradient)``: the gradient of the one-element output
    with respect to argument ``argnums`` (a tuple of gradients for a tuple of argnums)."""
    def g(*args):
        nums = _argnums(argnums, len(args))
        args = list(args)
        for a in nums:
            args[a] = _as_input(args[a])
        with enable_grad():
            out = f(*args)
        aux = None
        if has_aux:
            out, aux = out
        if not isinstance(out, _core.Tensor):
            raise TypeError("the function must return a tensor")
        if out.numel() != 1:
            raise _core.ShapeError(
                f"grad: the function's output has shape {list(out.shape)}, not one element "
                "(use jacrev or vjp)")
        if not out.requires_grad:
            grads = [_core.zeros(*args[a].shape, dtype=args[a].dtype) for a in nums]
        else:
            grads = _core._autograd(out, [args[a] for a in nums], None, True)
        gr = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((out, aux), gr) if has_aux else (out, gr)
    return g


def grad(f, argnums=0, has_aux=False):
    """A function returning the gradient of ``f`` (whose output has one element) with respect
    to argument ``argnums``, as ``jax.grad``; the gradient is recorded, so ``grad(grad(f))``
    works."""
    vg = value_and_grad(f, argnums, has_aux)

    def g(*args):
        (out, aux), gr = vg(*args) if has_aux else ((None, None), vg(*args)[1])
        return (gr, aux) if has_aux else gr
    return g


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` gives the vector-Jacobian products
    ``uᵀ·∂f/∂primal`` for each primal, as ``jax.vjp``."""
    xs = [_as_input(p) for p in primals]
    with enable_grad():
        out = f(*xs)

    def vjp_fn(cotangent):
        u = cotangent if isinstance(cotangent, _core.Tensor) else _core.tensor(
            _np.asarray(cotangent), dtype=out.dtype)
        if not out.requires_grad:
            return tuple(_core.zeros(*x.shape, dtype=x.dtype) for x in xs)
        return tuple(_core._autograd(out, xs, u, True))
    return out, vjp_fn


def jvp(f, primals, tangents):
    """``(f(*primals), J·tangents)``: the directional derivative by one forward sweep, as
    ``jax.jvp``."""
    xs = [_as_input(p) for p in primals]
    ts = [t if isinstance(t, _core.Tensor) else _core.tensor(_np.asarray(t), dtype=x.dtype)
          for t, x in zip(tangents, xs)]
    if len(ts) != len(xs):
        raise ValueError(f"{len(xs)} primals but {len(ts)} tangents")
    with enable_grad():
        out = f(*xs)
    if not out.requires_grad:
        return out, _core.zeros(*out.shape, dtype=out.dtype)
    return out, _core._jvp([out], xs, ts)[0]


def jacrev(f, argnums=0):
    """The Jacobian ``∂f/∂x`` by reverse mode, one vector-Jacobian product per output element,
    as ``jax.jacrev``: shape ``out.shape + x.shape``."""
    def j(*args):
        nums = _argnums(argnums, 1 if isinstance(argnums, int) else len(args))
        args = list(args)
        a = nums[0]
        args[a] = _as_input(args[a])
        x = args[a]
        with enable_grad():
            out = f(*args)
        n = out.numel()
        if not out.requires_grad:
            return _core.zeros(*(tuple(out.shape) + tuple(x.shape)), dtype=x.dtype)
        rows = []
        for i in range(n):
            seed = _np.zeros(n, dtype=out.dtype)
            seed[i] = 1.0
            seed = _core.tensor(seed.reshape(out.shape), dtype=out.dtype)
            rows.append(_core._autograd(out, [x], seed, True)[0])
        jac = _core.stack(rows, 0)
        return jac.reshape(*(tuple(out.shape) + tuple(x.shape)))
    return j


def jacfwd(f, argnums=0):
    """The Jacobian ``∂f/∂x`` by forward mode, one Jacobian-vector product per input element,
    as ``jax.jacfwd``: shape ``out.shape + x.shape``."""
    def j(*args):
        args = list(args)
        a = argnums
        args[a] = _as_input(args[a])
        x = args[a]
        with enable_grad():
            out = f(*args)
        m = x.numel()
        if not out.requires_grad:
            return _core.zeros(*(tuple(out.shape) + tuple(x.shape)), dtype=x.dtype)
        cols = []
        for k in range(m):
            t = _np.zeros(m, dtype=x.dtype)
            t[k] = 1.0
            t = _core.tensor(t.reshape(x.shape), dtype=x.dtype)
            cols.append(_core._jvp([out], [x], [t])[0].reshape(-1))
        jac = _core.stack(cols, 1)
        return jac.reshape(*(tuple(out.shape) + tuple(x.shape)))
    return j


def hessian(f, argnums=0):
    """The Hessian of a function with one-element output, ``jacfwd(jacrev(f))`` as in JAX."""
    def h(*args):
        def g(*a):
            return grad(f, argnums)(*a)
        return jacfwd(g, argnums)(*args)
    return h
