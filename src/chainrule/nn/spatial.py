"""Spatial layers with PyTorch's names, arguments, parameter layouts and initialisation:
Conv1d, ConvTranspose2d, average and adaptive pooling, Upsample, GroupNorm and channel
dropout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import functional as F
from . import init
from .layers import _as_input, _param
from .module import Module
from .parameter import Parameter
from .primitives import count, pair


def _single(v: Any, name: str) -> int:
    low = 0 if name.endswith("padding") else 1
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return count(v, name, low)


def _conv_init(weight: Parameter, bias: Parameter | None,
               generator: np.random.Generator | None) -> None:
    """PyTorch's convolution init: kaiming_uniform_(a=sqrt(5)) for the weight, the bias
    uniform in ±1/sqrt(fan_in) (fan_in from the weight's dimensions 1 and up)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound, generator=generator)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv1d(Module):
    """1-D convolution over (N, C, L), weight (out, in // groups, K); PyTorch's init.
    ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular'."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv1d: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.in_channels = count(in_channels, "Conv1d: in_channels", 1)
        self.out_channels = count(out_channels, "Conv1d: out_channels", 1)
        self.groups = count(groups, "Conv1d: groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError("Conv1d: in_channels and out_channels must be divisible by groups")
        self.kernel_size = (_single(kernel_size, "Conv1d: kernel_size"),)
        self.stride = (_single(stride, "Conv1d: stride"),)
        self.dilation = (_single(dilation, "Conv1d: dilation"),)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv1d: padding must be an int, 'valid' or 'same', got "
                                 f"{padding!r}")
            if padding == "same" and self.stride != (1,):
                raise ValueError("Conv1d: padding='same' is not supported for strided "
                                 "convolutions")
            self.padding: Any = padding
        else:
            self.padding = (_single(padding, "Conv1d: padding"),)
        self.padding_mode = padding_mode
        self.weight = _param((self.out_channels, self.in_channels // self.groups)
                             + self.kernel_size, dtype)
        if bias:
            self.bias = _param((self.out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        _conv_init(self.weight, self.bias, generator)

    def _mode_padding(self) -> tuple[int, int]:
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            return total // 2, total - total // 2
        return self.padding[0], self.padding[0]

    def forward(self, input: Any) -> Any:
        x = _as_input(input, self.weight.dtype)
        if self.padding_mode == "zeros":
            return F.conv1d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        lo, hi = self._mode_padding()
        x = F.pad(x, (lo, hi), mode=self.padding_mode)
        return F.conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class ConvTranspose2d(Module):
    """2-D transposed convolution, weight (in, out // groups, KH, KW); PyTorch's init.
    ``forward(input, output_size=None)``: an output size picks the output_padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported (as in "
                             f"PyTorch), got {padding_mode!r}")
        self.in_channels = count(in_channels, "ConvTranspose2d: in_channels", 1)
        self.out_channels = count(out_channels, "ConvTranspose2d: out_channels", 1)
        self.groups = count(groups, "ConvTranspose2d: groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError("ConvTranspose2d: in_channels and out_channels must be divisible "
                             "by groups")
        self.kernel_size = pair(kernel_size, "ConvTranspose2d: kernel_size")
        self.stride = pair(stride, "ConvTranspose2d: stride")
        self.padding = pair(padding, "ConvTranspose2d: padding")
        self.output_padding = pair(output_padding, "ConvTranspose2d: output_padding")
        self.dilation = pair(dilation, "ConvTranspose2d: dilation")
        for op, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True):
            if op >= s and op >= d:
                raise ValueError(
                    f"ConvTranspose2d: output_padding {self.output_padding} must be smaller "
                    f"than either stride {self.stride} or dilation {self.dilation}")
        self.padding_mode = padding_mode
        self.weight = _param((self.in_channels, self.out_channels // self.groups)
                             + self.kernel_size, dtype)
        if bias:
            self.bias = _param((self.out_channels,), dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        _conv_init(self.weight, self.bias, generator)

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must name the 2 spatial sizes, got "
                             f"{output_size!r}")
        spatial = np.shape(getattr(input, "_value", input))[-2:]
        out = []
        for n, want, k, s, p, d in zip(spatial, size, self.kernel_size, self.stride,
                                       self.padding, self.dilation, strict=True):
            least = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not least <= want < least + max(s, d):
                raise ValueError(f"ConvTranspose2d: requested output size {size} is not "
                                 f"reachable: each size must lie in [{least}, "
                                 f"{least + max(s, d) - 1}] here")
            out.append(want - least)
        return out[0], out[1]

    def forward(self, input: Any, output_size: Any = None) -> Any:
        return F.conv_transpose2d(_as_input(input, self.weight.dtype), self.weight, self.bias,
                                  self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups,
                                  self.dilation)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class AvgPool1d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = (_single(kernel_size, "AvgPool1d: kernel_size"),)
        self.stride = self.kernel_size if stride is None else (_single(stride,
                                                                       "AvgPool1d: stride"),)
        self.padding = (_single(padding, "AvgPool1d: padding"),)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Any) -> Any:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        for v, n in ((kernel_size, "kernel_size"), (stride, "stride"), (padding, "padding")):
            if v is not None:
                pair(v, f"AvgPool2d: {n}")  # refused here, not at the first forward
        if divisor_override is not None:
            count(divisor_override, "AvgPool2d: divisor_override", 1)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> Any:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resampling by ``F.interpolate`` (nearest, nearest-exact, linear, bilinear, trilinear)."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) \
            else (tuple(float(s) for s in scale_factor) if scale_factor is not None else None)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Any:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class GroupNorm(Module):
    """Group normalisation of (N, C, *) inputs; weight 1 and bias 0 to start (PyTorch)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = np.float32, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = count(num_groups, "GroupNorm: num_groups", 1)
        self.num_channels = count(num_channels, "GroupNorm: num_channels", 1)
        if self.num_channels % self.num_groups:
            raise ValueError("GroupNorm: num_channels must be divisible by num_groups")
        self.eps = eps
        self.affine = affine
        self._dtype = np.dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=self._dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.num_channels, dtype=self._dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Any:
        dt = self.weight.dtype if self.weight is not None else self._dtype
        return F.group_norm(_as_input(input, dt), self.num_groups, self.weight, self.bias,
                            self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _ChannelDropout(Module):
    _fn: Any = None

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        if inplace:
            raise NotImplementedError(f"{type(self).__name__}(inplace=True) is not supported: "
                                      f"chainrule values are not modified in place")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """Zeroes whole channels of (N, C, L) / (C, L) with probability p while training."""

    _fn = staticmethod(F.dropout1d)


class Dropout2d(_ChannelDropout):
    """Zeroes whole channels of (N, C, H, W) / (C, H, W) with probability p while training."""

    _fn = staticmethod(F.dropout2d)
