"""``rgrad.linalg``: torch.linalg's decompositions, solvers and matrix functions.

Every function works on batches: the last two dims are the matrix, leading dims are the batch
(broadcast between operands where torch broadcasts). float32 and float64 are supported, like
torch's CPU LAPACK paths; factorizations run in Rust on faer with the GIL released. Failures of
a factorization raise :class:`LinAlgError` (a RuntimeError) with torch's message, naming the
first failing batch element.

Sign and phase conventions of singular vectors, Q factors and eigenvectors are those of faer,
which may differ from LAPACK's by the sign of a column; the factorizations themselves agree.
"""

import builtins
import warnings

from .. import _C
from .._return_types import return_type

Tensor = _C.Tensor

LinAlgError = _C._LinAlgError
LinAlgError.__module__ = "rgrad.linalg"

_svd_t = return_type("linalg_svd", ["U", "S", "Vh"])
_slogdet_t = return_type("linalg_slogdet", ["sign", "logabsdet"])
_qr_t = return_type("linalg_qr", ["Q", "R"])
_eigh_t = return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
_inv_ex_t = return_type("linalg_inv_ex", ["inverse", "info"])
_cholesky_ex_t = return_type("linalg_cholesky_ex", ["L", "info"])
_solve_ex_t = return_type("linalg_solve_ex", ["result", "info"])
_lstsq_t = return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])

__all__ = [
    "LinAlgError", "inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "cholesky", "cholesky_ex", "qr", "svd",
    "svdvals", "eigh", "eigvalsh", "lstsq", "pinv", "matrix_rank", "matrix_power", "cross",
]


def _out(result, out):
    """Copies `result` (a tensor or a tuple of tensors) into `out`, as torch's out= does."""
    if out is None:
        return result
    if isinstance(result, Tensor):
        from .._functions import _write_out
        return _write_out(result, out)
    if len(out) != len(result):
        raise TypeError(f"expected a tuple of {len(result)} tensors for out=, got {len(out)}")
    from .._functions import _write_out
    return type(result)(*[_write_out(r, o) for r, o in zip(result, out)])


def _tol(value, name):
    """A tolerance given as a number or a one-element tensor, as a float."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise NotImplementedError(f"rgrad.linalg: a per-matrix tensor `{name}` is not supported; pass a number")
        return builtins.float(value.item())
    return builtins.float(value)


# ----- inverses and determinants -------------------------------------------------------------

def inv(A, *, out=None):
    """The inverse of each square matrix in A; a singular matrix raises LinAlgError."""
    return _out(_C._linalg_inv(A, True)[0], out)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info): info[b] > 0 marks a singular matrix instead of raising."""
    return _out(_inv_ex_t(*_C._linalg_inv(A, check_errors)), out)


def det(A, *, out=None):
    """The determinant of each square matrix in A (via LU with partial pivoting)."""
    return _out(_C._linalg_det(A), out)


def slogdet(A, *, out=None):
    """(sign, logabsdet) with det = sign * exp(logabsdet); a singular matrix gives (0, -inf)."""
    return _out(_slogdet_t(*_C._linalg_slogdet(A, "linalg.slogdet")), out)


# ----- solvers -------------------------------------------------------------------------------

def solve(A, B, *, left=True, out=None):
    """X with AX = B (or XA = B when left=False). B may be a vector or a batch of vectors."""
    return _out(_C._linalg_solve(A, B, left, True)[0], out)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(result, info) of solve; info[b] > 0 marks a singular matrix instead of raising."""
    return _out(_solve_ex_t(*_C._linalg_solve(A, B, left, check_errors)), out)


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of AX = B: (solution, residuals, rank, singular_values).

    driver is one of 'gelsy' (default: QR with column pivoting, minimum-norm solution of the
    rank-truncated problem), 'gels' (QR, full rank assumed), 'gelsd' / 'gelss' (SVD). As with
    torch's CPU drivers, residuals are returned only for m > n and full rank (never for gelsy),
    rank for every driver except gels, and singular values for the SVD drivers.
    """
    if driver is not None and not isinstance(driver, str):
        raise TypeError(f"linalg_lstsq(): argument 'driver' must be str, not {type(driver).__name__}")
    return _lstsq_t(*_C._linalg_lstsq(A, B, None if rcond is None else builtins.float(rcond), driver))


# ----- factorizations ------------------------------------------------------------------------

def cholesky(A, *, upper=False, out=None):
    """L with A = L L^T for symmetric positive-definite A (upper=True: U = L^T from A's upper
    triangle). A matrix that is not positive-definite raises LinAlgError."""
    return _out(_C._linalg_cholesky(A, upper, True)[0], out)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): info[b] is the order of the first leading minor that is not positive-definite."""
    return _out(_cholesky_ex_t(*_C._linalg_cholesky(A, upper, check_errors)), out)


def qr(A, mode="reduced", *, out=None):
    """(Q, R) with A = QR. mode: 'reduced' (Q is m x k), 'complete' (Q is m x m) or 'r'
    (R only; Q is an empty tensor)."""
    if not isinstance(mode, str):
        raise TypeError(f"linalg_qr(): argument 'mode' (position 2) must be str, not {type(mode).__name__}")
    return _out(_qr_t(*_C._linalg_qr(A, mode)), out)


def _check_svd_driver(driver):
    if driver is not None:
        raise RuntimeError(
            "torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with cuSOLVER backend.")


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh, singular values in descending order.

    Singular vectors are unique only up to sign; compare reconstructions, not raw vectors."""
    _check_svd_driver(driver)
    return _out(_svd_t(*_C._linalg_svd(A, full_matrices, True)), out)


def svdvals(A, *, driver=None, out=None):
    """The singular values of A in descending order."""
    _check_svd_driver(driver)
    return _out(_C._linalg_svd(A, False, False)[0], out)


def _uplo(UPLO):
    if not isinstance(UPLO, str):
        raise TypeError(f"linalg_eigh(): argument 'UPLO' (position 2) must be str, not {type(UPLO).__name__}")
    return UPLO


def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues, eigenvectors) of symmetric A, eigenvalues ascending; only the lower
    (UPLO='L') or upper ('U') triangle is read."""
    return _out(_eigh_t(*_C._linalg_eigh(A, _uplo(UPLO), True)), out)


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues of symmetric A in ascending order."""
    return _out(_C._linalg_eigh(A, _uplo(UPLO), False)[0], out)


# ----- matrix functions ----------------------------------------------------------------------

def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The Moore-Penrose pseudo-inverse. Singular values (|eigenvalues| when hermitian) at or
    below max(atol, rtol * largest) are treated as zero; rtol defaults to eps * max(m, n)
    unless a positive atol is given. `rcond` is torch's older name for rtol."""
    if rcond is not None:
        if rtol is not None or atol is not None:
            raise TypeError("linalg_pinv() received an invalid combination of arguments - "
                            "rcond cannot be combined with atol or rtol")
        rtol = rcond
    return _out(_C._linalg_pinv(A, _tol(atol, "atol"), _tol(rtol, "rtol"), builtins.bool(hermitian)), out)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """The number of singular values above max(atol, rtol * largest) (torch's tolerance rule).
    `tol` is torch's older spelling of atol with rtol = 0."""
    if tol is not None:
        if rtol is not None or atol is not None:
            raise TypeError("linalg_matrix_rank() received an invalid combination of arguments - "
                            "tol cannot be combined with atol or rtol")
        atol, rtol = tol, 0.0
    return _out(_C._linalg_matrix_rank(A, _tol(atol, "atol"), _tol(rtol, "rtol"), builtins.bool(hermitian)), out)


def matrix_power(A, n, *, out=None):
    """A^n for square A by repeated squaring; n = 0 gives the identity, n < 0 inverts first."""
    if isinstance(n, builtins.bool) or not isinstance(n, builtins.int):
        if not hasattr(n, "__index__") or isinstance(n, builtins.bool):
            raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
        n = n.__index__()
    return _out(_C._linalg_matrix_power(A, n), out)


def cross(input, other, *, dim=-1, out=None):
    """The cross product of 3-vectors along `dim`, with the other dims broadcast."""
    from .._indexing_ops import stack
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.dtype != other.dtype:
        raise RuntimeError(f"expected scalar type {_kernel(input.dtype)} but found {_kernel(other.dtype)}")
    nd = builtins.max(input.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    d = dim % nd
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. "
                           f"Got {input.shape[d]} and {other.shape[d]}")
    if input.dtype == _C.bool:
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    from .._functions import broadcast_shapes
    shape = broadcast_shapes(input.shape, other.shape)
    a, b = input.expand(tuple(shape)), other.expand(tuple(shape))
    a0, a1, a2 = a.unbind(d)
    b0, b1, b2 = b.unbind(d)
    r = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)
    return _out(r, out)


_KERNEL_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
                 "float16": "Half", "bfloat16": "BFloat16", "float32": "Float", "float64": "Double"}


def _kernel(dtype):
    return _KERNEL_NAMES[dtype.name]


# ----- norms ---------------------------------------------------------------------------------
# vector_norm, matrix_norm and norm live on the `reduce` branch (python/rgrad/_norms.py) and are
# re-exported here when it lands:
#     from .._norms import vector_norm, matrix_norm, norm  # noqa: F401
#     __all__ += ["vector_norm", "matrix_norm", "norm"]
