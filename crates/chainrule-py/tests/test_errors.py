"""Bad input raises a Python exception with the library's message, never a panic: the bad
inputs of the command line's tests, through Python."""

import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("src,needle", [
    ("3 * (x + 1", "expected ')' to close the '(' at column 5"),
    ("foo(x)", "unknown function 'foo'"),
    ("((x)", "expected ')'"),
    ("", "expected an expression, found an empty input"),
    ("x +* 2", "column"),
    ("2x", "write '*' for a product"),
    ("(" * 300 + "x" + ")" * 300, "nested too deeply"),
    ("max(x)", "max"),
    ("x $ 2", "column"),
])
def test_parse_errors_are_value_errors_with_the_caret(src, needle):
    with pytest.raises(cr.ParseError, match=None) as e:
        cr.parse(src)
    assert isinstance(e.value, ValueError)
    assert needle in str(e.value), str(e.value)
    if src and "nested" not in needle:
        assert "^" in str(e.value).splitlines()[-1]


def test_shape_errors_name_the_op_and_both_shapes():
    a = cr.tensor(np.ones((3, 4)))
    b = cr.tensor(np.ones((5, 2)))
    with pytest.raises(cr.ShapeError, match=r"matmul.*\[3, 4\].*\[5, 2\]"):
        a @ b
    with pytest.raises(cr.ShapeError, match=r"\[3, 4\].*\[5, 2\]"):
        a + b
    with pytest.raises(ValueError):
        a.reshape(7, 2)
    with pytest.raises(ValueError):
        a.sum(5)
    with pytest.raises(ValueError):
        a.softmax(3)
    with pytest.raises(ValueError):
        cr.cat([a, b], 0)
    with pytest.raises(ValueError):
        a.transpose(0, 9)


def test_bad_indices_are_index_errors():
    a = cr.tensor(np.ones((3, 4)))
    for key in [(3, 0), (0, -5), (0, 0, 0), [7], (..., ..., 0)]:
        with pytest.raises(IndexError):
            a[key]
    with pytest.raises((TypeError, IndexError)):
        a["x"]


def test_mixed_types_and_bad_arguments_are_type_errors():
    f32 = cr.tensor(np.ones(2, np.float32))
    f64 = cr.tensor(np.ones(2))
    with pytest.raises(TypeError, match="float32"):
        f32 + f64
    with pytest.raises(TypeError):
        cr.Value("abc")
    with pytest.raises(TypeError):
        cr.tensor(np.ones(2), dtype="int32")
    with pytest.raises(TypeError):
        cr.Value(1.0) + "x"


def test_backward_of_a_non_scalar_needs_a_seed():
    x = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match="seed has shape"):
        (x * 2).backward(np.ones(4))


def test_corrupt_model_files(tmp_path):
    good = tmp_path / "m.safetensors"
    cr.save({"0.weight": cr.tensor(np.ones((2, 3), np.float32))}, good, {"k": "v"})
    bytes_ = good.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(bytes_[:-10])
    with pytest.raises(cr.ModelFileError, match="truncated.safetensors: "):
        cr.load(tmp_path / "truncated.safetensors")
    c = bytearray(bytes_)
    c[10] = ord("#")
    (tmp_path / "corrupted.safetensors").write_bytes(bytes(c))
    with pytest.raises(cr.ModelFileError, match="the header is not valid JSON"):
        cr.load(tmp_path / "corrupted.safetensors")
    with pytest.raises(cr.ModelFileError):
        cr.load(tmp_path / "missing.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(cr.ModelFileError):
        cr.load(tmp_path / "empty.safetensors")
    with pytest.raises(cr.ModelFileError, match="not a model file written by chainrule train"):
        cr.load_model(good)


def test_bad_optimizer_settings_are_value_errors():
    w = cr.tensor(np.ones(2), requires_grad=True)
    for make in [lambda: cr.optim.SGD([w], lr=-1), lambda: cr.optim.Adam([w], betas=(1.5, 0.9)),
                 lambda: cr.optim.SGD([w], lr=0.1, nesterov=True)]:
        with pytest.raises(ValueError):
            make()


def test_odd_numbers_never_crash():
    for v in [float("nan"), float("inf"), -0.0, 1e308]:
        x = cr.Value(v)
        y = (x * x).log().sqrt()
        y.backward()
        assert isinstance(x.grad, float)
    t = cr.tensor(np.array([np.nan, np.inf, -1.0]), requires_grad=True)
    t.log().sqrt().sum().backward()
    assert t.grad.shape == (3,)
    with pytest.raises(ValueError):
        cr.arange(0, 1, 0)
    with pytest.raises(ValueError):
        cr.data.moons(10, float("nan"))


def test_a_long_expression_parses_and_differentiates():
    src = " + ".join(f"sin({i}*x)" for i in range(1, 20001))
    f = cr.parse(src)
    value, grads = f.grad(x=1)
    assert value == pytest.approx(0.46196, abs=1e-4)
    assert grads[0][1] == pytest.approx(18785, rel=1e-4)


def test_tensors_recorded_on_another_thread_raise_instead_of_crashing():
    import threading
    box = {}

    def work():
        x = cr.tensor(np.ones(2), requires_grad=True)
        box["y"] = x * 2

    t = threading.Thread(target=work)
    t.start()
    t.join()
    with pytest.raises(cr.ChainruleError, match="another thread"):
        box["y"] + cr.tensor(np.ones(2), requires_grad=True)
    assert box["y"].detach().tolist() == [2.0, 2.0]
