"""Layers, containers and losses with ``torch.nn``'s names, signatures and ``state_dict``
names (``0.weight`` is ``[out, in]``), on chainrule tensors.

A module keeps its parameters as tensors with ``requires_grad=True`` (``Parameter``); its
``forward`` is written with tensor operations, so the library records it and differentiates
it. Subclass :class:`Module` for your own layers, as in PyTorch.

The convolutional and normalisation layers (``Conv2d``, ``BatchNorm1d``, ``BatchNorm2d``,
``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, ``Flatten``, ``Residual``) and the
transformer's (``Embedding``, ``LayerNorm``, ``CausalSelfAttention``, ``MLP``, ``Block``,
``GPT``) are written over :mod:`chainrule.functional`, whose operations are the library's own
kernels and derivative rules, with the library's (and PyTorch's, and nanoGPT's) parameter and
buffer names, so that ``load_model`` reads every network ``chainrule train --save`` writes.
"""

from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .layers import (
    ELU, GELU, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, CausalSelfAttention, Conv2d,
    Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU, Linear, LogSigmoid, MaxPool2d,
    ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from .transformer import GPT, MLP, Block, GPTConfig, Residual
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .model import Classifier, load_model

from . import functional

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Block",
    "CausalSelfAttention", "Classifier", "Conv2d", "CrossEntropyLoss", "Dropout", "ELU",
    "Embedding", "Flatten", "GELU", "GPT", "GPTConfig", "Identity", "LayerNorm", "LeakyReLU",
    "Linear", "LogSigmoid", "MLP", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList",
    "NLLLoss", "Parameter", "ReLU", "Residual", "Sequential", "SiLU", "Sigmoid", "Softmax",
    "Softplus", "Tanh", "functional", "load_model",
]
