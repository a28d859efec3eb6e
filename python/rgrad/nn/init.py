"""``rgrad.nn.init``: in-place parameter initialisation, as torch.nn.init.

Every function fills its tensor in place without recording autograd history and returns it.
Random draws come from rgrad's generator (or `generator=`), so ``rgrad.manual_seed`` makes them
reproducible.
"""

import math
import warnings

from .. import _C
from ..autograd.grad_mode import no_grad

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
    "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal", "kaiming_uniform",
    "kaiming_normal", "orthogonal", "sparse",
]


def _fill_random(tensor, kind, a, b, generator):
    # Draws in float32/float64 and copies in: the kernels draw for the tensor's own dtype only
    # for those two, and copy_ casts for the others.
    dt = tensor.dtype if tensor.dtype in (_C.float32, _C.float64) else _C.float32
    sample = _C._random(kind, list(tensor.shape), float(a), float(b), dt, generator, tensor.device)
    with no_grad():
        tensor.copy_(sample)
    return tensor


def calculate_gain(nonlinearity, param=None):
    r"""The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh,
    :math:`\sqrt{2}` for relu, :math:`\sqrt{2 / (1 + \text{slope}^2)}` for leaky_relu, 3/4 for selu."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return tensor.size(1) * receptive_field_size, tensor.size(0) * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    r"""Fills `tensor` with samples of :math:`\mathcal{U}(a, b)`."""
    return _fill_random(tensor, "uniform", a, b, generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    r"""Fills `tensor` with samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)`."""
    return _fill_random(tensor, "normal", mean, std, generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    r"""Fills `tensor` with samples of :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated
    to :math:`[a, b]` (inverse-CDF sampling, as torch)."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    lo, hi = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
    dt = _C.float64
    u = _C._random("uniform", list(tensor.shape), 2 * lo - 1, 2 * hi - 1, dt, generator)
    with no_grad():
        tensor.copy_((u.erfinv() * (std * math.sqrt(2.0)) + mean).clamp(min=a, max=b))
    return tensor


def constant_(tensor, val):
    """Fills `tensor` with `val`."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fills `tensor` with ones."""
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fills `tensor` with zeros."""
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fills a 2-D `tensor` with the identity matrix (ones on the diagonal)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    from .._creation import eye
    with no_grad():
        tensor.copy_(eye(*tensor.shape, dtype=tensor.dtype))
    return tensor


def dirac_(tensor, groups=1):
    """Fills a 3-5-D convolution weight with the Dirac delta, so the convolution preserves its
    input's channels (per group)."""
    dimensions = tensor.dim()
    if dimensions not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    import numpy as np
    from .._creation import from_numpy
    d = np.zeros(tuple(sizes), dtype=np.float64)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for k in range(min_dim):
            d[(g * out_chans_per_grp + k, k) + centre] = 1
    with no_grad():
        tensor.copy_(from_numpy(d))
    return tensor


def xavier_uniform_(tensor, gain=1.0, generator=None):
    r"""Glorot uniform: :math:`\mathcal{U}(-a, a)` with
    :math:`a = \text{gain} \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill_random(tensor, "uniform", -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    r"""Glorot normal: :math:`\mathcal{N}(0, \sigma^2)` with
    :math:`\sigma = \text{gain} \sqrt{2 / (\text{fan\_in} + \text{fan\_out})}`."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill_random(tensor, "normal", 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He uniform: :math:`\mathcal{U}(-b, b)` with :math:`b = \text{gain} \sqrt{3 / \text{fan\_mode}}`.

    Args:
        a: the negative slope of the following leaky_relu (used by the gain).
        mode: ``'fan_in'`` keeps the forward variance, ``'fan_out'`` the backward one.
        nonlinearity: the following nonlinearity's name, for :func:`calculate_gain`.
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return _fill_random(tensor, "uniform", -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    r"""He normal: :math:`\mathcal{N}(0, \sigma^2)` with :math:`\sigma = \text{gain} / \sqrt{\text{fan\_mode}}`."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    return _fill_random(tensor, "normal", 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fills `tensor` (2+ dims, flattened to rows x rest) with a (semi-)orthogonal matrix times
    `gain`, from the QR decomposition of a normal sample."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    from ..linalg import qr
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    flattened = _C._random("normal", [rows, cols], 0.0, 1.0, _C.float64, generator)
    if rows < cols:
        flattened = flattened.t()
    q, r = qr(flattened)
    # Signs from R's diagonal make the result uniformly distributed.
    q = q * r.diagonal().sign()
    if rows < cols:
        q = q.t()
    with no_grad():
        tensor.copy_((q * gain).reshape(tuple(tensor.shape)))
    return tensor


def sparse_(tensor, sparsity, std=0.01, generator=None):
    r"""Fills a 2-D `tensor` with :math:`\mathcal{N}(0, \text{std}^2)` and zeros a `sparsity`
    fraction of each column."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    from .._creation import rand
    sample = _C._random("normal", [rows, cols], 0.0, std, _C.float64, generator)
    if num_zeros:
        # The rows to zero in each column: the `num_zeros` smallest of a random key per entry.
        zero_rows = rand(rows, cols, dtype=_C.float64, generator=generator, device="cpu").argsort(dim=0)[:num_zeros]
        sample = sample.scatter(0, zero_rows, 0.0)
    with no_grad():
        tensor.copy_(sample)
    return tensor


def _deprecated(fn):
    new_name = fn.__name__

    def old(*args, **kwargs):
        warnings.warn(f"`nn.init.{new_name[:-1]}` is now deprecated in favor of `nn.init.{new_name}`.",
                      FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)
    old.__name__ = new_name[:-1]
    old.__doc__ = fn.__doc__
    return old


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
