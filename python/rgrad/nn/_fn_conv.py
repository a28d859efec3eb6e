"""Convolution, pooling, interpolation and fold/unfold (part of ``rgrad.nn.functional``).

All windowed ops rest on one pair of adjoint primitives on (N, C, H, W) tensors:

* im2col: every kernel window of the padded input laid out as columns
  (N, C, kh, kw, Ho, Wo) -- an as_strided view of the padded input plus one copy;
* col2im: its adjoint, kh*kw strided slice-adds into a zero buffer.

Each is an autograd Function whose backward is the other, so gradients of any order flow
through them. A convolution is then one (batched) matmul of the weight against the columns
(gradients from matmul's own rules plus col2im), average pooling a sum over the window axes,
and max pooling a max whose gradient is scattered straight to the argmax positions.
Interpolation and adaptive average pooling resample one dim at a time, by a matmul with a
sparse weight matrix when that is exact (finite input). 1-d ops run as 2-d ops on a height-1
input.
"""

import builtins
import math

import numpy as np

from .. import _C
from .._creation import full, zeros, tensor, arange
from .._matmul import matmul
from ..autograd.function import Function

Tensor = _C.Tensor

__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
    "unfold", "fold",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
]


# ----------------------------------------------------------------------------------------------
# argument helpers

def _is_int(v):
    return not isinstance(v, builtins.bool) and hasattr(v, "__index__")


def _tuple(value, n):
    """An int or a length-n sequence as an n-tuple of ints (None when the length is wrong)."""
    if _is_int(value):
        return (value.__index__(),) * n
    value = tuple(value)
    if len(value) == 1:
        value = value * n
    return tuple(v.__index__() for v in value) if len(value) == n else None


def _conv_arg(name, value, n):
    t = _tuple(value, n)
    if t is None:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match the "
                           f"convolution dimensions, but got {name}={list(value)}")
    return t


def _pool_arg(fn, name, value, n=2):
    t = _tuple(value, n)
    if t is None:
        if name == "stride":
            raise RuntimeError(f"{fn}: stride must either be omitted, a single int, or a tuple of two ints")
        verb = "be either" if name == "dilation" else "either be"
        raise RuntimeError(f"{fn}: {name} must {verb} a single int, or a tuple of two ints")
    return t


def _fill_value(dtype):
    """The identity of max for `dtype`: -inf, or the smallest integer."""
    if dtype.is_floating_point:
        return -math.inf
    if dtype == _C.bool:
        return False
    return int(np.iinfo(dtype.name).min)


# ----------------------------------------------------------------------------------------------
# im2col / col2im

def _padded_extent(size, before, after, out, k, d, s):
    """The padded length the windows reach: at least size + before + after."""
    return builtins.max(size + before + after, (out - 1) * s + d * (k - 1) + 1)


def _im2col(x, kernel, dilation, pads, stride, out_hw, fill=0.0):
    """(N, C, H, W) -> (N, C, kh, kw, Ho, Wo) contiguous; pads = (top, bottom, left, right)
    filled with `fill` (further bottom/right filler is added where the windows need it)."""
    N, C, H, W = x.shape
    (kh, kw), (dh, dw), (sh, sw), (Ho, Wo) = kernel, dilation, stride, out_hw
    pt, pb, pl, pr = pads
    Hp = _padded_extent(H, pt, pb, Ho, kh, dh, sh)
    Wp = _padded_extent(W, pl, pr, Wo, kw, dw, sw)
    if (Hp, Wp) != (H, W):
        xp = full((N, C, Hp, Wp), fill, dtype=x.dtype, device=x.device)
        xp.narrow(2, pt, H).narrow(3, pl, W).copy_(x)
    else:
        xp = x.contiguous()
    if N * C * Ho * Wo == 0:
        return zeros((N, C, kh, kw, Ho, Wo), dtype=x.dtype, device=x.device)
    win = xp.as_strided((N, C, kh, kw, Ho, Wo), (C * Hp * Wp, Hp * Wp, dh * Wp, dw, sh * Wp, sw),
                        xp.storage_offset())
    return win.contiguous()


def _col2im(cols, hw, kernel, dilation, pads, stride):
    """The adjoint of _im2col: sums (N, C, kh, kw, Ho, Wo) columns back into (N, C, H, W)."""
    N, C, kh, kw, Ho, Wo = cols.shape
    (H, W), (dh, dw), (sh, sw) = hw, dilation, stride
    pt, pb, pl, pr = pads
    Hp = _padded_extent(H, pt, pb, Ho, kh, dh, sh)
    Wp = _padded_extent(W, pl, pr, Wo, kw, dw, sw)
    buf = zeros((N, C, Hp, Wp), dtype=cols.dtype, device=cols.device)
    if Ho * Wo > 0:
        for i in builtins.range(kh):
            rows = slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh)
            for j in builtins.range(kw):
                buf[:, :, rows, j * dw:j * dw + sw * (Wo - 1) + 1:sw].add_(cols[:, :, i, j])
    if (Hp, Wp) == (H, W):
        return buf
    return buf[:, :, pt:pt + H, pl:pl + W].contiguous()


class _Im2Col(Function):
    @staticmethod
    def forward(ctx, x, kernel, dilation, pads, stride, out_hw, fill):
        ctx.geometry = (tuple(x.shape[2:]), kernel, dilation, pads, stride, out_hw)
        return _im2col(x, kernel, dilation, pads, stride, out_hw, fill)

    @staticmethod
    def backward(ctx, g):
        hw, kernel, dilation, pads, stride, _ = ctx.geometry
        return _Col2Im.apply(g, hw, kernel, dilation, pads, stride), None, None, None, None, None, None


class _Col2Im(Function):
    @staticmethod
    def forward(ctx, cols, hw, kernel, dilation, pads, stride):
        ctx.geometry = (hw, kernel, dilation, pads, stride, tuple(cols.shape[4:]))
        return _col2im(cols, hw, kernel, dilation, pads, stride)

    @staticmethod
    def backward(ctx, g):
        hw, kernel, dilation, pads, stride, out_hw = ctx.geometry
        return _Im2Col.apply(g, kernel, dilation, pads, stride, out_hw, 0.0), None, None, None, None, None


def _out_len(size, k, s, p_total, d):
    return (size + p_total - d * (k - 1) - 1) // s + 1


# ----------------------------------------------------------------------------------------------
# unfold / fold

def _blocks_str(t):
    return "(" + ", ".join(str(v) for v in t) + ")"


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding local blocks (im2col): (N, C, H, W) -> (N, C*kh*kw, L), where L is the
    number of block positions. A 3-d (C, H, W) input gives (C*kh*kw, L).

    Args:
        kernel_size, dilation, padding, stride: int or pair, as in :func:`conv2d`.
    """
    if input.dim() not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    k, d, p, s = (_tuple(v, 2) for v in (kernel_size, dilation, padding, stride))
    N, C, H, W = x.shape
    out = tuple(_out_len(n, k_, s_, 2 * p_, d_) for n, k_, s_, p_, d_ in zip((H, W), k, s, p, d))
    if builtins.min(out) < 1:
        raise RuntimeError(f"Given input with spatial size {_blocks_str((H, W))}, kernel_size={_blocks_str(k)}, "
                           f"dilation={_blocks_str(d)}, padding={_blocks_str(p)}, calculated shape of the array "
                           f"of sliding blocks as {_blocks_str(out)}, but its components must be at least one.")
    cols = _Im2Col.apply(x, k, d, (p[0], p[0], p[1], p[1]), s, out, 0.0)
    cols = cols.view(N, C * k[0] * k[1], out[0] * out[1])
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combines sliding local blocks into a tensor (col2im), summing overlapping values:
    (N, C*kh*kw, L) -> (N, C, *output_size). The inverse of :func:`unfold` up to those sums."""
    if input.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.dim()}D)")
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    hw, k, d, p, s = (_tuple(v, 2) for v in (output_size, kernel_size, dilation, padding, stride))
    N, CK, L = x.shape
    if CK % (k[0] * k[1]) != 0:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, "
                           f"but got input.size(1)={CK} and kernel_size={_blocks_str(k)}.")
    out = tuple(_out_len(n, k_, s_, 2 * p_, d_) for n, k_, s_, p_, d_ in zip(hw, k, s, p, d))
    if out[0] * out[1] != L:
        raise RuntimeError(f"Given output_size={_blocks_str(hw)}, kernel_size={_blocks_str(k)}, "
                           f"dilation={_blocks_str(d)}, padding={_blocks_str(p)}, stride={_blocks_str(s)}, expected "
                           f"size of input's dimension {2 if batched else 1} to match the calculated number of "
                           f"sliding blocks {out[0]} * {out[1]} = {out[0] * out[1]}, but got "
                           f"input.size({2 if batched else 1})={L}.")
    cols = x.reshape(N, CK // (k[0] * k[1]), k[0], k[1], out[0], out[1])
    y = _Col2Im.apply(cols, hw, k, d, (p[0], p[0], p[1], p[1]), s)
    return y if batched else y.squeeze(0)


# ----------------------------------------------------------------------------------------------
# convolution

def _check_conv_common(x, weight, bias, stride, dilation, groups, transposed=False):
    if any(v <= 0 for v in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(x.dtype)} but found {_scalar_name(weight.dtype)}")
    if bias is not None and bias.dtype != x.dtype:
        raise RuntimeError(f"Input type ({_short_name(x.dtype)}) and bias type ({_short_name(bias.dtype)}) "
                           "should be the same")
    if not transposed and weight.shape[0] % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(weight.shape)}] instead")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {list(bias.shape)} instead")


def _scalar_name(dtype):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[dtype.name]


def _short_name(dtype):
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}[dtype.name]


def _batched(input, n, fn):
    """input as (N, C, *spatial) plus whether it had a batch dim."""
    if input.dim() == n + 2:
        return input, True
    if input.dim() == n + 1:
        return input.unsqueeze(0), False
    raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {fn}, but got input of size: "
                       f"{list(input.shape)}")


def _conv2d_nchw(x, weight, bias, stride, pads, dilation, groups):
    """conv2d of (N, C, H, W) with pads = (top, bottom, left, right)."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = weight.shape
    if C != Cg * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {Cg * groups} channels, but got {C} channels instead")
    Hp, Wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if Hp < eh or Wp < ew:
        raise RuntimeError(f"Calculated padded input size per channel: ({Hp} x {Wp}). Kernel size: ({eh} x {ew}). "
                           "Kernel size can't be greater than actual input size")
    Ho, Wo = (Hp - eh) // stride[0] + 1, (Wp - ew) // stride[1] + 1
    cols = _Im2Col.apply(x, (kh, kw), dilation, pads, stride, (Ho, Wo), 0.0)
    K, L = Cg * kh * kw, Ho * Wo
    if groups == 1:
        out = matmul(weight.reshape(O, K), cols.view(N, K, L))
    else:
        out = matmul(weight.reshape(groups, O // groups, K), cols.view(N, groups, K, L))
    out = out.view(N, O, Ho, Wo)
    if bias is not None:
        out = out + bias.view(1, O, 1, 1)
    return out


def _conv_padding(padding, weight_spatial, dilation, stride):
    """Explicit (before, after) amounts per spatial dim for an int/tuple/'same'/'valid' padding."""
    n = len(weight_spatial)
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # torch puts the odd element of the total padding after.
        return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(weight_spatial, dilation)]
    p = _conv_arg("padding", padding, n)
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    return [(v, v) for v in p]


def _convnd(fn, n, input, weight, bias, stride, padding, dilation, groups):
    if weight.dim() != n + 2:
        raise RuntimeError(f"weight should have at least three dimensions" if weight.dim() < 3 else
                           f"Expected {weight.dim() - 1}D (unbatched) or {weight.dim()}D (batched) input to "
                           f"conv{weight.dim() - 2}d, but got input of size: {list(input.shape)}")
    x, batched = _batched(input, n, fn)
    stride, dilation = _conv_arg("stride", stride, n), _conv_arg("dilation", dilation, n)
    _check_conv_common(x, weight, bias, stride, dilation, groups)
    pads = _conv_padding(padding, tuple(weight.shape[2:]), dilation, stride)
    if n == 1:
        out = _conv2d_nchw(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride[0]),
                           (0, 0) + pads[0], (1, dilation[0]), groups).squeeze(2)
    else:
        out = _conv2d_nchw(x, weight, bias, stride, pads[0] + pads[1], dilation, groups)
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution (cross-correlation) of (N, C_in, L) or (C_in, L) input with a
    (C_out, C_in / groups, k) weight.

    Args:
        stride, dilation: int or 1-tuple.
        padding: int, 1-tuple, 'valid' (none) or 'same' (output length = input length; stride 1).
        groups: splits the channels into groups convolved separately.
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) input with a
    (C_out, C_in / groups, kh, kw) weight and optional (C_out,) bias.

    Args:
        stride, dilation: int or pair.
        padding: int, pair, 'valid' (none) or 'same' (output size = input size; stride 1).
        groups: splits the channels into groups convolved separately.

    Shape: output (N, C_out, H_out, W_out) with
    ``H_out = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1``.

    Example::

        >>> x = rgrad.randn(8, 3, 32, 32)
        >>> F.conv2d(x, rgrad.randn(16, 3, 3, 3), padding=1).shape
        rgrad.Size([8, 16, 32, 32])
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose2d_nchw(x, weight, bias, stride, padding, output_padding, groups, dilation):
    N, C, H, W = x.shape
    Cw, Og, kh, kw = weight.shape
    if C != Cw:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
                           f"{list(x.shape)} to have {Cw} channels, but got {C} channels instead")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding_height: {output_padding[0]} output_padding_width: {output_padding[1]} "
                           f"stride_height: {stride[0]} stride_width: {stride[1]} dilation_height: {dilation[0]} "
                           f"dilation_width: {dilation[1]}")
    hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
               for n, s, p, d, k, op in zip((H, W), stride, padding, dilation, (kh, kw), output_padding))
    if builtins.min(hw) < 1:
        raise RuntimeError(f"Given input size per channel: ({H} x {W}). Calculated output size per channel: "
                           f"({hw[0]} x {hw[1]}). Output size is too small")
    Cg, K = C // groups, Og * kh * kw
    if groups == 1:
        cols = matmul(weight.reshape(C, K).t(), x.reshape(N, C, H * W))
    else:
        cols = matmul(weight.reshape(groups, Cg, K).transpose(1, 2), x.reshape(N, groups, Cg, H * W))
    cols = cols.view(N, Og * groups, kh, kw, H, W)
    out = _Col2Im.apply(cols, hw, (kh, kw), dilation, (padding[0], padding[0], padding[1], padding[1]), stride)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def _conv_transposend(fn, n, input, weight, bias, stride, padding, output_padding, groups, dilation):
    x, batched = _batched(input, n, fn)
    stride, dilation = _conv_arg("stride", stride, n), _conv_arg("dilation", dilation, n)
    padding, output_padding = _conv_arg("padding", padding, n), _conv_arg("output_padding", output_padding, n)
    _check_conv_common(x, weight, bias, stride, dilation, groups, transposed=True)
    if any(v < 0 for v in padding):
        raise RuntimeError("negative padding is not supported")
    if any(v < 0 for v in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if weight.shape[0] % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(weight.shape)}] instead")
    if n == 1:
        out = _conv_transpose2d_nchw(x.unsqueeze(2), weight.unsqueeze(2), bias, (1,) + stride, (0,) + padding,
                                     (0,) + output_padding, groups, (1,) + dilation).squeeze(2)
    else:
        out = _conv_transpose2d_nchw(x, weight, bias, stride, padding, output_padding, groups, dilation)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution ("deconvolution") of (N, C_in, L) input with a
    (C_in, C_out / groups, k) weight: the gradient of :func:`conv1d` with respect to its input."""
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution of (N, C_in, H, W) input with a (C_in, C_out / groups, kh, kw)
    weight: the gradient of :func:`conv2d` with respect to its input.

    Shape: ``H_out = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1``.
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                             dilation)


# ----------------------------------------------------------------------------------------------
# pooling

def _pool_len(size, k, s, p, d, ceil_mode):
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    # The last window must start inside the input or its left padding.
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_input(input):
    if input.dim() not in (3, 4) or builtins.any(s == 0 for s in input.shape[-3 if input.dim() == 3 else 1:]):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    return (input, True) if input.dim() == 4 else (input.unsqueeze(0), False)


def _pool_geometry(fn, x, kernel_size, stride, padding, dilation, ceil_mode):
    k = _pool_arg(fn, "kernel_size", kernel_size)
    s = k if stride is None or (not _is_int(stride) and len(stride) == 0) else _pool_arg(fn, "stride", stride)
    p = _pool_arg(fn, "padding", padding)
    d = _pool_arg(fn, "dilation", dilation)
    if builtins.min(s) == 0:
        raise RuntimeError("stride should not be zero")
    if builtins.min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if builtins.min(s) < 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if builtins.min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[1]}")
    for k_, p_, d_ in zip(k, p, d):
        if p_ < 0 or p_ > (d_ * (k_ - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p_}, "
                               f"kernel_size={k_} and dilation={d_}")
    N, C, H, W = x.shape
    out = tuple(_pool_len(n, k_, s_, p_, d_, ceil_mode) for n, k_, s_, p_, d_ in zip((H, W), k, s, p, d))
    if builtins.min(out) < 1:
        raise RuntimeError(f"Given input size: ({C}x{H}x{W}). Calculated output size: ({C}x{out[0]}x{out[1]}). "
                           "Output size is too small")
    return k, s, p, d, out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling over (N, C, H, W) or (C, H, W) input.

    Args:
        kernel_size: int or pair; stride defaults to kernel_size.
        padding: implicit -inf padding on both sides, at most half the kernel.
        ceil_mode: use ceil instead of floor for the output size.
        return_indices: also return the argmax positions, as flat indices into H * W.
    """
    x, batched = _pool_input(input)
    geometry = _pool_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    values, indices = _MaxPool2d.apply(x, geometry, return_indices)
    if not batched:
        values = values.squeeze(0)
        indices = None if indices is None else indices.squeeze(0)
    return (values, indices) if return_indices else values


def _flat_indices(k, geometry, H, W):
    """Flat H * W input positions of the window argmaxes `k` (N, C, Ho, Wo)."""
    (kh, kw), s, p, d, (Ho, Wo) = geometry
    rows = (arange(Ho, device=k.device) * s[0] - p[0]).view(Ho, 1) + (k // kw) * d[0]
    cols = (arange(Wo, device=k.device) * s[1] - p[1]) + (k % kw) * d[1]
    if p[0] or p[1]:
        # A window whose in-bounds values are all -inf can pick top/left padding (scanned
        # first); clamping gives its first in-bounds element, which is torch's choice.
        rows, cols = rows.clamp(0, H - 1), cols.clamp(0, W - 1)
    return rows * W + cols


class _MaxPool2d(Function):
    """Max pooling whose backward scatters the gradient straight to the argmax positions."""

    @staticmethod
    def forward(ctx, x, geometry, return_indices):
        (kh, kw), s, p, d, (Ho, Wo) = geometry
        N, C, H, W = x.shape
        cols = _im2col(x, (kh, kw), d, (p[0], p[0], p[1], p[1]), s, (Ho, Wo), _fill_value(x.dtype))
        values, k = cols.view(N, C, kh * kw, Ho, Wo).max(dim=2)
        ctx.geometry, ctx.input_shape = geometry, (N, C, H, W)
        if not return_indices:
            # The flat indices cost a few integer passes: left to backward, when needed.
            ctx.save_for_backward(k)
            ctx.flat = False
            return values, None
        indices = _flat_indices(k, geometry, H, W)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        ctx.flat = True
        return values, indices

    @staticmethod
    def backward(ctx, g, _):
        (indices,) = ctx.saved_tensors
        N, C, H, W = ctx.input_shape
        if not ctx.flat:
            indices = _flat_indices(indices, ctx.geometry, H, W)
        gx = zeros((N, C, H * W), dtype=g.dtype, device=g.device).scatter_add(2, indices.view(N, C, -1),
                                                                              g.reshape(N, C, -1))
        return gx.view(N, C, H, W), None, None


def _pool1d_args(fn, kernel_size, stride, padding, dilation=1):
    one = {}
    for name, v in (("kernel_size", kernel_size), ("stride", stride), ("padding", padding),
                    ("dilation", dilation)):
        if v is None or (not _is_int(v) and len(v) == 0):
            one[name] = None
            continue
        t = _tuple(v, 1)
        if t is None:
            raise RuntimeError(f"{fn}: {name} must be a single int, or a tuple of one int")
        one[name] = t[0]
    return one


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling over (N, C, L) or (C, L) input; see :func:`max_pool2d`."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{list(input.shape)}")
    a = _pool1d_args("max_pool1d", kernel_size, stride, padding, dilation)
    x = input.unsqueeze(-2)
    s = None if a["stride"] is None else (1, a["stride"])
    r = max_pool2d(x, (1, a["kernel_size"]), s, (0, a["padding"]), (1, a["dilation"]), ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def _avg_divisor(size, k, s, p, out, include_pad):
    """Per-output window sizes along one dim, torch's way: the window is clipped to the padded
    input (not the ceil_mode extension) and, without count_include_pad, to the input."""
    res = []
    for o in builtins.range(out):
        start = o * s - p
        end = builtins.min(start + k, size + p)
        n = end - start
        if not include_pad:
            n = builtins.min(end, size) - builtins.max(start, 0)
        res.append(n)
    return res


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling over (N, C, H, W) or (C, H, W) input.

    Args:
        kernel_size: int or pair; stride defaults to kernel_size.
        padding: implicit zero padding on both sides, at most half the kernel.
        ceil_mode: use ceil instead of floor for the output size.
        count_include_pad: count the zero padding in the averages' divisors.
        divisor_override: divide every window sum by this instead.
    """
    x, batched = _pool_input(input)
    if x.dtype == _C.bool:
        raise NotImplementedError("\"avg_pool2d\" not implemented for 'Bool'")
    k = _pool_arg("avg_pool2d", "kernel_size", kernel_size)
    p = _pool_arg("avg_pool2d", "padding", padding)
    for k_, p_ in zip(k, p):
        if p_ > k_ // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p_}, "
                               f"kernel_size={k_} and dilation=1")
    (kh, kw), s, p, d, (Ho, Wo) = _pool_geometry("avg_pool2d", x, k, stride, p, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    N, C, H, W = x.shape
    cols = _Im2Col.apply(x, (kh, kw), d, (p[0], p[0], p[1], p[1]), s, (Ho, Wo), 0.0)
    sums = cols.view(N, C, kh * kw, Ho, Wo).sum(2)
    if divisor_override is not None:
        divisor = divisor_override
    else:
        dh = _avg_divisor(H, kh, s[0], p[0], Ho, count_include_pad)
        dw = _avg_divisor(W, kw, s[1], p[1], Wo, count_include_pad)
        divisor = tensor(np.outer(dh, dw), dtype=x.dtype, device=x.device)
    # Integer inputs stay integers, divided as C++ does (towards zero), like torch.
    out = sums / divisor if x.is_floating_point() else sums.div(divisor, rounding_mode="trunc")
    return out if batched else out.squeeze(0)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling over (N, C, L) or (C, L) input; see :func:`avg_pool2d`."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for avg_pool1d)")
    a = _pool1d_args("avg_pool1d", kernel_size, stride, padding)
    s = None if a["stride"] is None else (1, a["stride"])
    out = avg_pool2d(input.unsqueeze(-2), (1, a["kernel_size"]), s, (0, a["padding"]), ceil_mode,
                     count_include_pad)
    return out.squeeze(-2)


def _adaptive_bounds(size, out):
    """torch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    starts = [(i * size) // out for i in builtins.range(out)]
    ends = [-((-(i + 1) * size) // out) for i in builtins.range(out)]
    return starts, ends


def _adaptive_sizes(fn, x, output_size, n):
    sizes = (output_size,) * n if _is_int(output_size) or output_size is None else tuple(output_size)
    if len(sizes) != n:
        raise RuntimeError(f"{fn}: output_size must be {n}")
    return tuple(x.shape[-n + i] if v is None else v.__index__() for i, v in enumerate(sizes))


def _adaptive_input(fn, input, n):
    if input.dim() not in (n + 1, n + 2):
        sep = ":" if fn.startswith("adaptive_max") else ""
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got{sep} {list(input.shape)}")
    return input


def _all_finite(x):
    return not x.is_floating_point() or builtins.bool(x.detach().isfinite().all())


def _apply_matrix(x, dim, m):
    """Applies the (out, size) matrix `m` along dim: out[..., i, ...] = sum_j m[i, j] x[..., j, ...].
    Exact zeros in m only stay harmless for finite x (0 * inf is nan): callers check."""
    m = tensor(m, dtype=x.dtype, device=x.device)
    if dim == x.dim() - 1:
        return matmul(x, m.t())
    return matmul(m, x.movedim(dim, -2)).movedim(-2, dim)


def _adaptive_avg(x, out_sizes):
    """Adaptive average pooling over the last len(out_sizes) dims of x."""
    n = len(out_sizes)
    if not x.is_floating_point():
        raise NotImplementedError(f"\"adaptive_avg_pool{n}d\" not implemented for '{_scalar_name(x.dtype)}'")
    sizes = tuple(x.shape[-n:])
    if builtins.all(s % o == 0 for s, o in zip(sizes, out_sizes)):
        # Equal windows: a reshape and a mean.
        lead = tuple(x.shape[:-n])
        split = builtins.sum(((o, s // o) for s, o in zip(sizes, out_sizes)), ())
        dims = tuple(len(lead) + 2 * i + 1 for i in builtins.range(n))
        return x.reshape(*lead, *split).mean(dims)
    from .._indexing_ops import cat
    finite = _all_finite(x)
    out = x
    for i, (s, o) in enumerate(zip(sizes, out_sizes)):
        dim = x.dim() - n + i
        starts, ends = _adaptive_bounds(s, o)
        if finite:
            # One matmul with an averaging matrix instead of `o` window means.
            m = np.zeros((o, s))
            for r, (a, b) in enumerate(zip(starts, ends)):
                m[r, a:b] = 1.0 / (b - a)
            out = _apply_matrix(out, dim, m)
        else:
            out = cat([out.narrow(dim, a, b - a).mean(dim, keepdim=True) for a, b in zip(starts, ends)], dim)
    return out


def adaptive_avg_pool2d(input, output_size):
    """2-d adaptive average pooling: (N, C, H, W) -> (N, C, *output_size), each output the
    mean of the window [floor(i*H/Ho), ceil((i+1)*H/Ho)). ``None`` keeps an input size."""
    x = _adaptive_input("adaptive_avg_pool2d", input, 2)
    return _adaptive_avg(x, _adaptive_sizes("adaptive_avg_pool2d", x, output_size, 2))


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling: (N, C, L) -> (N, C, output_size)."""
    x = _adaptive_input("adaptive_avg_pool1d", input, 1)
    return _adaptive_avg(x, _adaptive_sizes("adaptive_avg_pool1d", x, output_size, 1))


def _adaptive_index(size, out):
    """(out, kmax) input positions of each adaptive window, short windows padded by repeating
    their last position (harmless under max, which keeps the first of equal values)."""
    starts, ends = _adaptive_bounds(size, out)
    kmax = builtins.max(b - a for a, b in zip(starts, ends))
    idx = np.minimum(np.asarray(starts)[:, None] + np.arange(kmax)[None, :], np.asarray(ends)[:, None] - 1)
    return idx, kmax


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-d adaptive max pooling: (N, C, H, W) -> (N, C, *output_size); with return_indices
    also the argmax positions as flat indices into H * W."""
    x = _adaptive_input("adaptive_max_pool2d", input, 2)
    Ho, Wo = _adaptive_sizes("adaptive_max_pool2d", x, output_size, 2)
    H, W = x.shape[-2:]
    ih, kh = _adaptive_index(H, Ho)
    iw, kw = _adaptive_index(W, Wo)
    lead = tuple(x.shape[:-2])
    win = x.index_select(-2, tensor(ih.reshape(-1), device=x.device)).index_select(
        -1, tensor(iw.reshape(-1), device=x.device))
    win = win.reshape(*lead, Ho, kh, Wo, kw).movedim(-3, -2).reshape(*lead, Ho, Wo, kh * kw)
    values, k = win.max(dim=-1)
    if not return_indices:
        return values
    rows = tensor(ih.reshape(-1), device=x.device).take(arange(Ho, device=x.device).view(Ho, 1) * kh + k // kw)
    cols = tensor(iw.reshape(-1), device=x.device).take(arange(Wo, device=x.device) * kw + k % kw)
    indices = rows * W + cols
    return values, indices


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-d adaptive max pooling: (N, C, L) -> (N, C, output_size)."""
    x = _adaptive_input("adaptive_max_pool1d", input, 1)
    (Lo,) = _adaptive_sizes("adaptive_max_pool1d", x, output_size, 1)
    r = adaptive_max_pool2d(x.unsqueeze(-2), (1, Lo), return_indices)
    return (r[0].squeeze(-2), r[1].squeeze(-2)) if return_indices else r.squeeze(-2)


# ----------------------------------------------------------------------------------------------
# interpolation

_INTERP_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _opmath(dtype):
    return np.float64 if dtype == _C.float64 else np.float32


def _nearest_index(in_size, out_size, scale, exact):
    """Source rows for nearest modes, with torch's float32 index arithmetic."""
    o = np.arange(out_size)
    if not exact and out_size == in_size:
        return o
    if not exact and out_size == 2 * in_size:
        return o >> 1
    sc = np.float32(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
    src = (o + 0.5) * np.float64(sc) if exact else o.astype(np.float32) * sc
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), in_size - 1)


def _linear_weights(in_size, out_size, scale, align_corners, dtype):
    """(i0, i1, w0, w1) for linear interpolation along one dim, as torch computes them."""
    ft = _opmath(dtype)
    o = np.arange(out_size).astype(ft)
    if align_corners:
        sc = ft(in_size - 1) / ft(out_size - 1) if out_size > 1 else ft(0)
        src = sc * o
    else:
        sc = ft(1.0 / scale) if scale is not None and scale > 0 else ft(in_size) / ft(out_size)
        src = np.maximum(sc * (o + ft(0.5)) - ft(0.5), ft(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < in_size - 1)
    w1 = np.clip(src - i0.astype(ft), ft(0), ft(1)).astype(ft)
    w0 = (ft(1) - w1).astype(ft)
    return i0, i1, w0, w1


# Linear resampling along a dim of at most this size is one matmul with a 2-nonzeros-per-row
# matrix; beyond it (cost grows with the size) two index_selects and a lerp.
_MATMUL_RESAMPLE_MAX = 256


def _nearest_dim(x, dim, idx):
    n, o = x.shape[dim], len(idx)
    if o % n == 0 and np.array_equal(idx, np.arange(o) // (o // n)):
        # Integer upsampling: repeat each element via a broadcast view and one copy.
        r = o // n
        shape = list(x.shape)
        v = x.unsqueeze(dim + 1).expand(*shape[:dim + 1], r, *shape[dim + 1:])
        return v.reshape(*shape[:dim], o, *shape[dim + 1:])
    if o > 1 and idx[0] == 0 and idx[1] > 0 and np.array_equal(idx, np.arange(o) * idx[1]):
        # Integer downsampling: a strided view.
        sl = [slice(None)] * x.dim()
        sl[dim] = slice(0, (o - 1) * builtins.int(idx[1]) + 1, builtins.int(idx[1]))
        return x[tuple(sl)]
    return x.index_select(dim, tensor(idx, dtype=_C.int64, device=x.device))


def _linear_dim(x, dim, i0, i1, w0, w1, finite):
    n, o = x.shape[dim], len(i0)
    if finite and n <= _MATMUL_RESAMPLE_MAX:
        m = np.zeros((o, n), dtype=w0.dtype)
        np.add.at(m, (np.arange(o), i0), w0)
        np.add.at(m, (np.arange(o), i1), w1)
        return _apply_matrix(x, dim, m)
    shape = [o if d == dim else 1 for d in builtins.range(x.dim())]
    w0 = tensor(w0, dtype=x.dtype, device=x.device).view(shape)
    w1 = tensor(w1, dtype=x.dtype, device=x.device).view(shape)
    return (x.index_select(dim, tensor(i0, dtype=_C.int64, device=x.device)) * w0
            + x.index_select(dim, tensor(i1, dtype=_C.int64, device=x.device)) * w1)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes (N, C, *spatial) input to `size` or by `scale_factor` (one per spatial dim or one
    for all).

    Args:
        mode: 'nearest', 'nearest-exact', 'linear' (3-d), 'bilinear' (4-d), 'trilinear' (5-d)
            or 'area' (adaptive average pooling).
        align_corners: for the linear modes, align the corner pixels' centres (default False).
        recompute_scale_factor: compute the sampling scale from the output size instead of
            using `scale_factor` directly.
    """
    dims = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = list(input.shape[2:])
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dims:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {spatial} and output size of {size}. Please provide "
                                 "input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            out_sizes = [builtins.int(v) for v in size]
        else:
            out_sizes = [builtins.int(size)] * dims
        scales = [None] * dims
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dims:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {spatial} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scales = [builtins.float(v) for v in scale_factor]
        else:
            scales = [builtins.float(scale_factor)] * dims
        out_sizes = [math.floor(builtins.float(n) * sc) for n, sc in zip(spatial, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor is not None and recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor:
        scales = [None] * dims
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if mode not in _INTERP_MODES or dims not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                                  "for the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area "
                                  f"| nearest-exact (got {mode})")
    if mode in _LINEAR_DIMS and _LINEAR_DIMS[mode] != dims:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_LINEAR_DIMS[mode] + 2}D input")
    if mode == "bicubic" or antialias:
        raise NotImplementedError(f"interpolate: mode '{mode}'{' with antialias' if antialias else ''} is not "
                                  "supported by rgrad yet")
    if mode == "area":
        return _adaptive_avg(input, tuple(out_sizes))
    out = input
    nearest = mode in ("nearest", "nearest-exact")
    if not nearest and mode != "area" and not input.is_floating_point():
        raise NotImplementedError(f"\"compute_indices_weights_linear\" not implemented for "
                                  f"'{_scalar_name(input.dtype)}'")
    finite = nearest or _all_finite(input)
    # Resample the last dim first: the later ones then work on rows that are already resized.
    for i in builtins.reversed(builtins.range(dims)):
        n, o, sc = spatial[i], out_sizes[i], scales[i]
        if nearest:
            out = _nearest_dim(out, 2 + i, _nearest_index(n, o, sc, mode == "nearest-exact"))
        else:
            out = _linear_dim(out, 2 + i, *_linear_weights(n, o, sc, bool(align_corners), input.dtype), finite)
    return out.contiguous()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate`."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
