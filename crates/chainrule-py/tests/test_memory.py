"""Memory over many steps: the graphs of finished steps are freed or their arena reused."""

import numpy as np

import chainrule as cr
from chainrule import Value


def test_a_micrograd_loop_of_10000_steps_keeps_its_node_count():
    w = [Value(0.1 * i) for i in range(3)]
    counts = []
    for step in range(10_000):
        x = [Value(1.0), Value(-2.0), Value(0.5)]
        loss = (sum(wi * xi for wi, xi in zip(w, x)) - 1.0) ** 2
        for p in w:
            p.grad = 0
        loss.backward()
        for p in w:
            p.data -= 0.01 * p.grad
        if step % 1000 == 999:
            counts.append(cr._core._live_values())
    assert max(counts) == min(counts), counts
    assert loss.data < 1e-6


def test_a_tensor_training_loop_reuses_its_tape():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    x = cr.tensor(np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32))
    y = cr.tensor(np.ones((16, 1), np.float32))
    peaks = []
    for step in range(2000):
        opt.zero_grad()
        loss = cr.functional.mse_loss(model(x), y)
        peaks.append(cr._core._tape_nodes()[0])
        loss.backward()
        opt.step()
        assert cr._core._tape_nodes()[0] == 0  # freed by backward
    assert max(peaks[100:]) == max(peaks[:100])


def test_a_loop_without_backward_under_no_grad_records_nothing():
    w = cr.tensor(np.ones((3, 3), np.float32), requires_grad=True)
    for _ in range(1000):
        with cr.no_grad():
            out = (cr.tensor(np.ones((2, 3), np.float32)) @ w).relu()
    assert cr._core._tape_nodes()[0] == 0
    assert not out.requires_grad
