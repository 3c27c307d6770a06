"""``chainrule.nn``: modules, layers, losses and initialisers with PyTorch's conventions.

    from chainrule import nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
"""

from . import functional, init, utils
from .activation import ELU, PReLU
from .layers import (
    GELU, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Identity, LayerNorm, LeakyReLU,
    Linear, LogSoftmax, MaxPool2d, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh,
)
from .attention import MultiheadAttention
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
    NLLLoss, SmoothL1Loss,
)
from .module import IncompatibleKeys, Module, ModuleDict, ModuleList, Sequential, StateDictError
from .parameter import Parameter
from .random import manual_seed
from .recurrent import GRU, LSTM, RNN, Embedding
from .spatial import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, ConvTranspose2d,
    Dropout1d, Dropout2d, GroupNorm, Upsample,
)
from .transformer import (
    Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BCELoss",
    "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout1d", "Dropout2d", "ELU",
    "Embedding", "Flatten", "GELU", "GRU", "GroupNorm", "HuberLoss", "Identity",
    "IncompatibleKeys", "KLDivLoss", "L1Loss", "LSTM", "LayerNorm", "LeakyReLU", "Linear",
    "LogSoftmax", "MSELoss",
    "MaxPool2d", "Module", "ModuleDict", "ModuleList", "MultiheadAttention", "NLLLoss",
    "PReLU", "Parameter", "RNN", "ReLU", "Sequential", "SiLU", "Sigmoid", "SmoothL1Loss",
    "Softmax", "Softplus", "StateDictError", "Tanh", "Transformer", "TransformerDecoder",
    "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer", "Upsample",
    "functional", "init", "manual_seed", "utils",
]
