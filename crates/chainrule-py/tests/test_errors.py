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


def _t(*shape):
    return cr.tensor(np.ones(shape, np.float32))


# The convolutional and transformer layers: a bad shape is a ValueError (a ShapeError from the
# library's operations) naming the operation and the shapes involved.
@pytest.mark.parametrize("call,pattern", [
    (lambda F: F.conv2d(_t(2, 3, 8, 8), _t(4, 2, 3, 3)),
     r"conv2d: weights \[4, 2, 3, 3\].*input \[2, 3, 8, 8\]"),
    (lambda F: F.conv2d(_t(2, 3, 8, 8), _t(4, 3, 3)), r"conv2d:.*\[4, 3, 3\]"),
    (lambda F: F.conv2d(_t(1, 3, 4, 4), _t(4, 3, 9, 9)), r"conv2d: the kernel 9×9.*input 4×4"),
    (lambda F: F.conv2d(_t(1, 3, 8, 8), _t(4, 1, 3, 3), groups=2), r"conv2d: 3 input and 4 output"),
    (lambda F: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), groups=0), r"conv2d: groups"),
    (lambda F: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=0), r"conv2d: the stride"),
    (lambda F: F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), _t(5)),
     r"conv2d: the bias has shape \[5\] but the weights \[4, 3, 3, 3\]"),
    (lambda F: F.conv2d(_t(8, 8), _t(4, 3, 3, 3)), r"conv2d:.*got \[8, 8\]"),
    (lambda F: F.max_pool2d(_t(1, 1, 2, 2), 3), r"max_pool2d: the window 3×3.*input 2×2"),
    (lambda F: F.max_pool2d(_t(1, 1, 4, 4), 0), r"max_pool2d: the kernel"),
    (lambda F: F.max_pool2d(_t(1, 1, 4, 4), 2, padding=2), r"max_pool2d: the padding"),
    (lambda F: F.max_pool2d(_t(4, 4), 2), r"max_pool2d:.*got \[4, 4\]"),
    (lambda F: F.avg_pool2d(_t(1, 1, 2, 2), 3), r"avg_pool2d: the window 3×3.*input 2×2"),
    (lambda F: F.avg_pool2d(_t(4), 2), r"avg_pool2d:.*got \[4\]"),
    (lambda F: F.adaptive_avg_pool2d(_t(1, 1, 4, 4), 0), r"adaptive_avg_pool2d:.*0×0.*\[1, 1, 4, 4\]"),
    (lambda F: F.adaptive_avg_pool2d(_t(4, 4), 2), r"adaptive_avg_pool2d:.*got \[4, 4\]"),
    (lambda F: F.batch_norm(_t(4, 3, 2, 2), _t(2), _t(2), training=True),
     r"batch_norm: the running mean has shape \[2\] but the input \[4, 3, 2, 2\]"),
    (lambda F: F.batch_norm(_t(4, 3, 2, 2), _t(3), _t(3), _t(2), _t(3)),
     r"batch_norm: the weight has shape \[2\] but should have \[3\]"),
    (lambda F: F.batch_norm(_t(4), _t(4), _t(4)), r"batch_norm:.*got \[4\]"),
    (lambda F: F.batch_norm(_t(1, 3), _t(3), _t(3), training=True),
     r"batch_norm: expected more than 1 value per channel.*\[1, 3\]"),
    (lambda F: F.layer_norm(_t(3, 4), (5,)), r"layer_norm: the input \[3, 4\].*\[5\]"),
    (lambda F: F.layer_norm(_t(3, 4), (4,), _t(5)), r"layer_norm: the weight has shape \[5\]"),
    (lambda F: F.scaled_dot_product_attention(_t(1, 2, 5, 4), _t(1, 2, 5, 3), _t(1, 2, 5, 4)),
     r"scaled_dot_product_attention:.*\[1, 2, 5, 4\], \[1, 2, 5, 3\] and \[1, 2, 5, 4\]"),
    (lambda F: F.scaled_dot_product_attention(_t(5, 4), _t(5, 4), _t(5, 4)),
     r"scaled_dot_product_attention:.*\[5, 4\]"),
    (lambda F: F.causal_self_attention(_t(1, 5, 10), 2),
     r"causal_self_attention: the last dimension of \[1, 5, 10\].*2 heads"),
    (lambda F: F.causal_self_attention(_t(1, 5, 12), 0), r"causal_self_attention:.*0 heads"),
    (lambda F: F.causal_self_attention(_t(5, 12), 2), r"causal_self_attention:.*got \[5, 12\]"),
    (lambda F: F.embedding(np.array([1]), _t(5)), r"embedding:.*got \[5\] \(indices \[1\]\)"),
])
def test_bad_shapes_of_the_layers_name_the_op_and_the_shapes(call, pattern):
    import chainrule.nn.functional as F
    with pytest.raises(ValueError, match=pattern):
        call(F)


@pytest.mark.parametrize("call,pattern", [
    (lambda nn: nn.Conv2d(3, 4, 3)(_t(1, 2, 8, 8)), r"conv2d:.*\[4, 3, 3, 3\].*\[1, 2, 8, 8\]"),
    (lambda nn: nn.Conv2d(3, 4, 3, groups=2), r"Conv2d: 3 input and 4 output channels"),
    (lambda nn: nn.BatchNorm2d(3)(_t(4, 3)), r"BatchNorm2d: expected 4D.*\[4, 3\]"),
    (lambda nn: nn.BatchNorm2d(3)(_t(4, 2, 2, 2)), r"BatchNorm2d:.*\[4, 2, 2, 2\].*\[3\]"),
    (lambda nn: nn.BatchNorm1d(3)(_t(4, 3, 2, 2)), r"BatchNorm1d: expected 2D or 3D.*\[4, 3, 2, 2\]"),
    (lambda nn: nn.LayerNorm(4)(_t(2, 5)), r"layer_norm: the input \[2, 5\].*\[4\]"),
    (lambda nn: nn.CausalSelfAttention(8, 2)(_t(1, 5, 6)),
     r"CausalSelfAttention: expected \[batch, time, 8\], got \[1, 5, 6\]"),
    (lambda nn: nn.CausalSelfAttention(8, 3), r"CausalSelfAttention: n_embd 8.*n_head 3"),
    (lambda nn: nn.Residual(nn.Linear(4, 3))(_t(2, 4)), r"Residual:.*\[2, 4\] into \[2, 3\]"),
    (lambda nn: nn.Linear(4, 3)(_t(2, 5)), r"linear:.*\[3, 4\].*\[2, 5\]"),
    (lambda nn: nn.GPT(nn.GPTConfig(block_size=4, vocab_size=5, n_layer=1, n_head=1,
                                    n_embd=4))(np.zeros((1, 6), int)),
     r"GPT: a context of 6 tokens is longer than the model's 4"),
    (lambda nn: nn.GPT(nn.GPTConfig(block_size=4, vocab_size=5, n_layer=1, n_head=1,
                                    n_embd=4))(np.zeros(3, int)),
     r"GPT: the tokens must be \[batch, time\].*\[3\]"),
    (lambda nn: nn.GPT(nn.GPTConfig(n_embd=10, n_head=3)), r"GPT: n_embd 10.*n_head 3"),
])
def test_bad_shapes_of_the_modules_name_the_layer_and_the_shapes(call, pattern):
    from chainrule import nn
    with pytest.raises(ValueError, match=pattern):
        call(nn)


def test_bad_indices_and_options_of_the_layers_are_exceptions():
    import chainrule.nn.functional as F
    from chainrule import nn
    with pytest.raises(IndexError, match=r"embedding: index 9 .* 5 rows"):
        F.embedding(np.array([1, 9]), _t(5, 3))
    with pytest.raises(IndexError, match=r"embedding: index -1"):
        F.embedding(np.array([-1]), _t(5, 3))
    with pytest.raises(TypeError, match="embedding: indices must be ints"):
        F.embedding(np.array([1.5]), _t(5, 3))
    with pytest.raises(TypeError):
        F.conv2d(_t(1, 3, 8, 8), _t(4, 3, 3, 3), stride=-1)
    with pytest.raises(TypeError):
        F.max_pool2d(_t(1, 1, 4, 4), "2")
    gpt = nn.GPT(nn.GPTConfig(block_size=4, vocab_size=5, n_layer=1, n_head=1, n_embd=4))
    with pytest.raises(ValueError, match=r"GPT: tokens must be ints in \[0, 5\)"):
        gpt(np.array([[7]]))
    with pytest.raises(ValueError, match="temperature"):
        gpt.generate(np.array([[1]]), 2, temperature=0)
    with pytest.raises(ValueError, match="no vocabulary"):
        gpt.decode([1])


def test_bad_model_files_of_the_new_kinds_are_model_file_errors(cli, tmp_path):
    from conftest import run
    model = tmp_path / "cnn.safetensors"
    o = run(cli, "train", "--data", "digits", "--model", "c4-p2-10", "--epochs", "1", "--save",
            str(model))
    assert o.returncode == 0, o.stderr
    t = cr.load(model)
    meta = cr.load_metadata(model)
    del t["0.weight"]
    cr.save(t, tmp_path / "missing.safetensors", meta)
    with pytest.raises(cr.ModelFileError, match="0.weight"):
        cr.nn.load_model(tmp_path / "missing.safetensors")
    bad = dict(meta, format="chainrule.gpt")
    cr.save(cr.load(model), tmp_path / "notgpt.safetensors", bad)
    with pytest.raises(cr.ModelFileError):
        cr.nn.load_model(tmp_path / "notgpt.safetensors")
    net = cr.nn.load_model(model)
    with pytest.raises(ValueError, match=r"predict: the network takes images of \[1, 8, 8\]"):
        net.predict(np.ones((2, 10)))
