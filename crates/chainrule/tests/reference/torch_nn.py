# Prints PyTorch's values for the small convolutional network of tests/nn_conv.rs (float32),
# which the tests hold as independent truth. Run with a Python that has torch: python torch_nn.py
import torch
from torch import nn

torch.set_printoptions(precision=9)


def fill(t, k):
    """Deterministic values: 0.3·sin(i + k) for the i-th element."""
    with torch.no_grad():
        t.copy_(0.3 * torch.sin(torch.arange(t.numel(), dtype=torch.float32) + k).reshape(t.shape))


net = nn.Sequential(
    nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(4, 6, 3), nn.Tanh(), nn.Flatten(), nn.Linear(6, 3), nn.BatchNorm1d(3))
for k, (name, p) in enumerate(net.named_parameters()):
    fill(p, k)
i = torch.arange(108, dtype=torch.float32)
x = torch.cos(i * 0.7 + i * i * 0.013).reshape(3, 1, 6, 6)
y = net(x)
print("train output:", y.flatten().tolist())
(y * torch.arange(9.0).reshape(3, 3)).sum().backward()
print("grad 0.weight:", net[0].weight.grad.flatten().tolist())
print("grad 7.bias:", net[7].bias.grad.flatten().tolist())
print("1.running_mean:", net[1].running_mean.tolist())
print("1.running_var:", net[1].running_var.tolist())
print("8.running_var:", net[8].running_var.tolist())
print("8.running_mean:", net[8].running_mean.tolist())
net.eval()
print("eval output:", net(x).flatten().tolist())
print("state_dict:", [(k, list(v.shape), str(v.dtype)) for k, v in net.state_dict().items()])
