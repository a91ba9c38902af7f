"""``torch.autograd``'s function: fresh gradients of tensors (see :func:`chainrule.grad`)."""

from . import _core

__all__ = ["grad"]


def grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """The gradients of ``outputs`` (one tensor, or a one-element list) with respect to each of
    ``inputs``, as ``torch.autograd.grad``: a tuple of tensors, recorded when ``create_graph``
    so that they can be differentiated again. Nothing is accumulated into ``.grad``; inputs the
    output does not depend on get zeros."""
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise ValueError("grad() takes one output tensor")
        outputs = outputs[0]
    if isinstance(grad_outputs, (list, tuple)):
        grad_outputs = grad_outputs[0] if grad_outputs else None
    single = not isinstance(inputs, (list, tuple))
    ins = [inputs] if single else list(inputs)
    return tuple(_core._autograd(outputs, ins, grad_outputs, create_graph))
