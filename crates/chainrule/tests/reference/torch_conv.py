# Prints PyTorch's values for the fixed cases of tests/tensor_conv.rs (float64), which the tests
# hold as independent truth. Run with a Python that has torch: python torch_conv.py
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.set_printoptions(precision=17)

x = (torch.arange(32.0).reshape(1, 2, 4, 4) * 0.1).requires_grad_()
w = (torch.arange(-9.0, 9.0).reshape(1, 2, 3, 3) * 0.1).requires_grad_()
b = torch.tensor([0.5], requires_grad=True)
y = F.conv2d(x, w, b, stride=2, padding=1)
print("conv2d stride 2 pad 1:", y.flatten().tolist())
(y * y).sum().backward()
print("grad w:", w.grad.flatten().tolist())

# Max pooling: ties (the first in the window wins) and a NaN (which wins and propagates).
x = torch.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 4.0, 1.0], [4.0, 4.0, 0.0, float("nan")],
                    [2.0, 4.0, 3.0, 3.0]]]], requires_grad=True)
y = F.max_pool2d(x, 2)
print("max_pool2d ties and nan:", y.flatten().tolist())
y.sum().backward()
print("grad:", x.grad.flatten().tolist())
x = torch.tensor([[[[7.0, 7.0], [7.0, 7.0]]]], requires_grad=True)
F.max_pool2d(x, 2).sum().backward()
print("all equal grad:", x.grad.flatten().tolist())

# Average pooling with padding, both counts.
x = torch.arange(20.0).reshape(1, 1, 4, 5)
for inc in (True, False):
    print("avg_pool2d k3 s2 p1 count_include_pad=%s:" % inc,
          F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=inc).flatten().tolist())

# Batch normalisation: training output, running statistics after one step, evaluation output.
x = torch.tensor([[[[1.0, 2.0], [3.0, 5.0]], [[-1.0, 0.5], [2.0, 0.0]]],
                  [[[0.0, 4.0], [1.0, 1.0]], [[3.0, -2.0], [1.5, 1.0]]]], requires_grad=True)
bn = torch.nn.BatchNorm2d(2)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, -0.5]))
    bn.bias.copy_(torch.tensor([0.1, 0.2]))
y = bn(x)
print("bn train:", y.flatten().tolist())
(y * torch.arange(16.0).reshape(2, 2, 2, 2)).sum().backward()
print("bn grad x:", x.grad.flatten().tolist())
print("bn grad w, b:", bn.weight.grad.tolist(), bn.bias.grad.tolist())
print("running:", bn.running_mean.tolist(), bn.running_var.tolist(), int(bn.num_batches_tracked))
bn.eval()
print("bn eval:", bn(x).flatten().tolist())

# Layer normalisation over the last two dimensions, with weight and bias.
x = torch.tensor([[[1.0, 2.0, 4.0], [0.0, -1.0, 3.0]], [[2.0, 2.0, 2.5], [1.0, 0.0, -2.0]]],
                 requires_grad=True)
w = torch.tensor([[1.0, 2.0, -1.0], [0.5, 1.0, 1.5]], requires_grad=True)
b = torch.tensor([[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]], requires_grad=True)
y = F.layer_norm(x, (2, 3), w, b, 1e-5)
print("ln:", y.flatten().tolist())
(y * torch.arange(12.0).reshape(2, 2, 3)).sum().backward()
print("ln grad x:", x.grad.flatten().tolist())
print("ln grad w:", w.grad.flatten().tolist())

# Scaled dot-product attention, causal, float64.
q = (torch.arange(24.0).reshape(1, 2, 3, 4) * 0.1).sin().requires_grad_()
k = (torch.arange(24.0).reshape(1, 2, 3, 4) * 0.2).cos().requires_grad_()
v = (torch.arange(18.0).reshape(1, 2, 3, 3) * 0.3).sin().requires_grad_()
y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("sdpa causal:", y.flatten().tolist())
(y * torch.arange(18.0).reshape(1, 2, 3, 3)).sum().backward()
print("sdpa grad q:", q.grad.flatten().tolist())
print("sdpa grad k:", k.grad.flatten().tolist())
print("sdpa grad v:", v.grad.flatten().tolist())
