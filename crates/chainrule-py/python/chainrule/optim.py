"""Optimizers with ``torch.optim``'s names, signatures and update formulas (the library's
own), and learning-rate schedules (``optim.lr_scheduler``)."""

import math as _math

from . import _core

__all__ = ["Adam", "AdamW", "Optimizer", "SGD", "lr_scheduler"]


class Optimizer:
    """Updates a list of parameters from their ``.grad`` at each ``step()``.

    ``param_groups`` holds one group (``{"params": [...], "lr": ...}``), as PyTorch's; changing
    ``param_groups[0]["lr"]`` (what a schedule does) changes the next step's rate."""

    def __init__(self, params, kind, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if isinstance(params[0], dict):
            if len(params) != 1:
                raise ValueError("only one parameter group is supported")
            group = dict(params[0])
            params = list(group.pop("params"))
            defaults = {**defaults, **group}
        for i, p in enumerate(params):
            if not isinstance(p, _core.Tensor) or not p.is_leaf:
                raise TypeError(f"parameter {i} is not a leaf tensor")
        self.defaults = defaults
        self._kind = kind
        self._rule = _core._Optimizer(kind, **defaults)
        self.param_groups = [{"params": params, **defaults}]

    def zero_grad(self, set_to_none=True):
        """Forgets every parameter's gradient (the next ``backward()`` starts afresh)."""
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self, closure=None):
        """One update of every parameter from its gradient (zeros where it has none). With a
        ``closure`` (recomputing the loss), calls it first and returns the loss."""
        loss = None
        if closure is not None:
            loss = closure()
        group = self.param_groups[0]
        if group["lr"] != self._rule.lr:
            self._rule.lr = group["lr"]
        self._rule.step(group["params"])
        return loss

    def state_dict(self):
        """The state to resume from: the settings, the step count and every buffer
        (``momentum_buffer``, ``exp_avg``, ...) as lists of floats."""
        name, step, lr, buffers = self._rule.state()
        return {"optimizer": name, "step": step, "lr": lr, "buffers": dict(buffers),
                "param_groups": [{k: v for k, v in self.param_groups[0].items() if k != "params"}]}

    def load_state_dict(self, state):
        """Restores a state saved by ``state_dict()`` from an optimizer of the same kind."""
        params = self.param_groups[0]["params"]
        float64 = bool(params) and params[0].dtype.__name__ == "float64"
        self._rule.load_state((state["optimizer"], state["step"], state["lr"],
                               list(state["buffers"].items())), float64)
        self.param_groups[0]["lr"] = state["lr"]

    def __repr__(self):
        settings = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight
    decay, as ``torch.optim.SGD``."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        super().__init__(params, "sgd", dict(lr=lr, momentum=momentum, dampening=dampening,
                                             weight_decay=weight_decay, nesterov=nesterov))


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (``weight_decay`` adds to the gradient; ``amsgrad``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        super().__init__(params, "adam", dict(lr=lr, betas=tuple(betas), eps=eps,
                                              weight_decay=weight_decay, amsgrad=amsgrad))


class AdamW(Optimizer):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default decay 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, "adamw", dict(lr=lr, betas=tuple(betas), eps=eps,
                                               weight_decay=weight_decay, amsgrad=amsgrad))


class _Scheduler:
    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = optimizer
        self.base_lr = optimizer.param_groups[0]["lr"]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, epoch):
        raise NotImplementedError

    def step(self):
        """Moves to the next epoch and sets the optimizer's learning rate for it."""
        self.last_epoch += 1
        self.optimizer.param_groups[0]["lr"] = self.lr_at(self.last_epoch)

    def get_last_lr(self):
        """The learning rate set by the last ``step()``, as a one-element list."""
        return [self.optimizer.param_groups[0]["lr"]]

    def state_dict(self):
        """The epoch and base rate."""
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state):
        """Restores ``state_dict()``."""
        self.last_epoch, self.base_lr = state["last_epoch"], state["base_lr"]


class StepLR(_Scheduler):
    """Multiplies the rate by ``gamma`` every ``step_size`` epochs (the library's closed form
    of ``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return _core._schedule_lr("step", self.base_lr, epoch, self.step_size, self.gamma)


class CosineAnnealingLR(_Scheduler):
    """Cosine annealing from the base rate to ``eta_min`` over ``T_max`` epochs (the library's
    closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR``)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return _core._schedule_lr("cosine", self.base_lr, epoch, self.T_max, self.eta_min)


class ExponentialLR(_Scheduler):
    """Multiplies the rate by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return self.base_lr * self.gamma ** epoch


class LambdaLR(_Scheduler):
    """The base rate times ``lr_lambda(epoch)``."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch):
        return self.base_lr * self.lr_lambda(epoch)


class _LrScheduler:
    """``torch.optim.lr_scheduler``'s schedules: ``StepLR``, ``CosineAnnealingLR``,
    ``ExponentialLR``, ``LambdaLR``."""

    StepLR = StepLR
    CosineAnnealingLR = CosineAnnealingLR
    ExponentialLR = ExponentialLR
    LambdaLR = LambdaLR


lr_scheduler = _LrScheduler()
_ = _math
