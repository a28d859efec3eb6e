"""Reductions, scans, softmax and order-based ops with torch's signatures: ``rgrad.sum(x, dim,
keepdim, dtype=)`` and ``x.sum(...)``, ``dim`` as an int, a tuple/list or None (all dims),
named-tuple results (``rgrad.return_types.max`` with ``.values`` / ``.indices``). Each is a thin
call into the Rust core; the numerics and torch's error messages live there."""

import builtins
import functools
import sys
import types
import warnings
from collections import namedtuple

from . import _C

Tensor = _C.Tensor

__all__ = []

# ----- named-tuple results -------------------------------------------------------------------

return_types = types.ModuleType("rgrad.return_types", "Named-tuple results of ops such as max(dim) and sort.")
sys.modules["rgrad.return_types"] = return_types


def _return_type(name, fields):
    cls = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"rgrad.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__
    cls.__module__ = "rgrad.return_types"
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls


for _name in ("max", "min", "median", "nanmedian", "mode", "kthvalue", "sort", "topk", "cummax", "cummin"):
    _return_type(_name, ["values", "indices"])
_return_type("aminmax", ["min", "max"])


def _export(fn, name=None, method=True):
    """rgrad.<name> and, with method=True, Tensor.<name>."""
    name = name or fn.__name__
    fn.__name__ = name
    globals()[name] = fn
    __all__.append(name)
    if method:
        setattr(Tensor, name, fn)
    return fn


def _numpy_names(fn):
    """Accepts numpy's ``axis`` / ``keepdims`` spellings, as torch does."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapper


def _write_out(r, out):
    if out is None:
        return r
    if tuple(out.shape) != tuple(r.shape):
        raise RuntimeError(f"out= tensor has shape {list(out.shape)} but the result has shape {list(r.shape)}; "
                           "rgrad does not resize out= tensors")
    out.copy_(r)
    return out


# ----- reductions ----------------------------------------------------------------------------

def _simple(kernel, doc):
    def fn(input, dim=None, keepdim=False, *, dtype=None, out=None):
        return _write_out(_C._reduce(input, kernel, dim, keepdim, dtype), out)

    fn.__doc__ = doc
    return _numpy_names(fn)


_export(_simple("sum", "Sum over `dim` (all dims when None); int and bool inputs give int64."), "sum")
_export(_simple("nansum", "Sum treating NaN as zero."), "nansum")
_export(_simple("mean", "Mean over `dim`; floating inputs (or dtype=) only."), "mean")
_export(_simple("nanmean", "Mean of the non-NaN elements."), "nanmean")
_NO_DIM = object()


@_numpy_names
def prod(input, dim=_NO_DIM, keepdim=False, *, dtype=None, out=None):
    """Product over one `dim` (all elements when omitted); int and bool inputs give int64."""
    if dim is _NO_DIM:
        dim = None
    elif not isinstance(dim, builtins.int):  # torch takes exactly one int dim here
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    return _write_out(_C._reduce(input, "prod", dim, keepdim, dtype), out)


_export(prod)


@_numpy_names
def amax(input, dim=(), keepdim=False, *, out=None):
    """Maximum over `dim` (all dims by default); NaN propagates."""
    return _write_out(_C._reduce(input, "amax", dim, keepdim), out)


@_numpy_names
def amin(input, dim=(), keepdim=False, *, out=None):
    """Minimum over `dim` (all dims by default); NaN propagates."""
    return _write_out(_C._reduce(input, "amin", dim, keepdim), out)


_export(amax)
_export(amin)


def _extreme(kernel, is_max):
    def fn(input, dim=_NO_DIM, keepdim=False, *, other=None, out=None):
        if other is not None or isinstance(dim, Tensor):
            return input._binary("maximum" if is_max else "minimum", other if other is not None else dim)
        if dim is None:
            # torch has no max(input, None): the all-reduction takes no dim at all
            raise TypeError(f"{kernel}(): argument 'dim' (position 1) must be int, not NoneType")
        if dim is _NO_DIM:
            return _write_out(_C._reduce(input, kernel, None, keepdim), out)
        values, indices = _C._max_dim(input, dim, keepdim, is_max)
        return getattr(return_types, kernel)(values if is_max else _named(values, "MinBackward0"), indices)

    fn.__doc__ = (f"{kernel}(input): the {kernel}imum as a 0-d tensor; {kernel}(input, dim, keepdim=False): "
                  f"(values, indices); {kernel}(input, other): elementwise {kernel}imum.")
    return _numpy_names(fn)


_export(_extreme("max", True), "max")
_export(_extreme("min", False), "min")


@_numpy_names
def argmax(input, dim=None, keepdim=False):
    """Index of the first maximum along `dim`, or in the flattened tensor when dim is None."""
    return _C._argmax(input, dim, keepdim, True)


@_numpy_names
def argmin(input, dim=None, keepdim=False):
    """Index of the first minimum along `dim`, or in the flattened tensor when dim is None."""
    return _C._argmax(input, dim, keepdim, False)


_export(argmax)
_export(argmin)


@_numpy_names
def all(input, dim=None, keepdim=False, *, out=None):
    """Whether every element (along `dim`) is nonzero."""
    return _write_out(_C._reduce(input, "all", dim, keepdim), out)


@_numpy_names
def any(input, dim=None, keepdim=False, *, out=None):
    """Whether some element (along `dim`) is nonzero."""
    return _write_out(_C._reduce(input, "any", dim, keepdim), out)


_export(all)
_export(any)


def count_nonzero(input, dim=None):
    """Number of nonzero elements over `dim` (all dims when None), int64."""
    return _C._reduce(input, "count_nonzero", dim)


def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(input))) over `dim`, without overflow."""
    if dim is None:
        raise TypeError("logsumexp(): argument 'dim' must be tuple of ints, not NoneType")
    return _write_out(_named(_C._reduce(input, "logsumexp", dim, keepdim), "LogsumexpBackward0"), out)


_export(count_nonzero)
_export(_numpy_names(logsumexp), "logsumexp")


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over `dim` (all dims when None)."""
    if input.requires_grad and _C.is_grad_enabled():
        # the fused kernel records no backward; amin/amax share the gradient among ties as torch's does
        dims = dim if dim is not None else ()
        return return_types.aminmax(_named(amin(input, dims, keepdim), "AminmaxBackward0"),
                                    _named(amax(input, dims, keepdim), "AminmaxBackward0"))
    return return_types.aminmax(*_C._aminmax(input, dim, keepdim))


_export(aminmax)


# ----- variance ------------------------------------------------------------------------------

def _correction(name, correction, unbiased):
    if correction is not None and unbiased is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got (correction=, unbiased=), "
                        "but expected one of: correction or unbiased, not both")
    if correction is not None:
        return builtins.float(correction)
    return 0.0 if unbiased is False else 1.0


def _moments(name, std, with_mean):
    def fn(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
        if isinstance(dim, builtins.bool):  # var(x, False): the unbiased flag in dim's place
            dim, unbiased = None, dim
        c = _correction(name, correction, unbiased)
        if input.dtype.is_floating_point and _C._reduction_count(input, dim) - c <= 0:
            warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                          "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=4)
        r = _C._var(input, dim, c, keepdim, std, with_mean)
        if with_mean:
            return _named(r[0], node + "MeanBackward0"), r[1]
        return _write_out(_named(r, node + "Backward0"), out)

    # torch's node names; the Rust op is composed from primitives, so its node is renamed
    node = name.split("_")[0].capitalize()

    fn.__doc__ = f"{name} over `dim` with `correction` (1 by default; unbiased=False means 0)."
    fn = _numpy_names(fn)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        # a positional bool is `unbiased` (the overload std(input, unbiased)); torch's parser
        # refuses one passed as dim=
        if isinstance(kwargs.get("dim", kwargs.get("axis")), builtins.bool):
            got = ", ".join([type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()])
            raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), but expected one of:\n"
                            " * (Tensor input, tuple of ints dim, bool unbiased, bool keepdim)\n"
                            " * (Tensor input, tuple of ints dim, *, Number correction, bool keepdim)\n"
                            " * (Tensor input, bool unbiased)\n")
        return fn(*args, **kwargs)
    return checked


_export(_moments("var", False, False), "var")
_export(_moments("std", True, False), "std")
_export(_moments("var_mean", False, True), "var_mean", method=False)
_export(_moments("std_mean", True, True), "std_mean", method=False)


def _named(t, name):
    """Gives a composite op's result torch's node name (what `grad_fn.name()` shows)."""
    if t.grad_fn is not None:
        _C._set_grad_fn_name(t, name)
    return t


# ----- norms ---------------------------------------------------------------------------------

def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """Vector p-norm over `dim` (all dims when None): p = 'fro' / 2 (default), inf, -inf, 0, or any
    other number."""
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
        # torch hands 'fro' over more than two dims to matrix_norm, which refuses them
        if input.dim() < 2:
            raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(str(d) for d in dim)}")
    if p is None or p == "fro":
        p = 2.0
    elif isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("rgrad: the nuclear norm (p='nuc') is not implemented")
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    return _write_out(_named(_C._norm(input, builtins.float(p), dim, keepdim, dtype), "LinalgVectorNormBackward0"), out)


_export(norm)


# ----- scans and softmax ---------------------------------------------------------------------

def cumsum(input, dim, *, dtype=None, out=None):
    """Cumulative sum along `dim`; int and bool inputs give int64."""
    return _write_out(_C._scan(input, "cumsum", dim, dtype), out)


def cumprod(input, dim, *, dtype=None, out=None):
    """Cumulative product along `dim`; int and bool inputs give int64."""
    return _write_out(_C._scan(input, "cumprod", dim, dtype), out)


def cummax(input, dim):
    """(values, indices) of the running maximum along `dim`."""
    return return_types.cummax(*_C._cum_extreme(input, dim, True))


def cummin(input, dim):
    """(values, indices) of the running minimum along `dim`."""
    return return_types.cummin(*_C._cum_extreme(input, dim, False))


def softmax(input, dim, dtype=None, *, _stacklevel=3):
    """exp(x) / sum(exp(x)) along `dim`, computed stably; dtype= casts the input first."""
    return _C._softmax(input, dim, dtype, False)


def log_softmax(input, dim, dtype=None, *, _stacklevel=3):
    """log(softmax(x)) along `dim`, computed stably; dtype= casts the input first."""
    return _C._softmax(input, dim, dtype, True)


for _f in (cumsum, cumprod, cummax, cummin, softmax, log_softmax):
    _export(_f)


# ----- order-based ops -----------------------------------------------------------------------

def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """(values, indices) sorted along `dim`; NaN sorts as the largest value."""
    return return_types.sort(*_C._sort(input, dim, descending, builtins.bool(stable)))


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort `input` along `dim`."""
    return _C._sort(input, dim, descending, builtins.bool(stable))[1]


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """(values, indices) of the k largest (or smallest) elements along `dim`."""
    return return_types.topk(*_C._topk(input, k, dim, largest, sorted))


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """(values, indices) of the k-th smallest element along `dim`."""
    return return_types.kthvalue(*_C._kthvalue(input, k, dim, keepdim))


def median(input, dim=None, keepdim=False, *, out=None):
    """The lower median: a 0-d tensor without `dim`, else (values, indices). NaN propagates."""
    if dim is None:
        return _C._median(input, None, False, False)
    return return_types.median(*_C._median(input, dim, keepdim, False))


def nanmedian(input, dim=None, keepdim=False, *, out=None):
    """median ignoring NaN."""
    if dim is None:
        return _C._median(input, None, False, True)
    return return_types.nanmedian(*_C._median(input, dim, keepdim, True))


def mode(input, dim=-1, keepdim=False, *, out=None):
    """(values, indices) of the most frequent value along `dim` (the smallest among ties)."""
    return return_types.mode(*_C._mode(input, dim, keepdim))


for _f in (sort, argsort, topk, kthvalue, median, nanmedian, mode):
    _export(_f)


def _unique_result(values, inverse, counts, return_inverse, return_counts):
    if not return_inverse and not return_counts:
        return values
    r = (values,)
    if return_inverse:
        r += (inverse,)
    if return_counts:
        r += (counts,)
    return r


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The sorted unique elements (or slices along `dim`), optionally with the inverse
    indices and the counts."""
    return _unique_result(*_C._unique(input, dim, False), return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses runs of equal consecutive elements (or slices along `dim`)."""
    return _unique_result(*_C._unique(input, dim, True), return_inverse, return_counts)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-d non-negative integer tensor (weighted sums with
    `weights`)."""
    return _C._bincount(input, weights, minlength)


def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram with `bins` equal-width bins over [min, max] (the data's range when min ==
    max)."""
    if not isinstance(bins, builtins.int) or isinstance(bins, builtins.bool):
        raise TypeError(f"histc(): argument 'bins' must be int, not {type(bins).__name__}")
    return _write_out(_C._histc(input, bins, builtins.float(min), builtins.float(max)), out)


for _f in (unique, unique_consecutive, bincount, histc):
    _export(_f)


def _as_values(sorted_sequence, value):
    if isinstance(value, Tensor):
        return value
    from ._creation import full, result_type
    return full((), value, dtype=result_type(sorted_sequence, value), device=sorted_sequence.device)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """Indices where the elements of `input` would be inserted into the sorted innermost
    dimension of `sorted_sequence` to keep it sorted."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if side == "left" and right:
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    values = _as_values(sorted_sequence, input)
    return _write_out(_C._searchsorted(sorted_sequence, values, builtins.bool(right), builtins.bool(out_int32),
                                       sorter), out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element of `input` given sorted 1-d `boundaries`."""
    values = _as_values(boundaries, input)
    return _write_out(_C._searchsorted(boundaries, values, builtins.bool(right), builtins.bool(out_int32), None), out)


_export(searchsorted, method=False)
_export(bucketize)
__all__.append("return_types")
