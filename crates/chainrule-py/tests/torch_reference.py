"""Writes torch_layers.json: PyTorch's values and gradients for the convolutional and
transformer layers and the activations, which test_layers.py compares chainrule with.

    python crates/chainrule-py/tests/torch_reference.py

Every case stores its inputs (drawn from a seeded NumPy generator), the keyword arguments,
PyTorch's output in float64, and the gradients of ``sum(output · cotangent)`` with respect to
each input that requires one (the cotangent is stored too). Running states (batch
normalisation's running mean and variance) are stored after the call.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(2026)
OUT = Path(__file__).with_name("torch_layers.json")


def arr(*shape):
    return rng.normal(size=shape)


def case(name, fn, inputs, kwargs, grads=None, extra=None):
    """Runs ``fn(*tensors, **kwargs)`` in PyTorch; ``grads`` names the inputs to differentiate."""
    grads = list(inputs) if grads is None else grads
    ts = {k: torch.tensor(v, requires_grad=k in grads) for k, v in inputs.items()}
    out = fn(**ts, **kwargs)
    cot = rng.normal(size=tuple(out.shape))
    (out * torch.tensor(cot)).sum().backward()
    rec = {
        "name": name,
        "inputs": {k: v.tolist() for k, v in inputs.items()},
        "shapes": {k: list(v.shape) for k, v in inputs.items()},
        "kwargs": kwargs,
        "output": out.detach().numpy().tolist(),
        "output_shape": list(out.shape),
        "cotangent": cot.tolist(),
        "grads": {k: ts[k].grad.numpy().tolist() for k in grads},
    }
    if extra:
        rec.update(extra(ts))
    return rec


cases = []

cases.append(case(
    "conv2d", lambda input, weight, bias, **kw: F.conv2d(input, weight, bias, **kw),
    {"input": arr(2, 4, 7, 6), "weight": arr(6, 2, 3, 3), "bias": arr(6)},
    {"stride": 2, "padding": 1, "dilation": 1, "groups": 2}))
cases.append(case(
    "conv2d", lambda input, weight, **kw: F.conv2d(input, weight, None, **kw),
    {"input": arr(1, 3, 9, 8), "weight": arr(4, 3, 3, 2)},
    {"stride": [1, 2], "padding": [2, 1], "dilation": 2, "groups": 1}))
cases.append(case(
    "conv2d", lambda input, weight, bias, **kw: F.conv2d(input, weight, bias, **kw),
    {"input": arr(1, 2, 6, 5), "weight": arr(3, 2, 2, 3), "bias": arr(3)},
    {"stride": 1, "padding": "same", "dilation": [1, 2], "groups": 1}))
cases.append(case(
    "max_pool2d", lambda input, **kw: F.max_pool2d(input, **kw),
    {"input": arr(2, 3, 7, 6)}, {"kernel_size": 3, "stride": 2, "padding": 1}))
cases.append(case(
    "avg_pool2d", lambda input, **kw: F.avg_pool2d(input, **kw),
    {"input": arr(2, 3, 7, 6)}, {"kernel_size": 3, "stride": 2, "padding": 1,
                                 "count_include_pad": False}))
cases.append(case(
    "avg_pool2d", lambda input, **kw: F.avg_pool2d(input, **kw),
    {"input": arr(1, 2, 6, 6)}, {"kernel_size": 2, "stride": 2, "padding": 0,
                                 "count_include_pad": True}))
cases.append(case(
    "adaptive_avg_pool2d", lambda input, **kw: F.adaptive_avg_pool2d(input, **kw),
    {"input": arr(2, 3, 7, 6)}, {"output_size": [3, 4]}))


def batch_norm_case(shape, training):
    c = shape[1]
    rm, rv = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    state = {}

    def fn(input, weight, bias, **kw):
        state["rm"], state["rv"] = torch.tensor(rm), torch.tensor(rv)
        return F.batch_norm(input, state["rm"], state["rv"], weight, bias, **kw)

    return case(
        "batch_norm", fn, {"input": arr(*shape), "weight": arr(c), "bias": arr(c)},
        {"training": training, "momentum": 0.2, "eps": 1e-5},
        extra=lambda ts: {"running_mean_before": rm.tolist(), "running_var_before": rv.tolist(),
                          "running_mean": state["rm"].numpy().tolist(),
                          "running_var": state["rv"].numpy().tolist()})


cases.append(batch_norm_case((4, 3, 5, 5), True))
cases.append(batch_norm_case((4, 3, 5, 5), False))
cases.append(batch_norm_case((6, 5), True))
cases.append(case(
    "layer_norm", lambda input, weight, bias, **kw: F.layer_norm(input, weight=weight, bias=bias,
                                                                 **kw),
    {"input": arr(3, 4, 6), "weight": arr(4, 6), "bias": arr(4, 6)},
    {"normalized_shape": [4, 6], "eps": 1e-5}))
for causal in (False, True):
    cases.append(case(
        "scaled_dot_product_attention",
        lambda query, key, value, **kw: F.scaled_dot_product_attention(query, key, value, **kw),
        {"query": arr(2, 2, 5, 4), "key": arr(2, 2, 5, 4), "value": arr(2, 2, 5, 4)},
        {"is_causal": causal}))


def causal_self_attention(qkv, n_head):
    # nanoGPT's CausalSelfAttention.forward between c_attn and c_proj.
    b, t, c3 = qkv.shape
    c = c3 // 3
    q, k, v = qkv.split(c, dim=2)
    q, k, v = (z.view(b, t, n_head, c // n_head).transpose(1, 2) for z in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return y.transpose(1, 2).contiguous().view(b, t, c)


cases.append(case("causal_self_attention", lambda qkv, **kw: causal_self_attention(qkv, **kw),
                  {"qkv": arr(2, 5, 12)}, {"n_head": 2}))
idx = rng.integers(0, 7, size=(3, 4))
cases.append(case("embedding", lambda weight, **kw: F.embedding(torch.tensor(idx), weight),
                  {"weight": arr(7, 5)}, {}, extra=lambda ts: {"indices": idx.tolist()}))



def activation_input(*special):
    """Normal draws spread over [-8, 8] and beyond, then the points where a rule changes."""
    x = np.concatenate([4.0 * arr(20), [0.0, 1e-9, -1e-9, 19.5, 20.0, 20.5, -30.0, 40.0], special])
    return x.reshape(4, -1)


for name, fn, kwargs, special in [
    ("gelu", F.gelu, {"approximate": "none"}, []),
    ("gelu", F.gelu, {"approximate": "tanh"}, []),
    ("silu", F.silu, {}, []),
    ("elu", F.elu, {"alpha": 1.0}, []),
    ("elu", F.elu, {"alpha": 0.7}, []),
    ("leaky_relu", F.leaky_relu, {"negative_slope": 0.01}, []),
    ("leaky_relu", F.leaky_relu, {"negative_slope": 0.2}, []),
    ("logsigmoid", F.logsigmoid, {}, []),
    ("softplus", F.softplus, {"beta": 1.0, "threshold": 20.0}, []),
    # The threshold at beta·x = 5 exactly (x = 2.5) and on either side of it.
    ("softplus", F.softplus, {"beta": 2.0, "threshold": 5.0}, [2.5, 2.4999, 2.5001, -2.5]),
    ("softplus", F.softplus, {"beta": 0.5, "threshold": 30.0}, [59.0, 60.0, 61.0, -70.0]),
    ("expm1", torch.expm1, {}, [1e-12, -1e-12, 1e-5, -700.0]),
]:
    cases.append(case(name, lambda input, fn=fn, **kw: fn(input, **kw),
                      {"input": activation_input(*special)}, kwargs))
# log1p where it is defined, x > -1, with the small values where ln(1 + x) loses digits.
cases.append(case("log1p", lambda input: torch.log1p(input),
                  {"input": np.concatenate([np.abs(arr(16)) * 5.0 - 0.9,
                                            [0.0, 1e-12, -1e-12, 1e-5, -0.999999, 1e300]])
                   .reshape(2, -1)}, {}))

OUT.write_text(json.dumps({"torch": torch.__version__, "cases": cases}) + "\n")
print(f"{OUT}: {len(cases)} cases, PyTorch {torch.__version__}")
