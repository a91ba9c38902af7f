"""``Module``: parameters, buffers, submodules, training mode and ``state_dict``, as in PyTorch."""

from collections import OrderedDict

import numpy as _np

from .. import _core


def Parameter(data, requires_grad=True):
    """A tensor that a module learns: a leaf with ``requires_grad=True`` (``data`` is copied
    unless it is already a leaf tensor, whose value is then shared)."""
    if isinstance(data, _core.Tensor) and data.is_leaf:
        t = data.detach()
        t.requires_grad = requires_grad
        return t
    return _core.tensor(data, requires_grad=requires_grad)


class Module:
    """A layer or a network: assign parameters (tensors with ``requires_grad=True``), buffers
    (``register_buffer``) and submodules as attributes, write ``forward``, and call the module.

    ``parameters()``, ``named_parameters()``, ``state_dict()`` and ``load_state_dict()`` list
    them in the order they were assigned, under PyTorch's names (``0.weight``,
    ``layers.1.bias``)."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            Module.__init__(self)
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, _core.Tensor) and value.is_leaf and value.requires_grad:
            self._parameters[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """Keeps ``tensor`` (state that is not learned, such as running statistics) in the
        module's ``state_dict`` under ``name``."""
        if "_parameters" not in self.__dict__:
            Module.__init__(self)
        self._buffers[name] = tensor

    def forward(self, *args, **kwargs):
        """The computation; subclasses write it."""
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def named_modules(self, prefix=""):
        """This module and every submodule, with their dotted names."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        """The direct submodules."""
        return iter(self._modules.values())

    def modules(self):
        """This module and every submodule."""
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix="", recurse=True):
        """``(name, parameter)`` pairs, in order, each parameter once."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        """The parameters, in order."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        """``(name, buffer)`` pairs."""
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        """The buffers."""
        return (b for _, b in self.named_buffers())

    def train(self, mode=True):
        """Training mode (dropout active, batch statistics), or evaluation with ``mode=False``;
        returns the module."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Evaluation mode (the same as ``train(False)``)."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forgets every parameter's gradient."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad=True):
        """Turns gradients of every parameter on or off."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def _named_state(self):
        # Every parameter and buffer under every name it has (a shared parameter, such as a
        # tied embedding, appears under each), as PyTorch's state_dict lists them.
        for mname, m in self.named_modules():
            for store in (m._parameters, m._buffers):
                for n, t in store.items():
                    if t is not None:
                        yield (f"{mname}.{n}" if mname else n), t

    def _convert(self, dtype):
        # A tensor held by several modules (tied weights) becomes one new tensor.
        done = {}
        for m in self.modules():
            for store, grads in ((m._parameters, True), (m._buffers, False)):
                for name, t in list(store.items()):
                    if t is None or t.dtype == dtype:
                        continue
                    if id(t) not in done:
                        new = t.detach().to(dtype)
                        if grads:
                            new = Parameter(new, requires_grad=t.requires_grad)
                        done[id(t)] = (t, new)
                    store[name] = done[id(t)][1]
        return self

    def double(self):
        """Converts every parameter and buffer to float64, in place, and returns the module.
        Parameters of another type become new tensors: build the optimizer afterwards."""
        return self._convert(_np.float64)

    def float(self):
        """Converts every parameter and buffer to float32, as :meth:`double` does to
        float64."""
        return self._convert(_np.float32)

    def to(self, dtype):
        """Converts every parameter and buffer to ``dtype`` (``"float32"``, ``"float64"``
        or the NumPy types), as :meth:`double` does."""
        name = _np.dtype(dtype).name
        if name not in ("float32", "float64"):
            raise TypeError(f"modules hold float32 or float64, not {name}")
        return self._convert(_np.dtype(name).type)

    def state_dict(self):
        """Every parameter and buffer by name, as tensors sharing their data (PyTorch's
        ``state_dict``, a parameter shared by two modules under both names): what
        ``chainrule.save`` writes."""
        out = OrderedDict()
        for n, t in self._named_state():
            out[n] = t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copies tensors (or arrays) by name into the parameters and buffers; with ``strict``,
        every one must be present with its shape and no other may be (nothing is changed
        otherwise). Returns ``(missing, unexpected)`` names."""
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected: " + ", ".join(repr(k) for k in unexpected))
            raise _core.ModelFileError("load_state_dict: " + "; ".join(parts))
        values = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            a = v.numpy() if isinstance(v, _core.Tensor) else _np.asarray(v)
            if tuple(a.shape) != tuple(t.shape):
                raise _core.ModelFileError(
                    f"load_state_dict: tensor {k!r} has shape {list(a.shape)} but the module "
                    f"needs {list(t.shape)}")
            values[k] = a
        for k, a in values.items():
            own[k].data = a
        return missing, unexpected

    def num_parameters(self):
        """The number of learned numbers."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self):
        """The settings shown inside the module's ``repr``."""
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, m in self._modules.items():
                sub = repr(m).replace("\n", "\n  ")
                lines.append(f"  ({name}): {sub}")
            return "\n".join(lines) + "\n)"
        return lines[0] + ")"


class Sequential(Module):
    """Modules applied one after the other; their parameters are named ``0.weight``,
    ``0.bias``, ``2.weight``, ... as in ``torch.nn.Sequential``."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self._modules[str(i)] = m

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Adds a module at the end."""
        self._modules[str(len(self._modules))] = module
        return self


class ModuleList(Module):
    """A list of modules whose parameters are named by position (``0.weight``...)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        """Adds a module at the end."""
        self._modules[str(len(self._modules))] = module
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """Modules by name (``transformer.h``, ``transformer.wte``...), as ``torch.nn.ModuleDict``."""

    def __init__(self, modules=None):
        super().__init__()
        for k, m in (modules or {}).items():
            self._modules[k] = m

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self._modules[key] = module

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        """The names."""
        return self._modules.keys()

    def items(self):
        """``(name, module)`` pairs."""
        return self._modules.items()

    def values(self):
        """The modules."""
        return self._modules.values()
