"""The activations beyond ReLU, tanh, sigmoid and GELU (softplus, logsigmoid, SiLU, ELU, leaky
ReLU, GELU's tanh form, log1p, expm1): their modules, their parameters and errors, float32,
second derivatives, and networks trained with them by the command line and loaded here. Their
values and gradients against PyTorch's are in test_layers.py."""

import json
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from conftest import run

GRID = np.concatenate([np.linspace(-12, 12, 97), [0.0, 1e-7, -1e-7, 19.9, 20.1, 25.0]])

ACTIVATIONS = {
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "elu": lambda x: F.elu(x, alpha=0.7),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "logsigmoid": F.logsigmoid,
    "softplus": F.softplus,
    "softplus_beta": lambda x: F.softplus(x, beta=2.0, threshold=5.0),
    "expm1": cr.expm1,
    "log1p": lambda x: cr.log1p(x.abs()),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_float32_agrees_with_float64(name):
    f = ACTIVATIONS[name]
    outs, grads = [], []
    for dtype in (cr.float64, cr.float32):
        x = cr.tensor(GRID, dtype=dtype, requires_grad=True)
        y = f(x)
        assert y.dtype == np.dtype(dtype)
        y.sum().backward()
        outs.append(y.numpy().astype(np.float64))
        grads.append(np.asarray(x.grad, dtype=np.float64))
    # A few float32 roundings of each input, of its rule's steps and of the float64 truth. GELU's
    # tanh form is computed in PyTorch's order, x/2 · (1 + tanh(u)), whose sum cancels where
    # tanh(u) is near -1, as in PyTorch's float32 (which gives -0.0 at x = -5.25), and so does
    # its derivative's 1 − tanh²(u): there the error is a rounding of 1 times |x|/2, and times
    # x/2 · du/dx (about 9 at x = -5) for the derivative.
    atol = 1e-6 if name == "gelu_tanh" else 2e-7
    np.testing.assert_allclose(outs[1], outs[0], rtol=2e-6, atol=atol, err_msg=name)
    np.testing.assert_allclose(grads[1], grads[0], rtol=2e-6, atol=atol, err_msg=name)


def test_second_derivatives_are_the_closed_forms():
    x0 = np.array([-3.0, -0.5, 0.25, 2.0])
    s = 1 / (1 + np.exp(-x0))
    for f, want in [(F.softplus, s * (1 - s)),                        # sigmoid'
                    (F.logsigmoid, -s * (1 - s)),                     # (1 − s)'
                    (lambda x: F.elu(x, 1.5), np.where(x0 > 0, 0.0, 1.5 * np.exp(x0))),
                    (cr.expm1, np.exp(x0))]:
        x = cr.tensor(x0, requires_grad=True)
        (g,) = cr.autograd.grad(f(x).sum(), [x], create_graph=True)
        (h,) = cr.autograd.grad(g.sum(), [x])
        np.testing.assert_allclose(h.numpy(), want, rtol=1e-12, atol=1e-15)


def test_softplus_with_a_beta_has_finite_gradients_far_out():
    x = cr.tensor(np.array([-1000.0, -40.0, 0.0, 2.5, 40.0, 1000.0]), requires_grad=True)
    y = F.softplus(x, beta=2.0, threshold=5.0)
    y.sum().backward()
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-2 * x.numpy())), rtol=1e-12)
    np.testing.assert_allclose(y.numpy()[[0, 2, 5]], [0.0, math.log(2) / 2, 1000.0], atol=1e-300)


def test_values_and_numbers_take_the_same_functions():
    assert cr.log1p(1e-10) == pytest.approx(1e-10, rel=1e-15)
    assert cr.expm1(1e-10) == pytest.approx(1e-10, rel=1e-15)

    def f(v):
        return v.elu(alpha=2.0) + v.leaky_relu(negative_slope=0.1) + v.gelu(approximate="tanh")

    v = cr.Value(-0.5)
    y = f(v)
    y.backward()
    gelu_t = 0.5 * -0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (-0.5 + 0.044715 * -0.125)))
    assert y.data == pytest.approx(2 * math.expm1(-0.5) - 0.05 + gelu_t, rel=1e-14)
    h = 1e-6
    fd = (f(cr.Value(-0.5 + h)).data - f(cr.Value(-0.5 - h)).data) / (2 * h)
    assert v.grad == pytest.approx(fd, rel=1e-8)


@pytest.mark.parametrize("module,fn,text", [
    (nn.SiLU(), F.silu, "SiLU()"),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5), "ELU(alpha=0.5)"),
    (nn.LeakyReLU(0.2, inplace=True), lambda x: F.leaky_relu(x, 0.2),
     "LeakyReLU(negative_slope=0.2)"),
    (nn.Softplus(beta=2.0, threshold=5.0), lambda x: F.softplus(x, 2.0, 5.0),
     "Softplus(beta=2.0, threshold=5.0)"),
    (nn.LogSigmoid(), F.logsigmoid, "LogSigmoid()"),
    (nn.GELU(approximate="tanh"), lambda x: F.gelu(x, "tanh"), "GELU(approximate='tanh')"),
    (nn.GELU(), F.gelu, "GELU(approximate='none')"),
    (nn.ReLU(inplace=True), F.relu, "ReLU()"),
])
def test_modules_are_their_functions(module, fn, text):
    x = cr.tensor(GRID)
    np.testing.assert_array_equal(module(x).numpy(), fn(x).numpy())
    assert repr(module) == text
    assert list(module.parameters()) == []


def test_a_network_with_silu_fits_a_curve():
    cr.manual_seed(0)
    xs = np.linspace(-2, 2, 32).reshape(-1, 1)
    ys = np.sin(2 * xs)
    net = nn.Sequential(nn.Linear(1, 16), nn.SiLU(), nn.Linear(16, 16), nn.ELU(),
                        nn.Linear(16, 1))
    opt = cr.optim.Adam(net.parameters(), lr=0.02)
    x, y = cr.tensor(xs, dtype=cr.float32), cr.tensor(ys, dtype=cr.float32)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 20, (losses[0], losses[-1])


@pytest.mark.parametrize("call,message", [
    (lambda x: x.gelu(approximate="erf"),
     "gelu: approximate must be 'none' or 'tanh', got \"erf\""),
    (lambda x: nn.GELU("exact")(x), "approximate must be 'none' or 'tanh'"),
    (lambda x: F.elu(x, alpha=float("nan")), "elu: alpha must be a finite number, got NaN"),
    (lambda x: F.leaky_relu(x, float("inf")),
     "leaky_relu: negative_slope must be a finite number, got inf"),
    (lambda x: F.softplus(x, beta=0), "softplus: beta must be a finite non-zero number, got 0.0"),
    (lambda x: F.softplus(x, threshold=float("nan")), "softplus: threshold must be a number"),
    (lambda x: cr.Value(1.0).elu(alpha=float("-inf")), "elu: alpha must be a finite number"),
])
def test_bad_parameters_are_refused_by_name(call, message):
    with pytest.raises(cr.ChainruleError) as e:
        call(cr.tensor(GRID))
    assert message in str(e.value)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("name,cls,extra", [
    ("silu", nn.SiLU, []), ("elu", nn.ELU, []), ("leaky_relu", nn.LeakyReLU, []),
    ("softplus", nn.Softplus, []), ("elu", nn.ELU, ["--model", "c8bn-p2-f16-10"]),
])
def test_a_model_trained_with_the_activation_loads_and_predicts_the_same(cli, tmp_path, name, cls,
                                                                          extra):
    model = tmp_path / "m.safetensors"
    o = run(cli, "train", "--data", "digits", "--epochs", "2", "--activation", name,
            "--save", str(model), "--json", *extra)
    assert o.returncode == 0, o.stderr
    o = run(cli, "predict", "--model", str(model), "--data", "digits", "--json")
    assert o.returncode == 0, o.stderr
    theirs = [str(p) for p in json.loads(o.stdout)["predictions"]]
    net = cr.load_model(model)
    assert any(isinstance(m, cls) for m in net.modules())
    ours = [net.classes[i] for i in net.predict(cr.data.digits().features)]
    assert ours == theirs
