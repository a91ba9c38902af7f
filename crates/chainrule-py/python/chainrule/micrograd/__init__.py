"""micrograd's API on chainrule's engine.

``chainrule.micrograd.engine.Value`` is ``chainrule.Value`` and ``chainrule.micrograd.nn`` holds
micrograd's ``Module``, ``Neuron``, ``Layer`` and ``MLP``, so that code written for micrograd runs
with only its imports changed::

    from chainrule.micrograd.engine import Value   # was: from micrograd.engine import Value
    from chainrule.micrograd.nn import MLP         # was: from micrograd.nn import MLP
"""

from . import engine, nn

__all__ = ["engine", "nn"]
