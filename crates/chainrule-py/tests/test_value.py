"""Value: micrograd's engine and more, against closed forms and finite differences."""

import math

import pytest

import chainrule
from chainrule import Value


def fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_seed_example_gives_12():
    x = Value(2.0, label="x")
    y = (x**2).named("y")
    z = 3 * y + 1
    z.backward()
    assert z.data == 13.0
    assert x.grad == 12.0


def test_arithmetic_with_numbers_on_either_side():
    a = Value(3.0)
    cases = {
        "a+2": (a + 2, 5.0), "2+a": (2 + a, 5.0), "a-2": (a - 2, 1.0), "2-a": (2 - a, -1.0),
        "a*2": (a * 2, 6.0), "2*a": (2 * a, 6.0), "a/2": (a / 2, 1.5), "2/a": (2 / a, 2 / 3),
        "a**2": (a**2, 9.0), "a**0.5": (a**0.5, math.sqrt(3)), "2**a": (2**a, 8.0),
        "-a": (-a, -3.0),
    }
    for name, (v, want) in cases.items():
        assert v.data == pytest.approx(want), name


@pytest.mark.parametrize("name,f,df", [
    ("exp", math.exp, math.exp),
    ("log", math.log, lambda x: 1 / x),
    ("tanh", math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    ("sigmoid", lambda x: 1 / (1 + math.exp(-x)), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    ("relu", lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    ("sqrt", math.sqrt, lambda x: 0.5 / math.sqrt(x)),
    ("sin", math.sin, math.cos),
    ("cos", math.cos, lambda x: -math.sin(x)),
    ("tan", math.tan, lambda x: 1 / math.cos(x) ** 2),
    ("abs", abs, lambda x: math.copysign(1, x)),
    ("erf", math.erf, lambda x: 2 / math.sqrt(math.pi) * math.exp(-x * x)),
    ("log1p", math.log1p, lambda x: 1 / (1 + x)),
    ("expm1", math.expm1, math.exp),
    ("softplus", lambda x: math.log1p(math.exp(x)), lambda x: 1 / (1 + math.exp(-x))),
    ("log_sigmoid", lambda x: -math.log1p(math.exp(-x)), lambda x: 1 / (1 + math.exp(x))),
    ("silu", lambda x: x / (1 + math.exp(-x)),
     lambda x: (1 + math.exp(-x) + x * math.exp(-x)) / (1 + math.exp(-x)) ** 2),
    ("elu", lambda x: x if x > 0 else math.expm1(x), lambda x: 1.0 if x > 0 else math.exp(x)),
    ("leaky_relu", lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
])
def test_functions_match_closed_forms(name, f, df):
    for x0 in (0.3, 1.7, -0.6):
        if name in ("log", "sqrt") and x0 < 0:
            continue
        x = Value(x0)
        y = getattr(x, name)()
        y.backward()
        assert y.data == pytest.approx(f(x0), rel=1e-12)
        assert x.grad == pytest.approx(df(x0), rel=1e-9)


def test_every_function_of_the_expression_language_is_a_method():
    from chainrule import parse
    for name in ["exp", "ln", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
                 "abs", "step", "sign", "gelu", "erf", "log1p", "expm1", "softplus",
                 "log_sigmoid", "silu", "elu", "leaky_relu"]:
        for x0 in (0.7, -0.4):
            if name in ("ln", "log", "sqrt") and x0 < 0:
                continue
            want = parse(f"{name}(x)").eval(x=x0)
            assert getattr(Value(x0), name)().data == pytest.approx(want, rel=1e-15), name
    assert Value(0.7).gelu(approximate="tanh").data == parse("gelu_tanh(x)").eval(x=0.7)
    assert Value(2.0).max(3.0).data == 3.0
    assert Value(2.0).min(Value(3.0)).data == 2.0


def test_gradients_match_finite_differences_on_a_composite():
    def f(v):
        return ((v * v).sin() + v.exp() / (1 + v**2)).tanh() * 3 - v.sigmoid()

    x = Value(0.4)
    y = f(x)
    y.backward()
    assert x.grad == pytest.approx(fd(lambda t: f(Value(t)).data, 0.4), rel=1e-6)


def test_backward_accumulates_and_grad_is_fresh():
    x = Value(3.0)
    y = x * x
    y.backward()
    y.backward()
    assert x.grad == 12.0  # 2·x, twice
    assert chainrule.grad(y, [x]) == [6.0]
    assert x.grad == 12.0
    z = Value(1.0)
    assert chainrule.grad(y, [x, z]) == [6.0, 0.0]


def test_x_times_x_sums_both_paths():
    x = Value(5.0)
    (x * x).backward()
    assert x.grad == 10.0


def test_data_and_grad_can_be_set():
    p = Value(1.0)
    p.grad = 0.5
    p.data -= 0.1 * p.grad
    assert p.data == pytest.approx(0.95)
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"


def test_a_deep_chain_differentiates_and_frees_without_recursion():
    x = Value(0.5)
    y = x
    for _ in range(200_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad == pytest.approx(1.0000001**200_000, rel=1e-9)
    before = chainrule._core._live_values()
    del y
    assert chainrule._core._live_values() < before - 199_000


def test_explain_is_the_text_of_chainrule_explain(cli=None):
    f = chainrule.parse("3*x^2 + 1")
    text = f.explain(x=2)
    assert text.startswith("f = 3 * x^2 + 1\n\nForward pass")
    assert "df/dx  = df/dv1 · ∂v1/∂x = 3 · 4 = 12" in text
    x = Value(2.0, label="x")
    y = 3 * x**2 + 1
    assert "df/dx  = df/dv1 · ∂v1/∂x = 3 · 4 = 12" in y.explain()
    assert y.explain() == text.split("\n\n", 1)[1]


def test_drawings_and_report(tmp_path):
    x = Value(2.0, label="x")
    y = (x * x + 1).named("y")
    svg = y._repr_svg_()
    assert "<svg" in svg[:100] and "y" in svg
    y.graph(tmp_path / "g.svg")
    y.graph(tmp_path / "g.dot")
    assert "<svg" in (tmp_path / "g.svg").read_text()[:100]
    assert "digraph" in (tmp_path / "g.dot").read_text()
    with pytest.raises(ValueError, match="name it .svg or .dot"):
        y.graph(tmp_path / "g.png")
    r = y.report()
    assert r.html.startswith("<!DOCTYPE html>") and "<script src" not in r.html
    assert "<iframe" in r._repr_html_()
    y.report(tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_parse_gives_a_function_of_keyword_arguments():
    f = chainrule.parse("3*x^2 + 1")
    assert f.variables == ["x"]
    y = f(x=2)
    assert isinstance(y, Value) and y.data == 13.0
    x = Value(2.0)
    g = f(x=x)
    g.backward()
    assert x.grad == 12.0
    assert str(f.derivative("x")) == "6 * x"
    assert f.grad(x=2) == (13.0, [("x", 12.0)])
    with pytest.raises(TypeError, match="no value for the variable 'x'"):
        f()
    with pytest.raises(TypeError, match="'y' is not a variable"):
        f(x=1, y=2)


def test_micrograd_nn_runs_on_chainrule():
    import random
    from chainrule.micrograd.nn import MLP
    random.seed(0)
    model = MLP(3, [4, 4, 1])
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    first = None
    for _ in range(30):
        preds = [model(list(map(Value, x))) for x in xs]
        loss = sum((p - y) ** 2 for p, y in zip(preds, ys))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        first = first or loss.data
    assert loss.data < first / 5
