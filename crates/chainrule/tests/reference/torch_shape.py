"""Prints PyTorch's answers for the fixed inputs of tests/tensor_shape.rs, whose expected values
were pasted from this output. The Rust tests do not run it (they need no PyTorch); run it to
check or extend them:

    python tests/reference/torch_shape.py
"""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def wave(shape, seed):
    """sin(0 + seed), sin(1 + seed), ... in row-major order: easy to build in Rust too."""
    n = 1
    for d in shape:
        n *= d
    return torch.sin(torch.arange(n, dtype=torch.float64) + seed).reshape(shape)


def show(name, t):
    print(name, [round(v, 12) for v in t.flatten().tolist()], list(t.shape))


print("# einsum on wave inputs")
a23, b34 = wave((2, 3), 0), wave((3, 4), 1)
show("ij,jk->ik", torch.einsum("ij,jk->ik", a23, b34))
show("ij,jk (implicit)", torch.einsum("ij,jk", a23, b34))
x234, y245 = wave((2, 3, 4), 2), wave((2, 4, 5), 3)
show("bij,bjk->bik", torch.einsum("bij,bjk->bik", x234, y245))
q, k = wave((1, 2, 3, 4), 4), wave((1, 2, 2, 4), 5)
show("bhqd,bhkd->bhqk", torch.einsum("bhqd,bhkd->bhqk", q, k))
u, v = wave((4,), 6), wave((4,), 7)
show("i,i->", torch.einsum("i,i->", u, v))
show("ij->ji", torch.einsum("ij->ji", a23))
show("ij->", torch.einsum("ij->", a23))
p, r = wave((3, 4), 8), wave((3, 4), 9)
show("bi,bi->b", torch.einsum("bi,bi->b", p, r))
show("i,j->ij", torch.einsum("i,j->ij", u, wave((3,), 10)))
show("ij,kj->ik + summed-out", torch.einsum("ijl,kj->ki", wave((2, 3, 2), 11), wave((4, 3), 12)))
show("ba (implicit)", torch.einsum("ba", a23))

print("# topk ties (CPU)")
t = torch.tensor([1.0, 3.0, 3.0, 2.0, 3.0, 1.0])
print(torch.topk(t, 3), torch.topk(t, 3, largest=False))
print(torch.topk(torch.tensor([1.0, float("nan"), 3.0]), 2))
print(torch.topk(torch.tensor([1.0, float("nan"), 3.0]), 2, largest=False))

print("# scatter with duplicates, and its gradients")
inp = torch.zeros(5, requires_grad=True)
src = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
y = inp.scatter(0, torch.tensor([1, 1, 3, 1]), src)
y.backward(torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0]))
print(y.detach(), inp.grad, src.grad)

print("# pad, flip, repeat, tril/triu, chunk/split")
m = torch.arange(6.0).reshape(2, 3)
print(F.pad(m, (1, -1), value=9.0), F.pad(m, (-1, 2, 1, 0)))
print(torch.arange(24.0).reshape(2, 3, 4).flip(0, 2)[0])
print(torch.arange(3.0).repeat(2, 2))
print(torch.ones(2, 3, 4).tril(1)[0], torch.ones(3, 4).triu(-1))
print([c.shape[0] for c in torch.arange(5.0).chunk(3)], [c.shape[0] for c in torch.zeros(0).chunk(2)])
print(torch.zeros(3, 1).expand(2, -1, 4).shape, torch.zeros(2, 12).unflatten(1, (3, -1)).shape)
