"""Part of rgrad.nn.functional: activations, linear/bilinear, dropout, embedding, one_hot and
distance functions.

Each is composed from differentiable core ops, so gradients flow through the tape. Branching
activations keep both branches finite (e.g. ``expm1(min(x, 0))``) so that ``where`` never
multiplies a zero gradient by an infinity.
"""

import math
import warnings

from .. import _C
from .._creation import _random
from ..autograd.grad_mode import is_grad_enabled

Tensor = _C.Tensor

__all__ = [
    "linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "embedding",
    "embedding_bag",
    "one_hot", "normalize", "cosine_similarity", "pairwise_distance",
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu",
    "silu", "mish", "sigmoid", "tanh", "softplus", "softmax", "log_softmax", "softmin", "hardtanh", "hardtanh_",
    "hardsigmoid", "hardswish", "logsigmoid", "softsign", "tanhshrink", "threshold", "threshold_", "glu", "prelu",
    "rrelu", "rrelu_", "hardshrink", "softshrink",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _apply(input, inplace, fn):
    """fn(input), or with `inplace` written back into `input` as torch's ``inplace=True``."""
    if not inplace:
        return fn(input)
    # fn's backward may save its input; computing from a copy keeps that copy unmodified.
    src = input.clone() if input.requires_grad and is_grad_enabled() else input
    return input.copy_(fn(src))


# ----- linear layers -----------------------------------------------------------------------

def linear(input, weight, bias=None):
    r"""Applies :math:`y = xA^T + b` in one fused kernel call (addmm) where the shapes allow.

    Shape: input ``(*, in_features)``, weight ``(out_features, in_features)``, bias
    ``(out_features)``, output ``(*, out_features)``.
    """
    nd = input.dim()
    if bias is None:
        return _C._matmul(input, weight.t())
    if nd == 2:
        return _C._addmm(bias, input, weight.t(), 1, 1)
    if nd > 2:
        # Leading dims fold into the rows of one addmm.
        lead = tuple(input.shape[:-1])
        out = _C._addmm(bias, input.reshape(-1, input.shape[-1]), weight.t(), 1, 1)
        return out.view(lead + (out.shape[-1],))
    return _C._matmul(input, weight.t()) + bias


def bilinear(input1, input2, weight, bias=None):
    r"""Applies :math:`y = x_1^T A x_2 + b` over the last dims.

    Shape: input1 ``(*, in1)``, input2 ``(*, in2)``, weight ``(out, in1, in2)``, bias ``(out)``,
    output ``(*, out)``.
    """
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"input1 size does not match weight size: got {input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"input2 size does not match weight size: got {input2.shape[-1]} but expected {in2}")
    # (*, in1) @ (in1, out*in2) -> (*, out, in2), then contract in2 with input2.
    t = _C._matmul(input1, weight.permute(1, 0, 2).reshape(in1, out_f * in2))
    t = t.reshape(tuple(t.shape[:-1]) + (out_f, in2))
    y = _C._matmul(t, input2.unsqueeze(-1)).squeeze(-1)
    return y if bias is None else y + bias


# ----- dropout -----------------------------------------------------------------------------

def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _apply(input, inplace, lambda x: x * 0.0)
    dt = input.dtype if input.dtype.is_floating_point else _C.get_default_dtype()
    mask = _random("bernoulli", list(mask_shape), 1.0 - p, 0.0, dt, None, input.device)
    mask.mul_(1.0 / (1.0 - p))
    return _apply(input, inplace, lambda x: x * mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability `p` and scales the rest by ``1 / (1 - p)`` when
    `training`; the identity otherwise."""
    return _mask_dropout(input, p, training, inplace, input.shape)


def _feature_dropout(name, input, p, training, inplace, batched_dims):
    nd = input.dim()
    if nd not in batched_dims and nd + 1 not in batched_dims:
        raise RuntimeError(f"{name}: Expected {batched_dims[0] - 1}D or {batched_dims[0]}D input, but received a "
                           f"{nd}D input.")
    batched = nd in batched_dims
    keep = 2 if batched else 1
    shape = tuple(input.shape[:keep]) + (1,) * (nd - keep)
    return _mask_dropout(input, p, training, inplace, shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a ``(N, C, L)`` or ``(C, L)`` input with probability `p`."""
    return _feature_dropout("dropout1d", input, p, training, inplace, (3,))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a ``(N, C, H, W)`` or ``(C, H, W)`` input with probability `p`."""
    nd = input.dim()
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with "
                      "2 spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs).")
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.")
    keep = min(nd, 2)
    return _mask_dropout(input, p, training, inplace, tuple(input.shape[:keep]) + (1,) * (nd - keep))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of a ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with probability `p`."""
    return _feature_dropout("dropout3d", input, p, training, inplace, (5,))


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance: dropped elements take
    SELU's negative saturation value and the result is affinely rescaled."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _apply(input, inplace, lambda x: x * 0.0)
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    keep = _random("bernoulli", list(input.shape), 1.0 - p, 0.0, input.dtype, None, input.device)
    # keep * x + (1 - keep) * alpha_p, then the affine correction.
    return _apply(input, inplace, lambda x: (x * keep + (keep * -alpha_p + alpha_p)) * a + b)


# ----- embedding, one_hot ------------------------------------------------------------------

def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Looks up rows of `weight` at the integer indices `input`; the result has shape
    ``input.shape + (embedding_dim,)``. Rows at `padding_idx` get no gradient. With `max_norm`,
    the looked-up rows whose `norm_type` norm exceeds it are renormalised in place in `weight`.
    With `scale_grad_by_freq`, each row's gradient is divided by its index's count in `input`.
    `sparse` is accepted; gradients are always dense.
    """
    if input.dtype not in (_C.int64, _C.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    flat = input.reshape(-1)
    if max_norm is not None:
        _embedding_renorm_(weight, flat, max_norm, norm_type)
    out = weight.index_select(0, flat)
    if padding_idx is not None and out.requires_grad:
        # The padding row's value passes through, its gradient does not.
        out = _C._where((flat == padding_idx).unsqueeze(-1), out.detach(), out)
    if scale_grad_by_freq and out.requires_grad:
        # Same value; the gradient of each lookup divided by its index's count in this batch.
        counts = flat.bincount(minlength=n).index_select(0, flat).unsqueeze(-1).to(out.dtype)
        held = out.detach()
        out = held + (out - held) / counts
    return out.view(tuple(input.shape) + (weight.shape[1],))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, averages or takes the max of bags of embeddings without materialising them per bag.

    A 2-D `input` ``(B, N)`` holds B bags of N indices; a 1-D `input` is cut into bags starting
    at `offsets` (with `include_last_offset`, the last offset ends the last bag). Indices equal
    to `padding_idx` are left out of their bag. `per_sample_weights` (mode 'sum' only) scale
    each looked-up row. Empty bags give zeros. Result: ``(B, embedding_dim)``.
    """
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
                         f"then it must have the same shape as the input ({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        n_bags, per_bag = input.shape
        starts = list(range(0, n_bags * per_bag, per_bag)) if per_bag else [0] * n_bags
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets.tolist()
        if include_last_offset:
            starts = starts[:-1]
        n_bags = len(starts)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    import numpy as np
    from .._creation import arange, from_numpy, full, zeros
    from .._indexing_ops import where
    from ..autograd.grad_mode import no_grad
    n, dim = input.numel(), weight.shape[1]
    # The bag of each index: the last start at or before its position.
    bag = from_numpy(np.searchsorted(np.asarray(starts, dtype=np.int64), np.arange(n), side="right") - 1)
    bag = bag.to(input.device)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    keep = None if padding_idx is None else input != padding_idx
    e = embedding(input, weight, None, max_norm, norm_type, scale_grad_by_freq)
    if per_sample_weights is not None:
        e = e * per_sample_weights.unsqueeze(-1)
    out = zeros(n_bags, dim, dtype=e.dtype, device=e.device)
    if mode == "max":
        with no_grad():
            src = e if keep is None else e.masked_fill(~keep.unsqueeze(-1), float("-inf"))
            idx = bag.unsqueeze(-1).expand(n, dim)
            best = zeros(n_bags, dim, dtype=e.dtype, device=e.device).scatter_reduce(0, idx, src, "amax",
                                                                                      include_self=False)
            # The first maximal entry of each bag (per dim) carries the value and the gradient.
            pos = arange(n, device=e.device).unsqueeze(-1).expand(n, dim)
            is_max = src == best.index_select(0, bag)
            if keep is not None:
                is_max = is_max & keep.unsqueeze(-1)
            cand = where(is_max, pos, n)
            first = full((n_bags, dim), n, dtype=_C.int64, device=e.device).scatter_reduce(0, idx, cand, "amin")
            sel = (pos == first.index_select(0, bag)).to(e.dtype)
        return out.index_add(0, bag, e * sel)
    if keep is not None:
        e = e * keep.unsqueeze(-1).to(e.dtype)
    out = out.index_add(0, bag, e)
    if mode == "mean":
        members = bag if keep is None else bag[keep]
        counts = members.bincount(minlength=n_bags).clamp(min=1).unsqueeze(-1).to(out.dtype)
        out = out / counts
    return out


def _embedding_renorm_(weight, indices, max_norm, norm_type):
    from ..autograd.grad_mode import no_grad
    with no_grad():
        idx = indices.unique()
        rows = weight.index_select(0, idx)
        norms = rows.norm(norm_type, dim=1, keepdim=True)
        scale = _C._where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.index_copy_(0, idx, rows * scale)


def one_hot(tensor, num_classes=-1):
    """Int64 one-hot encoding: the result has shape ``tensor.shape + (num_classes,)`` with a 1 at
    each index; ``num_classes=-1`` uses ``tensor.max() + 1``."""
    from .._creation import arange
    if tensor.dtype != _C.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if tensor.min().item() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = tensor.max().item() + 1
        elif tensor.max().item() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == arange(num_classes, device=tensor.device)).long()


# ----- distances ---------------------------------------------------------------------------

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    r"""Divides by the `p`-norm over `dim`: :math:`v / \max(\lVert v \rVert_p, \epsilon)`."""
    r = input / input.norm(p, dim, keepdim=True).clamp(min=eps)
    return r if out is None else out.copy_(r)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    r"""Cosine of the angle between `x1` and `x2` along `dim` (broadcast), each normalised by
    :math:`\max(\lVert x \rVert_2, \epsilon)`."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    r"""The `p`-norm of ``x1 - x2 + eps`` over the last dim."""
    return (x1 - x2 + eps).norm(p, -1, keepdim=keepdim)


# ----- activations -------------------------------------------------------------------------

def relu(input, inplace=False):
    r""":math:`\max(0, x)` elementwise."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def threshold(input, threshold, value, inplace=False):
    """`x` where it is greater than `threshold`, else `value`."""
    return _apply(input, inplace, lambda x: _C._where(x > threshold, x, value))


_threshold = threshold  # threshold_'s argument shadows the function's name


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, True)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamps into ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(input, inplace, lambda x: x.clamp(min_val, max_val))


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    r""":math:`\min(\max(0, x), 6)`."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    r""":math:`x` for :math:`x > 0`, else :math:`\text{negative\_slope} \cdot x`."""
    return _apply(input, inplace, lambda x: _C._where(x > 0, x, x * negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def _neg_expm1(input, alpha, inv_scale=1.0):
    # alpha * (exp(min(x, 0) * inv_scale) - 1): finite for every x.
    neg = input.clamp(max=0.0)
    return (neg * inv_scale if inv_scale != 1.0 else neg).expm1() * alpha


def elu(input, alpha=1.0, inplace=False):
    r""":math:`x` for :math:`x > 0`, else :math:`\alpha (e^x - 1)`."""
    return _apply(input, inplace, lambda x: _C._where(x > 0, x, _neg_expm1(x, alpha)))


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    r""":math:`\text{scale} \cdot \text{elu}(x, \alpha)` with SELU's fixed constants."""
    return _apply(input, inplace,
                  lambda x: _C._where(x > 0, x * _SELU_SCALE, _neg_expm1(x, _SELU_ALPHA * _SELU_SCALE)))


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    r""":math:`\max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))`."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _apply(input, inplace, lambda x: _C._where(x > 0, x, _neg_expm1(x, alpha, 1.0 / alpha)))


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    r""":math:`x \Phi(x)` (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    if approximate == "none":
        return input * ((input * (1.0 / math.sqrt(2.0))).erf() + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (inner.tanh() + 1.0) * 0.5
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input, inplace=False):
    r""":math:`x \sigma(x)`."""
    return _apply(input, inplace, lambda x: x * x.sigmoid())


def mish(input, inplace=False):
    r""":math:`x \tanh(\text{softplus}(x))`."""
    return _apply(input, inplace, lambda x: x * softplus(x).tanh())


def sigmoid(input):
    r""":math:`1 / (1 + e^{-x})`."""
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def softplus(input, beta=1.0, threshold=20.0):
    r""":math:`\frac{1}{\beta} \log(1 + e^{\beta x})`, or `x` where :math:`\beta x > \text{threshold}`."""
    bx = input * beta if beta != 1 else input
    # Stable form: max(bx, 0) + log1p(exp(-|bx|)).
    sp = bx.relu() + (-bx.abs()).exp().log1p()
    if beta != 1:
        sp = sp / beta
    return _C._where(bx > threshold, input, sp)


def logsigmoid(input):
    r""":math:`\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})`."""
    return input.clamp(max=0.0) - (-input.abs()).exp().log1p()


def softsign(input):
    r""":math:`x / (1 + |x|)`."""
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    r""":math:`x - \tanh(x)`."""
    return input - input.tanh()


def hardsigmoid(input, inplace=False):
    r""":math:`\text{relu6}(x + 3) / 6`."""
    return _apply(input, inplace, lambda x: (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0))


def hardswish(input, inplace=False):
    r""":math:`x \cdot \text{relu6}(x + 3) / 6`."""
    return _apply(input, inplace, lambda x: x * (x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0))


def hardshrink(input, lambd=0.5):
    """`x` where ``|x| > lambd``, else 0."""
    return _C._where(input.abs() > lambd, input, 0.0)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above `lambd`, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return input - input.clamp(-lambd, lambd)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with a random negative slope ~ U(lower, upper) per element in training, and
    slope ``(lower + upper) / 2`` in evaluation."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slope = _random("uniform", list(input.shape), float(lower), float(upper), input.dtype, None, input.device)
    return _apply(input, inplace, lambda x: _C._where(x >= 0, x, x * slope))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def glu(input, dim=-1):
    r"""Gated linear unit: :math:`a \otimes \sigma(b)` with `input` split in halves `a`, `b` along `dim`."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.dim() if dim < 0 else dim
    size = input.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.chunk(2, d)
    return a * b.sigmoid()


def prelu(input, weight):
    r""":math:`x` for :math:`x \ge 0`, else :math:`a x`, with `weight` ``a`` (one value, or one per
    channel of dim 1)."""
    w = weight
    if weight.numel() != 1:
        if input.dim() == 0 or input.shape[1 if input.dim() >= 2 else 0] != weight.numel():
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = "
                               f"{input.shape[1] if input.dim() >= 2 else (input.shape[0] if input.dim() else 1)}.")
        if input.dim() >= 2:
            w = weight.reshape((weight.numel(),) + (1,) * (input.dim() - 2))
    return _C._where(input > 0, input, input * w)


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    r""":math:`e^{x_i} / \sum_j e^{x_j}` along `dim`; `dtype` casts the input first."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    return _C._softmax(input, dim, dtype, False)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    r"""softmax of ``-input``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim())
    return _C._softmax(-input, dim, dtype, False)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    r""":math:`\log \text{softmax}(x)` along `dim`, computed stably."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    return _C._softmax(input, dim, dtype, True)
