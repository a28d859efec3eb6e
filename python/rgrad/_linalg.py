"""torch's top-level linear-algebra names (``rgrad.det``, ``rgrad.svd``, ``rgrad.inverse``, ...)
and the matching Tensor methods, as thin wrappers over ``rgrad.linalg``.

``torch.qr`` and ``torch.cholesky`` were removed in torch 2.x and now only raise, pointing at
their ``torch.linalg`` replacements; rgrad raises the same errors."""

import builtins
import warnings

from . import _C, linalg
from ._return_types import return_type

Tensor = _C.Tensor

_svd_t = return_type("svd", ["U", "S", "V"])
_slogdet_t = return_type("slogdet", ["sign", "logabsdet"])

__all__ = []


def _export(fn, name=None, method=True):
    name = name or fn.__name__
    globals()[name] = fn
    __all__.append(name)
    if method:
        setattr(Tensor, name, fn)
    return fn


def det(input):
    """The determinant of each square matrix in input."""
    return linalg.det(input)


def inverse(input, *, out=None):
    """The inverse of each square matrix in input (torch.linalg.inv)."""
    return linalg.inv(input, out=out)


def slogdet(input):
    """(sign, logabsdet) of each square matrix in input."""
    return _slogdet_t(*_C._linalg_slogdet(input, "linalg.slogdet"))


def logdet(input):
    """log(det(input)): -inf for a singular matrix and NaN for a negative determinant."""
    from ._indexing_ops import where
    sign, logabs = _C._linalg_slogdet(input, "logdet")
    return where(sign < 0, builtins.float("nan"), logabs)


def svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with input = U diag(S) V^T (note V, not Vh). some=False gives square U and V.
    Without compute_uv, U and V are zero-filled, as torch returns them."""
    if input.dim() < 2:
        raise RuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has {input.dim()} "
                           f"dimensions instead")
    if not compute_uv:
        from ._creation import zeros
        s = linalg.svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        batch = list(input.shape[:-2])
        return linalg._out(_svd_t(zeros(batch + [m, m], dtype=input.dtype, device=input.device), s,
                                  zeros(batch + [n, n], dtype=input.dtype, device=input.device)),
                           out)
    u, s, vh = linalg.svd(input, full_matrices=not some)
    return linalg._out(_svd_t(u, s, vh.mT), out)


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse with singular values at or below rcond * largest dropped."""
    return linalg.pinv(input, rtol=rcond)


def matrix_power(input, n):
    return linalg.matrix_power(input, n)


def cross(input, other, dim=None, *, out=None):
    """Cross product along `dim`; without dim, along the first dim of size 3 (deprecated in
    torch, which warns; linalg.cross defaults to the last dim)."""
    if dim is None:
        from ._functions import broadcast_shapes
        shape = broadcast_shapes(input.shape, other.shape)
        sizes = [i for i, s in enumerate(shape) if s == 3]
        if not sizes:
            raise RuntimeError("no dimension of size 3 in input")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of linalg.cross in a future release.",
                      UserWarning, stacklevel=2)
        dim = sizes[0]
    return linalg.cross(input, other, dim=dim, out=out)


def _removed(name, replacement):
    def fn(input, *args, **kwargs):
        some = kwargs.get("some", args[0] if args else True)
        raise RuntimeError(replacement(some))
    fn.__name__ = name
    return fn


def _qr_message(some):
    reduced = "reduced" if some else "complete"
    return ("This function was deprecated since version 1.9 and is now removed. "
            "`torch.qr` is deprecated in favor of `torch.linalg.qr` and the boolean parameter "
            "`some` has been replaced with a string parameter `mode`.\n\n"
            "Q, R = torch.qr(A) should be replaced with:\n"
            "Q, R = torch.linalg.qr(A, mode='reduced')\n\n"
            "and\n\n"
            "Q, R = torch.qr(A, some=False) should be replaced with:\n"
            "Q, R = torch.linalg.qr(A, mode='complete')\n\n"
            f"Since `some` was set to {some}, use mode='{reduced}'.")


def _cholesky_message(_):
    return ("This function was deprecated since version 1.9 and is now removed. "
            "`torch.cholesky` is deprecated in favor of `torch.linalg.cholesky`.\n"
            "L = torch.cholesky(A) should be replaced with:\n"
            "L = torch.linalg.cholesky(A)\n"
            "U = torch.cholesky(A, upper=True) should be replaced with:\n"
            "U = torch.linalg.cholesky(A).mH")


for _f in (det, inverse, slogdet, logdet, svd, pinverse, matrix_power, cross):
    _export(_f)
_export(_removed("qr", _qr_message))
_export(_removed("cholesky", _cholesky_message))
