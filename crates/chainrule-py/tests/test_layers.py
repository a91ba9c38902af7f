"""The convolutional and transformer layers and the activations against PyTorch (values and
gradients that torch_reference.py computed and stored in torch_layers.json), and the modules'
buffers, modes and state dicts."""

import json
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from conftest import run
import chainrule.nn.functional as F
from chainrule import nn

CASES = json.loads(Path(__file__).with_name("torch_layers.json").read_text())["cases"]


def _run(c, ts):
    kw = dict(c["kwargs"])
    for k in ("stride", "padding", "dilation", "output_size"):
        if isinstance(kw.get(k), list):
            kw[k] = tuple(kw[k])
    name = c["name"]
    if name == "conv2d":
        return F.conv2d(ts["input"], ts["weight"], ts.get("bias"), **kw)
    if name == "batch_norm":
        rm = cr.tensor(np.array(c["running_mean_before"]))
        rv = cr.tensor(np.array(c["running_var_before"]))
        out = F.batch_norm(ts["input"], rm, rv, ts["weight"], ts["bias"], **kw)
        return out, {"running_mean": rm, "running_var": rv}
    if name == "layer_norm":
        return F.layer_norm(ts["input"], tuple(kw.pop("normalized_shape")), ts["weight"],
                            ts["bias"], **kw)
    if name == "scaled_dot_product_attention":
        return F.scaled_dot_product_attention(ts["query"], ts["key"], ts["value"], **kw)
    if name == "causal_self_attention":
        return F.causal_self_attention(ts["qkv"], kw["n_head"])
    if name == "embedding":
        return F.embedding(np.array(c["indices"]), ts["weight"])
    if name in ("log1p", "expm1"):
        return getattr(cr, name)(ts["input"])
    return getattr(F, name)(ts["input"], **kw)


@pytest.mark.parametrize("c", CASES, ids=[f"{c['name']}-{i}" for i, c in enumerate(CASES)])
def test_layers_agree_with_pytorch(c):
    ts = {k: cr.tensor(np.array(v, dtype=np.float64).reshape(c["shapes"][k]), requires_grad=True)
          for k, v in c["inputs"].items()}
    out = _run(c, ts)
    states = {}
    if isinstance(out, tuple):
        out, states = out
    want = np.array(c["output"]).reshape(c["output_shape"])
    assert out.shape == tuple(c["output_shape"])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-9, atol=1e-10)
    cot = cr.tensor(np.array(c["cotangent"]).reshape(c["output_shape"]))
    (out * cot).sum().backward()
    for k, g in c["grads"].items():
        np.testing.assert_allclose(ts[k].grad, np.array(g).reshape(c["shapes"][k]), rtol=1e-8,
                                   atol=1e-9, err_msg=f"{c['name']}: d/d{k}")
    for k, t in states.items():
        np.testing.assert_allclose(t.numpy(), np.array(c[k]), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{c['name']}: {k}")


def test_conv2d_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 2, 5, 5))
    w = rng.normal(size=(2, 1, 3, 3))

    def f(xv, wv):
        return (F.conv2d(cr.tensor(xv), cr.tensor(wv), stride=2, padding=1, groups=2) ** 2).sum().item()

    xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    (F.conv2d(xt, wt, stride=2, padding=1, groups=2) ** 2).sum().backward()
    h = 1e-6
    for arr, grad, other in ((x, xt.grad, "x"), (w, wt.grad, "w")):
        fd = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            d = np.zeros_like(arr)
            d[i] = h
            if other == "x":
                fd[i] = (f(x + d, w) - f(x - d, w)) / (2 * h)
            else:
                fd[i] = (f(x, w + d) - f(x, w - d)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)


def test_batch_norm_modules_keep_buffers_and_modes():
    cr.manual_seed(0)
    bn = nn.BatchNorm2d(3, momentum=0.5)
    names = list(bn.state_dict())
    assert names == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(8, 3, 4, 4)).astype(np.float32)
    y = bn(cr.tensor(x)).numpy()
    # Training: the batch's statistics (biased variance) normalise.
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    want = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    # The running ones follow with momentum 0.5 and the unbiased variance.
    n = x.size / 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * var * n / (n - 1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(cr.tensor(x)).numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y, (x - rm[None, :, None, None]) /
                               np.sqrt(rv[None, :, None, None] + 1e-5), rtol=1e-4, atol=1e-5)
    assert bn.num_batches_tracked.item() == 1, "evaluation does not count batches"
    # A state dict carries the buffers into another module.
    other = nn.BatchNorm2d(3)
    other.load_state_dict(bn.state_dict())
    other.eval()
    np.testing.assert_array_equal(other(cr.tensor(x)).numpy(), y)
    assert other.num_batches_tracked.item() == 1


def test_batch_norm_with_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    rng = np.random.default_rng(5)
    batches = [rng.normal(size=(6, 2)) for _ in range(3)]
    for b in batches:
        bn(cr.tensor(b.astype(np.float32)))
    np.testing.assert_allclose(bn.running_mean.numpy(),
                               np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5, atol=1e-6)


def test_a_float32_batch_norm_refuses_float64_input_and_double_converts_it():
    x = np.random.default_rng(2).normal(1.0, 2.0, size=(6, 3))
    bn = nn.BatchNorm1d(3, momentum=0.5)
    with pytest.raises(TypeError, match="the input is float64 but running_mean is float32: "
                                        "convert the module with .double()"):
        bn(cr.tensor(x))
    assert bn.num_batches_tracked.item() == 0, "the refused batch was not counted"
    assert bn.double() is bn
    assert {t.dtype for t in bn.state_dict().values()} == {np.float64}
    assert all(p.requires_grad for p in bn.parameters())
    y = bn(cr.tensor(x))
    assert y.dtype == np.float64
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * var * 6 / 5, rtol=1e-12)
    y.sum().backward()
    assert bn.weight.grad.dtype == np.float64
    assert bn.float().running_mean.dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64, not int64"):
        bn.to(np.int64)


def test_converting_a_module_keeps_tied_weights_tied():
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    net[1].weight = net[0].weight
    net.to("float64")
    assert net[1].weight is net[0].weight
    assert net[0].weight.dtype == np.float64
    assert len(list(net.parameters())) == 3


def test_layer_shapes_and_names_follow_pytorch():
    cr.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    assert list(net.state_dict()) == [
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "6.weight", "6.bias", "7.weight", "7.bias", "7.running_mean",
        "7.running_var", "7.num_batches_tracked", "9.weight", "9.bias"]
    assert net(cr.randn(5, 1, 8, 8)).shape == (5, 3)
    res = nn.Residual(nn.Linear(4, 4), nn.Tanh())
    x = cr.randn(2, 4)
    np.testing.assert_allclose(res(x).numpy(), x.numpy() + res[1](res[0](x)).numpy(), rtol=1e-6)
    assert list(res.state_dict()) == ["0.weight", "0.bias"]


def test_gpt_names_are_nanogpts_and_its_loss_is_the_mean_cross_entropy():
    cr.manual_seed(0)
    cfg = nn.GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8, bias=False)
    gpt = nn.GPT(cfg)
    names = list(gpt.state_dict())
    assert names[:3] == ["transformer.wte.weight", "transformer.wpe.weight",
                         "transformer.h.0.ln_1.weight"]
    assert "transformer.h.1.attn.c_attn.weight" in names
    assert names[-1] == "lm_head.weight"
    assert gpt.lm_head.weight is gpt.transformer["wte"].weight
    # The tied weight is one parameter.
    assert len(list(gpt.parameters())) == len(names) - 1
    idx = np.array([[1, 2, 3], [4, 5, 6]])
    tgt = np.array([[2, 3, 4], [5, 6, 7]])
    logits, loss = gpt(idx, tgt)
    assert logits.shape == (2, 3, 11)
    lg = logits.numpy().reshape(6, 11).astype(np.float64)
    lse = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1)
    want = np.mean(lse - lg[np.arange(6), tgt.reshape(-1)])
    assert loss.item() == pytest.approx(want, rel=1e-5)
    loss.backward()
    assert gpt.transformer["wte"].weight.grad is not None
    out = gpt.generate(np.array([[1, 2]]), 5, temperature=0.8, top_k=3)
    assert out.shape == (1, 7) and out[0, :2].tolist() == [1, 2]
    assert ((0 <= out) & (out < 11)).all()


def test_a_cnn_trained_by_the_command_line_predicts_the_same_classes(cli, tmp_path):
    model = tmp_path / "cnn.safetensors"
    o = run(cli, "train", "--data", "digits", "--model", "cnn", "--epochs", "1", "--save",
            str(model), "--json")
    assert o.returncode == 0, o.stderr
    o = run(cli, "predict", "--model", str(model), "--data", "digits", "--json")
    assert o.returncode == 0, o.stderr
    theirs = [str(p) for p in json.loads(o.stdout)["predictions"]]
    net = cr.nn.load_model(model)
    assert isinstance(net[1], nn.BatchNorm2d) and not net.training
    # The running statistics came from the file: training moved them off their start.
    assert np.abs(net[1].running_mean.numpy()).sum() > 0
    assert net[1].num_batches_tracked.item() > 0
    ours = [net.classes[i] for i in net.predict(cr.data.digits().features)]
    assert len(ours) == 1797
    assert ours == theirs
    images = cr.data.digits().features.reshape(-1, 1, 8, 8)
    np.testing.assert_array_equal(net.predict(images), net.predict(cr.data.digits().features))
    # Its state dict is the file's, buffers included.
    file = cr.load(model)
    sd = net.state_dict()
    for k, v in sd.items():
        np.testing.assert_array_equal(v.numpy(), file[k].numpy(), err_msg=k)


@pytest.mark.parametrize("flag", ["--bias", "--untied"])
def test_a_gpt_trained_by_the_command_line_gives_its_logits_and_greedy_text(cli, tmp_path, flag):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be, that is the question. " * 40)
    model = tmp_path / "gpt.safetensors"
    o = run(cli, "train", "--data", str(text), "--model", "gpt", "--steps", "30", "--context",
            "16", "--layers", "2", "--heads", "2", "--channels", "16", flag, "--eval-every",
            "0", "--eval-batches", "1", "--save", str(model), "--json")
    assert o.returncode == 0, o.stderr
    prompt = "to be or"
    o = run(cli, "generate", "--model", str(model), "--prompt", prompt, "--tokens", "24",
            "--top-k", "1", "--json")
    assert o.returncode == 0, o.stderr
    theirs = json.loads(o.stdout)
    gpt = cr.nn.load_model(model)
    assert isinstance(gpt, nn.GPT) and gpt.config.n_layer == 2
    assert gpt.config.bias == (flag == "--bias")
    assert (gpt.lm_head.weight is gpt.transformer["wte"].weight) == (flag != "--untied")
    ids = gpt.encode(prompt)
    with cr.no_grad():
        logits = gpt(np.array([ids])).numpy()[0, -1]
    np.testing.assert_allclose(logits, theirs["next_logits"], rtol=1e-4, atol=1e-4)
    out = gpt.generate(np.array([ids]), 24, top_k=1)
    assert gpt.decode(out[0, len(ids):]) == theirs["text"]
    with pytest.raises(ValueError, match="vocabulary"):
        gpt.encode("Z")
