"""micrograd's own engine tests, with the import changed, and a comparison with the micrograd
package itself when it is installed."""

import random

import pytest

from chainrule.micrograd.engine import Value


def test_sanity_check():
    # micrograd's test_sanity_check, with PyTorch's numbers written in.
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == pytest.approx(-20.0)
    assert x.grad == pytest.approx(46.0)


def test_more_ops():
    # micrograd's test_more_ops, with PyTorch's numbers written in.
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    tol = 1e-6
    assert abs(g.data - 24.70408163265306) < tol
    assert abs(a.grad - 138.83381924198252) < tol
    assert abs(b.grad - 645.5772594752187) < tol




def _run(engine_value, seed):
    random.seed(seed)
    x = [engine_value(random.uniform(-2, 2)) for _ in range(4)]
    y = x[0] * x[1] + x[2].relu() * 3 - x[3] ** 2
    for _ in range(5):
        y = (y * 0.5 + x[0]).relu() + (x[1] - y) ** 2 / 7 + 1 / (1 + x[2] ** 2)
    y.backward()
    return y.data, [v.grad for v in x]


def test_the_same_values_and_gradients_as_the_micrograd_package():
    mg = pytest.importorskip("micrograd.engine")
    for seed in range(20):
        ours = _run(Value, seed)
        theirs = _run(mg.Value, seed)
        assert ours[0] == pytest.approx(theirs[0], rel=1e-9, abs=1e-12)
        assert ours[1] == pytest.approx(theirs[1], rel=1e-9, abs=1e-12)


def test_the_moons_demo_trains_as_micrograds_does():
    mg_nn = pytest.importorskip("micrograd.nn")
    mg_engine = pytest.importorskip("micrograd.engine")
    from chainrule.micrograd import nn as cr_nn

    def demo(V, nn):
        random.seed(1337)
        X = [[random.uniform(-1, 1), random.uniform(-1, 1)] for _ in range(20)]
        y = [1 if a * b > 0 else -1 for a, b in X]
        model = nn.MLP(2, [8, 8, 1])
        losses = []
        for k in range(5):
            scores = [model(list(map(V, row))) for row in X]
            data_loss = sum((1 + -yi * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(X))
            reg = 1e-4 * sum((p * p for p in model.parameters()))
            loss = data_loss + reg
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= (1.0 - 0.9 * k / 100) * p.grad
            losses.append(loss.data)
        return losses

    assert demo(Value, cr_nn) == pytest.approx(demo(mg_engine.Value, mg_nn), rel=1e-9)
