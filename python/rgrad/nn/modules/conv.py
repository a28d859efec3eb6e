"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d."""

import math

from ..._creation import empty
from .. import _fn_conv as F
from .. import init
from ..functional import pad as _pad
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_STRINGS = {"same", "valid"}
_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _ntuple(value, n):
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    __constants__ = ["stride", "padding", "dilation", "groups", "padding_mode", "output_padding", "in_channels",
                     "out_channels", "kernel_size"]

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size, stride, dilation = (_ntuple(v, n) for v in (kernel_size, stride, dilation))
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {_PADDING_STRINGS}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's (last dim first) amounts for the non-zeros padding modes.
        if isinstance(padding, str):
            pads = [0, 0] * n
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(n - 1, -1, -1)):
                    total = d * (k - 1)
                    pads[2 * i], pads[2 * i + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = pads
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(padding) for _ in range(2)]
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = Parameter(empty(shape + kernel_size, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # torch's init: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        n = len(self.kernel_size)
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * n:
            s += ", padding={padding}"
        if self.dilation != (1,) * n:
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * n:
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            input = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return self._fn(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return self._fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        p = self._parameters
        return self._conv_forward(input, p["weight"], p["bias"])


class Conv1d(_Conv):
    r"""1-d convolution over (N, C_in, L) or (C_in, L) input.

    Args:
        in_channels, out_channels: channels of the input and output.
        kernel_size, stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, 'valid' or 'same'. Default: 0.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: ``True``.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape: output (N, C_out, L_out), ``L_out = (L + 2p - d(k - 1) - 1) // s + 1``.
    """

    _n = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    r"""2-d convolution over (N, C_in, H, W) or (C_in, H, W) input.

    Args:
        in_channels, out_channels: channels of the input and output.
        kernel_size, stride, dilation: int or pair.
        padding: int, pair, 'valid' or 'same'. Default: 0.
        groups: blocked connections from input to output channels. Default: 1.
        bias: learn an additive bias. Default: ``True``.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape: output (N, C_out, H_out, W_out), ``H_out = (H + 2p - d(k - 1) - 1) // s + 1``.

    Weight and bias start as :math:`\mathcal{U}(-k, k)`, :math:`k = 1/\sqrt{C_{in}/groups \cdot
    \prod kernel\_size}`, as in torch.

    Example::

        >>> m = nn.Conv2d(3, 16, 3, padding=1)
        >>> m(torch.randn(8, 3, 32, 32)).shape
        rgrad.Size([8, 16, 32, 32])
    """

    _n = 2
    _fn = staticmethod(F.conv2d)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size, stride, padding, kernel_size, num_spatial_dims, dilation=None):
        """The output_padding giving `output_size` (torch's rule), or self.output_padding."""
        if output_size is None:
            return self.output_padding
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial_dims = 2 if has_batch_dim else 1
        output_size = list(output_size)
        if len(output_size) == num_non_spatial_dims + num_spatial_dims:
            output_size = output_size[num_non_spatial_dims:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, output_size must have "
                             f"{num_spatial_dims} or {num_non_spatial_dims + num_spatial_dims} elements (got "
                             f"{len(output_size)})")
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            size = ((input.size(d + num_non_spatial_dims) - 1) * stride[d] - 2 * padding[d]
                    + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1) + 1)
            min_sizes.append(size)
            max_sizes.append(size + stride[d] - 1)
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {min_sizes} "
                                 f"to {max_sizes} (for an input of {input.size()[2:]})")
        return tuple(o - lo for o, lo in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        n = len(self.kernel_size)
        output_padding = self._output_padding(input, output_size, self.stride, self.padding, self.kernel_size, n,
                                              self.dilation)
        p = self._parameters
        return self._fn(input, p["weight"], p["bias"], self.stride, self.padding, output_padding, self.groups,
                        self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    r"""1-d transposed convolution over (N, C_in, L) input: the gradient of Conv1d with respect
    to its input. Weight shape (C_in, C_out / groups, k).

    Shape: ``L_out = (L - 1) s - 2p + d(k - 1) + output_padding + 1``; ``forward(input,
    output_size)`` picks the output_padding that gives `output_size`.
    """

    _n = 1
    _fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    r"""2-d transposed convolution over (N, C_in, H, W) input: the gradient of Conv2d with
    respect to its input. Weight shape (C_in, C_out / groups, kh, kw).

    Shape: ``H_out = (H - 1) s - 2p + d(kh - 1) + output_padding + 1``; ``forward(input,
    output_size)`` picks the output_padding that gives `output_size`.

    Example::

        >>> up = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        >>> up(torch.randn(2, 16, 8, 8)).shape
        rgrad.Size([2, 8, 16, 16])
    """

    _n = 2
    _fn = staticmethod(F.conv_transpose2d)
