"""nn, optim, files: training on the digits, state dicts, and models written by the command
line."""

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
import chainrule.functional as F

from conftest import run


def test_parameter_names_and_layouts_are_pytorchs():
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert m[0].weight.shape == (8, 4)
    sd = m.state_dict()
    m2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    m2.load_state_dict(sd)
    x = cr.tensor(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())
    with pytest.raises(cr.ModelFileError, match="missing"):
        m2.load_state_dict({})


def test_a_small_network_learns_the_digits():
    cr.manual_seed(0)
    d = cr.data.digits()
    x = (d.features - d.features.mean(0)) / (d.features.std(0) + 1e-6)
    y = d.targets
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(3):
        for i in range(0, 1500, 100):
            opt.zero_grad()
            loss = F.cross_entropy(model(cr.tensor(x[i:i + 100])), y[i:i + 100])
            loss.backward()
            opt.step()
    with cr.no_grad():
        acc = (model(cr.tensor(x[1500:])).argmax(1) == y[1500:]).mean()
    assert acc > 0.85


def test_cross_entropy_options_match_their_definitions():
    logits = np.random.default_rng(1).normal(size=(5, 4))
    t = np.array([0, 3, 1, 1, 2])
    lt = cr.tensor(logits)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    nll = -logp[np.arange(5), t]
    assert F.cross_entropy(lt, t).item() == pytest.approx(nll.mean())
    assert F.cross_entropy(lt, t, reduction="sum").item() == pytest.approx(nll.sum())
    np.testing.assert_allclose(F.cross_entropy(lt, t, reduction="none").numpy(), nll)
    w = np.array([1.0, 2.0, 0.5, 1.0])
    assert F.cross_entropy(lt, t, weight=w).item() == pytest.approx((nll * w[t]).sum() / w[t].sum())
    t2 = np.array([0, -100, 1, 1, 2])
    keep = t2 != -100
    assert F.cross_entropy(lt, t2).item() == pytest.approx(nll[keep].mean())
    eps = 0.1
    smooth = -(logp.mean(1))
    want = ((1 - eps) * nll + eps * smooth).mean()
    assert F.cross_entropy(lt, t, label_smoothing=eps).item() == pytest.approx(want)


def test_binary_cross_entropy_with_logits():
    x = np.array([0.0, 800.0, -3.0])
    y = np.array([1.0, 1.0, 0.0])
    want = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    got = F.binary_cross_entropy_with_logits(cr.tensor(x), cr.tensor(y)).item()
    assert got == pytest.approx(want)


def test_conv_pool_norm_layers_run_and_differentiate():
    cr.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    x = cr.randn(2, 1, 8, 8)
    loss = F.cross_entropy(net(x), [0, 2])
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    assert net[1].running_mean.numpy().any()
    ln = nn.LayerNorm(8)
    assert ln(cr.randn(3, 8)).shape == (3, 8)
    att = nn.CausalSelfAttention(8, 2)
    assert att(cr.randn(1, 5, 8)).shape == (1, 5, 8)
    emb = nn.Embedding(10, 4)
    assert emb(np.array([[1, 2], [3, 4]])).shape == (2, 2, 4)


def test_attention_dropout_drops_whole_attention_weights():
    # With c_proj the identity, the first position's output of each head is its value row
    # times its one attention weight, dropped (0) or kept (scaled by 1/(1-p)), then each element
    # dropped or kept by the output's dropout: a whole head of zeros there is the weight's
    # dropout (the output's alone would drop all 16 elements with probability 2⁻¹⁶).
    n_embd, heads, p = 32, 2, 0.5
    att = nn.CausalSelfAttention(n_embd, heads, bias=False, dropout=p)
    att.c_proj.weight.data = np.eye(n_embd, dtype=np.float32)
    x = cr.randn(1, 4, n_embd)
    att.eval()
    want = att(x).numpy()[0, 0]
    att.train()
    whole_heads = 0
    for seed in range(20):
        cr.manual_seed(seed)
        y = att(x)
        first = y.numpy()[0, 0].reshape(heads, -1)
        for h, row in enumerate(first):
            kept = row != 0
            np.testing.assert_allclose(row[kept], want.reshape(heads, -1)[h][kept] / (1 - p) ** 2,
                                       rtol=1e-5)
            whole_heads += not kept.any()
    assert whole_heads > 0, "no attention weight was dropped"
    y.sum().backward()
    assert att.c_attn.weight.grad is not None
    # Without dropout, training uses the fused attention: the same values as evaluation.
    att0 = nn.CausalSelfAttention(n_embd, heads, bias=False)
    att0.load_state_dict(att.state_dict())
    np.testing.assert_allclose(att0(x).numpy()[0, 0], want, rtol=1e-6)


def test_optimizer_state_dict_round_trips():
    w = cr.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = cr.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    state = opt.state_dict()
    w2 = cr.tensor(w.numpy(), requires_grad=True)
    opt2 = cr.optim.Adam([w2], lr=0.1)
    opt2.load_state_dict(state)
    for o, p in [(opt, w), (opt2, w2)]:
        o.zero_grad()
        (p * p).sum().backward()
        o.step()
    np.testing.assert_array_equal(w.numpy(), w2.numpy())


def test_schedules_follow_the_closed_forms():
    w = cr.tensor(np.ones(1), requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)
    s = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        s.step()
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_save_and_load_round_trip(tmp_path):
    m = nn.Linear(3, 2)
    cr.save(m.state_dict(), tmp_path / "l.safetensors", {"note": "x"})
    back = cr.load(tmp_path / "l.safetensors")
    np.testing.assert_array_equal(back["weight"].numpy(), m.weight.numpy())
    assert cr.load_metadata(tmp_path / "l.safetensors")["note"] == "x"


def test_a_model_trained_by_the_command_line_predicts_the_same_classes(cli, tmp_path):
    model = tmp_path / "m.safetensors"
    o = run(cli, "train", "--data", "digits", "--epochs", "3", "--save", str(model), "--json")
    assert o.returncode == 0, o.stderr
    o = run(cli, "predict", "--model", str(model), "--data", "digits", "--json")
    assert o.returncode == 0, o.stderr
    theirs = [str(p) for p in json.loads(o.stdout)["predictions"]]
    net = cr.load_model(model)
    ours = [net.classes[i] for i in net.predict(cr.data.digits().features)]
    assert len(ours) == 1797
    assert ours == theirs
