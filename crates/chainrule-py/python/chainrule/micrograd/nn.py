"""micrograd's ``nn`` module, unchanged in behaviour, on :class:`chainrule.Value`.

The same classes as micrograd's (``Module``, ``Neuron``, ``Layer``, ``MLP``), drawing their
initial weights from Python's ``random`` in the same order, so that a run seeded like a micrograd
run starts from the same weights.
"""

import random

from .engine import Value

__all__ = ["Module", "Neuron", "Layer", "MLP"]


class Module:
    """A layer or a network: its parameters and ``zero_grad``."""

    def zero_grad(self):
        """Sets the gradient of every parameter to 0."""
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        """The parameters (``Value``s), in a fixed order."""
        return []


class Neuron(Module):
    """``relu(w·x + b)`` (or ``w·x + b`` when ``nonlin`` is false) of ``nin`` inputs."""

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons of ``nin`` inputs each; one output is returned as a value, more as a list."""

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then a layer per size in ``nouts`` (ReLU on
    every layer but the last)."""

    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
