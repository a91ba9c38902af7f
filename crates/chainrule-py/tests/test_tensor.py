"""Tensors: values against NumPy, gradients against finite differences, NumPy round trips."""

import numpy as np
import pytest

import chainrule as cr


def numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


def check_grad(f, x0, rtol=1e-6, atol=1e-8):
    """f maps a chainrule tensor to a one-element tensor; its gradient against finite
    differences of the same function in float64."""
    x = cr.tensor(x0, requires_grad=True)
    y = f(x)
    y.backward()
    want = numeric_grad(lambda a: f(cr.tensor(a)).item(), x0.copy())
    np.testing.assert_allclose(x.grad, want, rtol=rtol, atol=atol)


rng = np.random.default_rng(0)


@pytest.mark.parametrize("name,f", [
    ("exp", lambda x: x.exp().sum()),
    ("sin·x", lambda x: (x.sin() * x).sum()),
    ("tanh", lambda x: x.tanh().mean()),
    ("sigmoid", lambda x: x.sigmoid().sum()),
    ("softmax", lambda x: (x.softmax(-1) * cr.tensor(np.arange(12.0).reshape(3, 4))).sum()),
    ("log_softmax", lambda x: x.log_softmax(0)[1].sum()),
    ("matmul", lambda x: (x @ x.T).sum()),
    ("broadcast", lambda x: (x + x[0:1] * x[:, 2:3]).sum()),
    ("reductions", lambda x: x.sum(1).max() + x.mean(0, keepdim=True).sum() + x.amin()),
    ("var", lambda x: x.var(1).sum() + x.std()),
    ("indexing", lambda x: x[1:3, ::2].sum() + x[-1, -1] * 2 + x[[0, 2], 1].sum()),
    ("negative step", lambda x: (x[::-1, 1:] * cr.tensor(np.arange(9.0).reshape(3, 3))).sum()),
    ("reshape/permute", lambda x: x.reshape(2, 6).T.reshape(4, 3)[0].sum()),
    ("pow", lambda x: (x ** 2 + 2 ** x + x.abs() ** 0.5).sum()),
    ("clamp/where", lambda x: cr.where(x > 0, x, x * 0.1).sum() + x.clamp(-0.5, 0.5).sum()),
    ("cat/stack", lambda x: cr.cat([x, x * 2], 1).sum() + cr.stack([x, x], 0)[1, 0, 0]),
    ("einsum", lambda x: cr.einsum("ij,kj->ik", x, x).sum()),
    ("division", lambda x: (1 / (x * x + 1) - x / 3).sum()),
])
def test_gradients_match_finite_differences(name, f):
    check_grad(f, rng.normal(size=(3, 4)))


def test_values_match_numpy_with_broadcasting():
    a = rng.normal(size=(3, 1, 4)).astype(np.float32)
    b = rng.normal(size=(2, 4)).astype(np.float32)
    ta, tb = cr.tensor(a), cr.tensor(b)
    for got, want in [(ta + tb, a + b), (ta * tb, a * b), (ta - tb, a - b), (ta / (tb + 5), a / (b + 5))]:
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose((ta.reshape(3, 4) @ tb.T).numpy(), a.reshape(3, 4) @ b.T, rtol=1e-5)
    np.testing.assert_allclose(ta.sum(axis=2, keepdims=True).numpy(), a.sum(axis=2, keepdims=True), rtol=1e-6)


def test_broadcast_gradient_sums_back_to_the_input_shape():
    a = cr.tensor(np.ones((3, 1)), requires_grad=True)
    b = cr.tensor(np.ones((1, 2)), requires_grad=True)
    ((a + b) * 2).sum().backward()
    np.testing.assert_array_equal(a.grad, [[4.0], [4.0], [4.0]])
    np.testing.assert_array_equal(b.grad, [[6.0, 6.0]])


def test_numpy_round_trips_keep_shapes_and_types():
    for dtype in (np.float32, np.float64):
        for shape in [(), (0,), (5,), (2, 3), (2, 0, 3), (1, 2, 3, 4)]:
            a = rng.normal(size=shape).astype(dtype)
            t = cr.tensor(a)
            assert t.dtype == dtype and t.shape == shape
            np.testing.assert_array_equal(t.numpy(), a)
    assert cr.tensor(np.arange(3)).dtype == np.float32  # integers become float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(np.ones(2), dtype="float32").dtype == np.float32


def test_non_contiguous_arrays_are_read_in_their_logical_order():
    a = np.arange(24.0).reshape(4, 6)
    for view in (a[:, ::2], a.T, a[::-1], np.asfortranarray(a), a[1:3, 2:5]):
        np.testing.assert_array_equal(cr.tensor(view).numpy(), view)


def test_numpy_shares_the_data_read_only():
    t = cr.tensor(np.arange(4.0))
    a, b = t.numpy(), t.numpy()
    assert np.shares_memory(a, b)
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    assert np.asarray(t).shape == (4,)


def test_zero_dimensional_values_keep_their_shape():
    # A number or a 0-d array of the other type set into a 0-d tensor, a 0-d condition, and
    # 0-d indices stay 0-d (NumPy's ascontiguousarray would make them of shape [1]).
    for dtype in (np.float32, np.float64):
        s = cr.tensor(np.zeros((), dtype))
        s.data = 4.0
        assert s.shape == () and s.item() == 4.0
        s.data = np.array(5.0, np.float64 if dtype == np.float32 else np.float32)
        assert s.shape == () and s.item() == 5.0 and s.dtype == dtype
    x, y = cr.tensor(np.array(2.0)), cr.tensor(np.array(5.0))
    assert cr.where(np.array(False), x, y).shape == ()
    assert cr.where(np.array(False), x, y).item() == 5.0


def test_no_grad_and_detach():
    w = cr.tensor(np.ones(3), requires_grad=True)
    with cr.no_grad():
        y = w * 2
    assert not y.requires_grad and y.is_leaf
    z = (w * 2).detach()
    assert not z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_twice_needs_retain_graph():
    x = cr.tensor(np.ones(2), requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    z = (x * 3).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])


def test_autograd_grad_and_higher_order():
    x = cr.tensor(np.array([0.5, 1.5]), requires_grad=True)
    y = (x ** 3).sum()
    (g,) = cr.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (h,) = cr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())
    assert x.grad is None


def test_explain_shows_the_shapes():
    x = cr.tensor(np.ones((4, 3), np.float32))
    w = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    loss = x.linear(w).relu().sum()
    assert "[2×3]" in loss.explain()


def test_optimizer_updates_in_place_after_backward():
    w = cr.tensor(np.array([1.0, -2.0], np.float32), requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0]) * 0.8**3, rtol=1e-6)


def test_setitem_writes_leaves_in_place():
    t = cr.tensor(np.zeros((2, 3)))
    t[0, 1:] = 5
    t[1] = cr.tensor(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(t.numpy(), [[0, 5, 5], [1, 2, 3]])
    p = cr.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p[0] = 1
    with cr.no_grad():
        p[0] = 1
    assert p.numpy()[0] == 1
    assert t.sign()[1].tolist() == [1.0, 1.0, 1.0]
