"""Layers, containers and losses with ``torch.nn``'s names, signatures and ``state_dict``
names (``0.weight`` is ``[out, in]``), on chainrule tensors.

A module keeps its parameters as tensors with ``requires_grad=True`` (``Parameter``); its
``forward`` is written with tensor operations, so the library records it and differentiates
it. Subclass :class:`Module` for your own layers, as in PyTorch.

Extension points: the convolutional and normalisation layers (``Conv2d``, ``BatchNorm2d``,
``MaxPool2d``, ``AvgPool2d``, ``Flatten``), ``Embedding``, ``LayerNorm`` and
``CausalSelfAttention`` here are written over :mod:`chainrule.functional`, whose operations are
the library's own; as the library's ``nn`` gains the same layers (and a ``GPT``), they belong in
:mod:`chainrule.nn.layers` with the same names and ``state_dict`` layouts.
"""

from .module import Module, ModuleList, Parameter, Sequential
from .layers import (
    GELU, AvgPool2d, BatchNorm2d, CausalSelfAttention, Conv2d, Dropout, Embedding, Flatten,
    Identity, LayerNorm, Linear, MaxPool2d, ReLU, Sigmoid, Softmax, Tanh,
)
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .model import Classifier, load_model

from .. import functional

__all__ = [
    "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm2d", "CausalSelfAttention", "Classifier",
    "Conv2d", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GELU", "Identity",
    "LayerNorm", "Linear", "MSELoss", "MaxPool2d", "Module", "ModuleList", "NLLLoss", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "load_model",
]
