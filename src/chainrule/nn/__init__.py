"""``chainrule.nn``: modules, layers, losses and initialisers with PyTorch's conventions.

    from chainrule import nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
"""

from . import functional, init, utils
from .layers import (
    GELU, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Identity, LayerNorm, LeakyReLU,
    Linear, LogSoftmax, MaxPool2d, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
)
from .attention import MultiheadAttention
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module, ModuleDict, ModuleList, Sequential, StateDictError
from .parameter import Parameter
from .random import manual_seed
from .transformer import (
    Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d", "CrossEntropyLoss", "Dropout",
    "Flatten", "GELU", "Identity", "IncompatibleKeys", "L1Loss", "LayerNorm", "LeakyReLU",
    "Linear", "LogSoftmax", "MSELoss", "MaxPool2d", "Module", "ModuleDict", "ModuleList",
    "MultiheadAttention", "NLLLoss", "Parameter", "ReLU", "SiLU", "Sequential", "Sigmoid",
    "Softmax", "Softplus", "StateDictError", "Tanh", "Transformer", "TransformerDecoder",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer", "functional",
    "init", "manual_seed", "utils",
]
