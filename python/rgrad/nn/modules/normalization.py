"""LayerNorm, GroupNorm and RMSNorm modules."""

import numbers

from ..._creation import empty
from .. import _fn_norm as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm"]


def _affine_parameters(module, shape, affine, bias, dtype, device=None):
    """Registers a norm layer's per-feature `weight` and `bias` of `shape` (None when not learned)."""
    module.register_parameter("weight", Parameter(empty(shape, dtype=dtype, device=device)) if affine else None)
    module.register_parameter("bias", Parameter(empty(shape, dtype=dtype, device=device)) if affine and bias else None)


def _reset_affine(module):
    """The identity affine: weight 1, bias 0."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (normalized_shape,)
    return tuple(normalized_shape)


class LayerNorm(Module):
    r"""Normalises over the trailing `normalized_shape` dims (biased variance), then applies the
    elementwise affine :math:`w \cdot \hat{x} + b` (weight ones, bias zeros at start).

    Args:
        normalized_shape: the trailing shape to normalise over (an int for the last dim).
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn `weight` (and `bias`). Default: ``True``.
        bias: learn `bias` too (with `elementwise_affine`). Default: ``True``.

    Example::

        >>> nn.LayerNorm(10)(torch.randn(20, 5, 10)).shape
        rgrad.Size([20, 5, 10])
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}, bias={use_bias}".format(
            **self.__dict__, use_bias=self.bias is not None)


class GroupNorm(Module):
    r"""Normalises groups of channels of each sample (over the group's channels and spatial
    dims), then applies a per-channel affine.

    Args:
        num_groups: number of groups; must divide `num_channels`.
        num_channels: channels expected in the input (dim 1).
        eps: added to the variance. Default: 1e-5.
        affine: learn per-channel `weight` (and `bias`). Default: ``True``.
        bias: learn `bias` too (with `affine`). Default: ``True``.

    Shape: ``(N, C, *)``.
    """

    __constants__ = ["num_groups", "num_channels", "eps", "affine"]

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, num_channels, affine, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return "{num_groups}, {num_channels}, eps={eps}, affine={affine}, bias={use_bias}".format(
            **self.__dict__, use_bias=self.bias is not None)


class RMSNorm(Module):
    r"""Root-mean-square normalisation over the trailing `normalized_shape` dims, times a learnable
    `weight` (ones at start).

    Args:
        normalized_shape: the trailing shape (an int for the last dim).
        eps: added to the mean square; ``None`` uses the dtype's machine epsilon.
        elementwise_affine: learn `weight`. Default: ``True``.
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(empty(self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)
