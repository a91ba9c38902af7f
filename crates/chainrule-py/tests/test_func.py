"""chainrule.func: transforms of Python functions, composing as in JAX."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.func import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp


def f(x):
    return (x.sin() * x).sum()


X = np.array([0.3, -1.2, 2.0])


def test_grad_and_grad_of_grad():
    g = grad(f)(cr.tensor(X))
    np.testing.assert_allclose(g.numpy(), np.cos(X) * X + np.sin(X))
    gg = grad(lambda x: grad(f)(x).sum())(cr.tensor(X))
    np.testing.assert_allclose(gg.numpy(), -np.sin(X) * X + 2 * np.cos(X))


def test_jacobians_agree_and_hessian_is_jacfwd_of_jacrev():
    h = lambda x: x.exp() * x[0]
    jr = jacrev(h)(cr.tensor(X)).numpy()
    jf = jacfwd(h)(cr.tensor(X)).numpy()
    np.testing.assert_allclose(jr, jf, rtol=1e-12)
    want = np.diag(np.exp(X) * X[0])
    want[:, 0] += np.exp(X)
    np.testing.assert_allclose(jr, want, rtol=1e-12)
    H = hessian(f)(cr.tensor(X)).numpy()
    np.testing.assert_allclose(H, np.diag(-np.sin(X) * X + 2 * np.cos(X)), atol=1e-12)


def test_vjp_and_jvp():
    out, back = vjp(lambda x: x * x, cr.tensor(X))
    (g,) = back(np.ones(3))
    np.testing.assert_allclose(g.numpy(), 2 * X)
    y, t = jvp(lambda x: (x * x).sum(), (cr.tensor(X),), (cr.tensor(np.array([1.0, 0.0, 0.0])),))
    assert t.item() == pytest.approx(2 * X[0])
    v, g = value_and_grad(f)(cr.tensor(X))
    assert v.item() == pytest.approx(np.sum(np.sin(X) * X))
