"""PyTorch's values and gradients for the fixed inputs of tests/tensor_math.rs.

The Rust tests do not run PyTorch: they hold the numbers this script printed (float64), so
that the conventions checked there (softplus's threshold, the slopes of leaky_relu and elu at 0,
the tanh GELU, var and std with a correction, norms at 0, prod with zeros, cumsum, logsumexp
with -inf, the options of cross_entropy, the binary cross-entropy at a logit of 0) are
PyTorch's, not a reimplementation's. Run it with any Python that has torch:

    python crates/chainrule/tests/reference/torch_math.py
"""

import torch
import torch.nn.functional as F

torch.set_printoptions(precision=17)
f64 = torch.float64
inf = float("inf")


def show(name, t):
    values = ", ".join(repr(v) for v in t.detach().reshape(-1).tolist())
    print(f"{name}: [{values}]")


def unary(name, f, xs):
    x = torch.tensor(xs, dtype=f64, requires_grad=True)
    y = f(x)
    y.sum().backward()
    show(f"{name} value", y)
    show(f"{name} grad", x.grad)


print(f"torch {torch.__version__}")
points = [-30.0, -2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, 19.5, 20.0, 20.5, 40.0]
unary("softplus", F.softplus, points)
unary("log_sigmoid", F.logsigmoid, points)
unary("silu", F.silu, points)
unary("elu", F.elu, points)
unary("elu alpha=0.5", lambda x: F.elu(x, alpha=0.5), points)
unary("leaky_relu", F.leaky_relu, points)
unary("leaky_relu 0.2", lambda x: F.leaky_relu(x, 0.2), points)
unary("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), points)
unary("log1p", torch.log1p, [-0.5, 1e-10, 0.0, 3.0])
unary("expm1", torch.expm1, [-2.0, 1e-10, 0.0, 3.0])

# The binary cross-entropy at a logit of exactly 0 (and elsewhere), mean over four.
x = torch.tensor([0.0, 0.0, -3.0, 25.0], dtype=f64, requires_grad=True)
y = torch.tensor([0.25, 1.0, 0.0, 1.0], dtype=f64)
loss = F.binary_cross_entropy_with_logits(x, y)
loss.backward()
show("bce value", loss)
show("bce grad", x.grad)

# Reductions over the rows of a [2, 4] matrix.
data = [[1.0, -2.0, 0.5, 4.0], [3.0, 3.0, -1.0, 0.0]]
for correction in [0, 1, 2]:
    for name, f in [("var", torch.var), ("std", torch.std)]:
        x = torch.tensor(data, dtype=f64, requires_grad=True)
        v = f(x, dim=1, correction=correction)
        (v * torch.tensor([1.0, -2.0], dtype=f64)).sum().backward()
        show(f"{name} correction={correction} value", v)
        show(f"{name} correction={correction} grad", x.grad)

norm_rows = [[3.0, -4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -3.0, 3.0]]
for p in [2.0, 1.0, inf, 3.0]:
    x = torch.tensor(norm_rows, dtype=f64, requires_grad=True)
    n = torch.linalg.vector_norm(x, ord=p, dim=1)
    n.sum().backward()
    show(f"norm p={p} value", n)
    show(f"norm p={p} grad", x.grad)

prod_rows = [[2.0, 3.0, 4.0], [2.0, 0.0, 5.0], [0.0, 0.0, 7.0]]
x = torch.tensor(prod_rows, dtype=f64, requires_grad=True)
p = torch.prod(x, dim=1)
p.sum().backward()
show("prod value", p)
show("prod grad", x.grad)
# Second derivative of the product of the second row, d²/dx₀dx₂ and the whole Hessian row sums.
x = torch.tensor([2.0, 0.0, 5.0], dtype=f64, requires_grad=True)
(g,) = torch.autograd.grad(torch.prod(x), x, create_graph=True)
h = torch.stack([torch.autograd.grad(g[i], x, retain_graph=True)[0] for i in range(3)])
show("prod hessian", h)

x = torch.tensor(data, dtype=f64, requires_grad=True)
c = torch.cumsum(x, dim=1)
(c * torch.tensor([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]], dtype=f64)).sum().backward()
show("cumsum value", c)
show("cumsum grad", x.grad)

lse_rows = [[1.0, 2.0, 3.0], [-inf, 0.0, 1.0], [1000.0, 1000.0, -inf]]
x = torch.tensor(lse_rows, dtype=f64, requires_grad=True)
v = torch.logsumexp(x, dim=1)
v.sum().backward()
show("logsumexp value", v)
show("logsumexp grad", x.grad)
x = torch.tensor([[-inf, -inf]], dtype=f64, requires_grad=True)
v = torch.logsumexp(x, dim=1)
v.sum().backward()
show("logsumexp all -inf value", v)
show("logsumexp all -inf grad", x.grad)

# cross_entropy's options, on logits [4, 3] and, for dimension 1, [2, 3, 2].
logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [2.0, 2.0, 2.0], [-0.5, 1.5, 0.25]]
targets = [1, 2, 0, 1]
weight = torch.tensor([0.5, 2.0, 1.5], dtype=f64)
cases = [
    ("ce plain", {}),
    ("ce weight", {"weight": weight}),
    ("ce ignore", {"ignore_index": 1}),
    ("ce weight ignore", {"weight": weight, "ignore_index": 2}),
    ("ce smoothing", {"label_smoothing": 0.1}),
    ("ce weight ignore smoothing", {"weight": weight, "ignore_index": 2, "label_smoothing": 0.2}),
    ("ce sum", {"reduction": "sum", "weight": weight}),
    ("ce none", {"reduction": "none", "weight": weight, "ignore_index": 0, "label_smoothing": 0.3}),
]
for name, kw in cases:
    x = torch.tensor(logits, dtype=f64, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor(targets), **kw)
    (loss * torch.arange(1, loss.numel() + 1, dtype=f64).reshape(loss.shape)).sum().backward()
    show(f"{name} value", loss)
    show(f"{name} grad", x.grad)

probs = [[0.2, 0.5, 0.3], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.8, 0.1]]
for name, kw in [
    ("ce probs", {}),
    ("ce probs weight smoothing", {"weight": weight, "label_smoothing": 0.1}),
    ("ce probs none", {"reduction": "none"}),
]:
    x = torch.tensor(logits, dtype=f64, requires_grad=True)
    q = torch.tensor(probs, dtype=f64, requires_grad=True)
    loss = F.cross_entropy(x, q, **kw)
    (loss * torch.arange(1, loss.numel() + 1, dtype=f64).reshape(loss.shape)).sum().backward()
    show(f"{name} value", loss)
    show(f"{name} grad", x.grad)
    show(f"{name} target grad", q.grad)

x = torch.tensor(
    [[[1.0, 0.0], [2.0, -1.0], [0.5, 3.0]], [[0.0, 1.0], [-2.0, 0.5], [1.0, 1.0]]],
    dtype=f64,
    requires_grad=True,
)
loss = F.cross_entropy(x, torch.tensor([[2, 1], [0, 0]]), weight=weight)
loss.backward()
show("ce dim1 value", loss)
show("ce dim1 grad", x.grad)

# t / c against t * (1/c): the true division's bits, in float32 and float64.
for dtype in [torch.float32, torch.float64]:
    t = torch.tensor([0.1, 1.0, 7.0, 1e-3, 123.456, 5.0], dtype=dtype)
    show(f"div {dtype} by 3", t / 3.0)
    show(f"div {dtype} by 10", t / 10.0)
