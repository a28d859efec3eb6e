"""``rgrad.nn.functional``: functional forms of neural-network ops.

Each family lives in a private ``_fn_*.py`` file; ``pad`` is here."""

import builtins

from .. import _C

Tensor = _C.Tensor

__all__ = ["pad"]

# The functional forms live in one private file per family; their public names are re-exported
# here and listed in __all__.
from ._fn_activation import *  # noqa: F401,F403,E402
from ._fn_norm import *  # noqa: F401,F403,E402
from ._fn_loss import *  # noqa: F401,F403,E402
from ._fn_conv import *  # noqa: F401,F403,E402
from ._fn_attention import *  # noqa: F401,F403,E402
from . import _fn_activation, _fn_norm, _fn_loss, _fn_conv, _fn_attention  # noqa: E402

for _m in (_fn_activation, _fn_norm, _fn_loss, _fn_conv, _fn_attention):
    __all__ += list(_m.__all__)
del _m

_MODES = ("constant", "reflect", "replicate", "circular")
# Non-constant modes pad the last 1, 2 or 3 dims of a (batch,) channel, spatial... input.
_KERNELS = {"reflect": "reflection_pad", "replicate": "replication_pad"}


def _pad_list(pad):
    if isinstance(pad, Tensor) or not hasattr(pad, "__len__"):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not {type(pad).__name__}")
    out = []
    for i, p in enumerate(pad):
        if isinstance(p, builtins.bool) or not hasattr(p, "__index__"):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of "
                            f"type {type(p).__name__} at pos {i}")
        out.append(p.__index__())
    return out


def pad(input, pad, mode="constant", value=None):
    """Pads the last ``len(pad) // 2`` dims of `input`. `pad` lists (left, right) amounts
    starting from the last dim: ``(left, right, top, bottom, front, back)``.

    Modes: 'constant' fills with `value` (0 by default; negative amounts crop), 'reflect'
    mirrors without repeating the edge, 'replicate' repeats the edge, 'circular' wraps around.
    The non-constant modes pad 1, 2 or 3 trailing dims of a 2-3, 3-4 or 4-5 dim input.
    """
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' (position 3) must be str, not {type(mode).__name__}")
    pads = _pad_list(pad)
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pads) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = input.dim()
    if len(pads) // 2 > nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pads)} and input of dimension {nd}")
    # (dim, left, right) from the last dim forward.
    spec = [(nd - 1 - i, pads[2 * i], pads[2 * i + 1]) for i in builtins.range(len(pads) // 2)]
    if mode == "constant":
        return _pad_constant(input, spec, 0 if value is None else value)
    k = len(spec)
    if nd not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pads)} is not supported for {nd}D input tensor.\n"
                                  "Supported combinations for non-constant padding:\n"
                                  "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                                  "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                                  "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    if mode == "circular":
        return _pad_circular(input, spec)
    return _pad_mirror(input, spec, mode)


def _pad_constant(input, spec, value):
    from .._creation import full
    shape = list(input.shape)
    src = input
    for d, left, right in spec:
        # Negative amounts crop the input first.
        start = builtins.max(-left, 0)
        src = src.narrow(d, start, shape[d] - start - builtins.max(-right, 0))
        shape[d] = shape[d] + left + right
    out = full(shape, value, dtype=input.dtype, device=input.device)
    dst = out
    for d, left, right in spec:
        dst = dst.narrow(d, builtins.max(left, 0), src.shape[d])
    if src.numel() > 0:
        dst.copy_(src)
    return out


def _take(x, d, idx):
    from .._creation import tensor
    return x.index_select(d, tensor(idx, dtype=_C.int64, device=x.device))


def _pad_mirror(input, spec, mode):
    nd, k = input.dim(), len(spec)
    batched = nd == k + 2
    shape = list(input.shape)
    # Sizes are checked dim by dim from the last, with torch's argument numbering.
    for i, (d, left, right) in enumerate(spec):
        if mode == "reflect" and (left >= shape[d] or right >= shape[d]):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({left}, {right}) at dimension {d} of input "
                               f"{list(shape)}")
    if any(s == 0 for s in shape[1 if batched else 0:]):
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(shape)}")
    if input.dtype == _C.bool:
        raise NotImplementedError(f"\"{_KERNELS[mode]}{k}d\" not implemented for 'Bool'")
    out_sizes = [(shape[d], shape[d] + left + right) for d, left, right in reversed(spec)]
    if any(o < 1 for _, o in out_sizes):
        if k == 1:
            raise RuntimeError(f"input (W: {out_sizes[0][0]}) is too small. Calculated output W: {out_sizes[0][1]}")
        names = "DHW"[3 - k:]
        got = " ".join(f"{c}: {o}" for c, (_, o) in zip(names, out_sizes))
        had = ", ".join(f"{c}: {n}" for c, (n, _) in zip(names, out_sizes))
        raise RuntimeError(f"Calculated output {got} must be >= 1 in every dimension (input {had})")
    out = input
    for d, left, right in spec:
        n = shape[d]
        pos = builtins.range(-left, n + right)
        if mode == "reflect":
            idx = [-p if p < 0 else (2 * (n - 1) - p if p >= n else p) for p in pos]
        else:
            idx = [builtins.min(builtins.max(p, 0), n - 1) for p in pos]
        out = _take(out, d, idx)
    return out


def _pad_circular(input, spec):
    shape = list(input.shape)
    for d, left, right in spec:
        if left > shape[d] or right > shape[d]:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if shape[d] + left + right < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
    out = input
    for d, left, right in spec:
        # Wraps around the cropped extent, as torch does.
        start = builtins.max(-left, 0)
        n = shape[d] - start - builtins.max(-right, 0)
        lo = builtins.max(left, 0)
        size = n + lo + builtins.max(right, 0)
        idx = [start + (j - lo) % n for j in builtins.range(size)] if n > 0 else []
        out = _take(out, d, idx)
    return out
