"""Indexing, joining and rearranging ops (gather/scatter, cat/stack, flip/roll, tril/triu,
diagonal, ...). Primitives are Rust kernels (``_C._gather``, ``_C._scatter_``, ``_C._where``,
``_C._cat``, ...); the rest is composed from them and from views, so every op here inherits
their checks and, later, their gradients."""

import builtins

from . import _C
from ._creation import arange, zeros, tensor as _tensor

Tensor = _C.Tensor

__all__ = []


def _export(fn, *names, method=True):
    for name in names or (fn.__name__,):
        globals()[name] = fn
        __all__.append(name)
        if method:
            setattr(Tensor, name, fn)
    return fn


def _dim_arg(fn, dim, pos):
    """torch's argument parser on an int `dim`: refuses bools, None and non-integers first."""
    if isinstance(dim, builtins.bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{fn}(): argument 'dim' (position {pos}) must be int, not {type(dim).__name__}")


def _dims(ndim, dim, fn=None):
    """`dim` wrapped into [0, ndim) with torch's errors (a 0-d tensor takes dims -1 and 0)."""
    if isinstance(dim, builtins.bool) or not hasattr(dim, "__index__"):
        name = f"{fn}(): argument 'dim'" if fn else "argument 'dim'"
        raise TypeError(f"{name} must be int, not {type(dim).__name__}")
    dim = dim.__index__()
    nd = builtins.max(ndim, 1)
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    return dim + nd if dim < 0 else dim


# ----- gather / scatter ----------------------------------------------------------------------

def gather(input, dim, index, *, sparse_grad=False, out=None):
    """Gathers values along `dim`: out[i][j] = input[index[i][j]][j] for dim=0.

    Args:
        input (Tensor): the source tensor.
        dim (int): the axis along which to index.
        index (Tensor): int64 indices, same number of dims as input.
    """
    return _C._gather(input, dim, index)


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    """Writes `src` (a tensor or a number) into self at the indices in `index` along `dim`."""
    if src is None:
        src = value
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")
    _C._scatter_(self, dim, index, src, reduce)
    return self


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    out = scatter_(input.clone(), dim, index, src, value=value, reduce=reduce)
    if reduce is None and not isinstance(src if src is not None else value, Tensor):
        _C._set_grad_fn_name(out, "ScatterBackward1")  # torch's overload for a number
    return out


def scatter_add_(self, dim, index, src):
    _C._scatter_(self, dim, index, src, "sum")
    return self


def scatter_add(input, dim, index, src):
    return scatter_add_(input.clone(), dim, index, src)


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    """Reduces `src` into self at `index` along `dim` with sum, prod, mean, amax or amin."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if reduce == "mean":
        counts = zeros(list(self.shape), dtype=self.dtype, device=self.device)
        if include_self:
            counts.fill_(1)
        else:
            self.scatter_(dim, index, 0)
        _C._scatter_(counts, dim, index, 1, "sum")
        _C._scatter_(self, dim, index, src, "sum")
        res = self / counts.clamp(min=1) if self.dtype.is_floating_point else self.div(
            counts.clamp(min=1), rounding_mode="floor")
        return self.copy_(res)
    if not include_self:
        ident = {"sum": 0, "prod": 1}
        if reduce in ident:
            _C._scatter_(self, dim, index, ident[reduce], None)
        else:
            first = self.clone()
            _C._scatter_(first, dim, index, src, None)
            touched = zeros(list(self.shape), dtype=_C.bool, device=self.device)
            _C._scatter_(touched, dim, index, True, None)
            self.copy_(where(touched, first, self))
    _C._scatter_(self, dim, index, src, reduce)
    return self


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    return scatter_reduce_(input.clone(), dim, index, src, reduce, include_self=include_self)


for _f in (gather, scatter, scatter_, scatter_add, scatter_add_, scatter_reduce, scatter_reduce_):
    _export(_f)


def _expand_index(index, dim, like):
    shape = [1] * like.dim()
    shape[dim] = -1
    return index.reshape(shape).expand([s if d != dim else index.numel() for d, s in enumerate(like.shape)])


def _check_vector_index(index, name, size=None, dim=None, gather_msg=False):
    """`index` as a 1-D int64 tensor; with `size`, every entry must lie in [0, size) (these ops,
    unlike indexing, do not wrap negatives: torch's "index out of range in self", or with `dim`
    its per-element RuntimeError)."""
    if index.dim() > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    if index.dtype not in (_C.int64, _C.int32):
        if name == "index_select":
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index but got: {index.dtype._kernel_name}")
    index = index.reshape(-1).long()
    if size is not None and index.numel() and builtins.bool(((index < 0) | (index >= size)).any()):
        if dim is not None:
            bad = index[(index < 0) | (index >= size)][0].item()
            if gather_msg:  # torch's index_select kernel for dims past the first
                raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={size}")
            raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        raise IndexError("index out of range in self")
    return index


def index_select(input, dim, index, *, out=None):
    """Selects entries of `input` along `dim` at the positions in the 1-D `index`.

    Args:
        input (Tensor): the source tensor.
        dim (int): the dimension to index.
        index (Tensor): 1-D int64/int32 positions in [0, input.size(dim)).

    Example::

        >>> rgrad.index_select(rgrad.arange(6).reshape(2, 3), 1, rgrad.tensor([0, 2]))
        tensor([[0, 2],
                [3, 5]])
    """
    d = _dims(input.dim(), dim, "index_select")
    # (torch's message depends on its kernel: the one for dim 1 names the bad index)
    index = _check_vector_index(index, "index_select", input.shape[d] if input.dim() else 1,
                                d if d == 1 else None, gather_msg=True)
    if input.dim() == 0:
        return input.reshape(1)[index].reshape(()) if index.numel() == 1 else input.reshape(1)[index]
    return input[(builtins.slice(None),) * d + (index,)]


def index_add_(self, dim, index, source, *, alpha=1):
    d = _dims(self.dim(), dim, "index_add_")
    # (torch's kernel for 2-D and up reports the bad index itself, as a RuntimeError)
    index = _check_vector_index(index, "index_add_", self.shape[d] if self.dim() else 1,
                                d if self.dim() > 1 else None)
    src = source if alpha == 1 else source * alpha
    _C._scatter_(self, d, _expand_index(index, d, source).contiguous(), src.to(self.dtype), "sum")
    return self


def index_add(input, dim, index, source, *, alpha=1):
    return index_add_(input.clone(), dim, index, source, alpha=alpha)


def index_copy_(self, dim, index, source):
    index = _check_vector_index(index, "index_copy_")
    d = _dims(self.dim(), dim)
    _C._scatter_(self, d, _expand_index(index, d, source).contiguous(), source.to(self.dtype), None)
    return self


def index_copy(input, dim, index, source):
    return index_copy_(input.clone(), dim, index, source)


def index_fill_(self, dim, index, value):
    index = _check_vector_index(index, "index_fill_")
    d = _dims(self.dim(), dim)
    if isinstance(value, Tensor):
        value = value.to(self.dtype)  # torch fills with the value cast to self's dtype
    self[(builtins.slice(None),) * d + (index,)] = value
    return self


def index_fill(input, dim, index, value):
    return index_fill_(input.clone(), dim, index, value)


for _f in (index_select, index_add, index_add_, index_copy, index_copy_, index_fill, index_fill_):
    _export(_f)


# ----- masks and where -----------------------------------------------------------------------

def where(condition, input=None, other=None, *, out=None):
    """``where(cond, x, y)``: x where cond else y (tensors or numbers, broadcast);
    ``where(cond)``: the indices of non-zero elements, as nonzero(as_tuple=True)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return _C._where(condition, input, other)


def masked_fill_(self, mask, value):
    _C._masked_fill_(self, mask, value)
    return self


def masked_fill(input, mask, value):
    """Returns input with `value` where `mask` (broadcast to input) is True."""
    if isinstance(value, Tensor) and value.requires_grad and _C.is_grad_enabled():
        # a 0-d value tensor gets the gradient of the places it fills, as in torch
        if value.dim() != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s).")
        out = _C._where(mask, value.to(input.dtype), input)
        if tuple(out.shape) != tuple(input.shape):
            out = out.expand(tuple(input.shape)).clone()
        _C._set_grad_fn_name(out, "MaskedFillBackward1")
        return out
    return masked_fill_(input.clone(), mask, value)


def masked_select(input, mask, *, out=None):
    """A 1-D tensor of the elements of input where mask (broadcast together) is True."""
    if mask.dtype != _C.bool:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask")
    shape = tuple(broadcast_shapes_(input.shape, mask.shape))
    if input.device.type != "cpu" and mask.device == input.device and not (input.requires_grad and _C.is_grad_enabled()):
        # compacted on the device: one read (the count) instead of the mask's
        return _C._masked_select_on_device(input.expand(shape), mask.expand(shape))
    return input.expand(shape)[mask.expand(shape)]


def masked_scatter_(self, mask, source):
    """Copies consecutive elements of `source` into self where `mask` is True."""
    if source.dtype != self.dtype:
        raise RuntimeError("masked_scatter: expected self and source to have same dtypes but got"
                           f"{self.dtype._kernel_name} and {source.dtype._kernel_name}")
    m = mask.expand(tuple(self.shape))
    n = _C._nonzero(m).shape[0]
    if source.numel() < n:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as ones in mask")
    self[m] = source.reshape(-1)[:n]
    return self


def masked_scatter(input, mask, source):
    return masked_scatter_(input.clone(), mask, source)


def nonzero(input, *, out=None, as_tuple=False):
    """Indices of non-zero elements: an [n, ndim] int64 tensor, or a tuple of 1-D tensors."""
    idx = _C._nonzero(input)
    if as_tuple:
        if input.dim() == 0:
            return (idx.reshape(-1) * 0 if idx.shape[0] else zeros(0, dtype=_C.int64, device=idx.device),)
        return tuple(idx[:, d] for d in builtins.range(input.dim()))
    return idx


def argwhere(input):
    return _C._nonzero(input)


def take(input, index):
    """Treats input as 1-D and returns the elements at `index` (result has index's shape)."""
    if index.dtype != _C.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index.dtype._kernel_name}")
    return input.reshape(-1)[index]


def take_along_dim(input, indices, dim=None, *, out=None):
    """Gathers along `dim` with indices broadcast against input (numpy's take_along_axis)."""
    if dim is None:
        return input.reshape(-1)[indices.reshape(-1)]
    d = _dims(input.dim(), dim)
    shape_i = list(input.shape)
    shape_x = list(indices.shape)
    shape_i[d] = shape_x[d] = 1
    b = list(broadcast_shapes_(shape_i, shape_x))
    bi, bx = list(b), list(b)
    bi[d], bx[d] = input.shape[d], indices.shape[d]
    return gather(input.expand(tuple(bi)), d, indices.expand(tuple(bx)).contiguous())


def broadcast_shapes_(a, b):
    import numpy as np
    return tuple(np.broadcast_shapes(tuple(a), tuple(b)))


for _f in (where, masked_fill, masked_fill_, masked_select, masked_scatter, masked_scatter_, nonzero, argwhere,
           take, take_along_dim):
    _export(_f)


def _where_method(self, condition, y):
    """``x.where(condition, y)``: x where condition else y."""
    return _C._where(condition, self, y)


Tensor.where = _where_method


# ----- joining -------------------------------------------------------------------------------

def cat(tensors, dim=0, *, out=None):
    """Concatenates tensors along `dim` (dtypes promoted; 1-D empty tensors are skipped)."""
    _dim_arg("cat", dim, 2)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    return _C._cat(tensors, dim)


def stack(tensors, dim=0, *, out=None):
    """Stacks equally-shaped tensors along a new dim."""
    _dim_arg("stack", dim, 2)
    tensors = list(tensors)
    if tensors and isinstance(tensors[0], Tensor):
        _dims(tensors[0].dim() + 1, dim, "stack")  # torch checks the dim before the shapes
    return _C._stack(tensors, dim)


def _atleast(t, n):
    if t.dim() >= n:
        return t
    if n == 1:
        return t.reshape(1)
    if n == 2:
        return t.reshape(1, -1)
    return t.reshape(1, -1, 1) if t.dim() == 1 else (t.reshape(1, 1, 1) if t.dim() == 0 else t.unsqueeze(-1))


def atleast_1d(*tensors):
    r = [_atleast(t, 1) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors)]
    return r[0] if len(r) == 1 else tuple(r)


def atleast_2d(*tensors):
    r = [_atleast(t, 2) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors)]
    return r[0] if len(r) == 1 else tuple(r)


def atleast_3d(*tensors):
    r = [_atleast(t, 3) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors)]
    return r[0] if len(r) == 1 else tuple(r)


def hstack(tensors, *, out=None):
    ts = [_atleast(t, 1) for t in tensors]
    return cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors, *, out=None):
    return cat([_atleast(t, 2) for t in tensors], 0)


def dstack(tensors, *, out=None):
    return cat([_atleast(t, 3) for t in tensors], 2)


def column_stack(tensors, *, out=None):
    return cat([t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors], 1)


_export(cat, "cat", "concat", "concatenate", method=False)
for _f in (stack, hstack, vstack, dstack, column_stack, atleast_1d, atleast_2d, atleast_3d):
    _export(_f, method=False)
_export(vstack, "row_stack", method=False)


# ----- rearranging ---------------------------------------------------------------------------

def _sizes(size):
    if len(size) == 1 and not isinstance(size[0], builtins.int):
        return list(size[0])
    return list(size)


def repeat(self, *sizes):
    """Tiles the tensor: ``x.repeat(2, 3)`` repeats dim -2 twice and dim -1 three times."""
    reps = _sizes(sizes)
    if len(reps) < self.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    x = self.reshape([1] * (len(reps) - self.dim()) + list(self.shape))
    inter, target = [], []
    for r, s in zip(reps, x.shape):
        inter += [1, s]
        target += [r, s]
    return x.reshape(inter).expand(tuple(target)).reshape([r * s for r, s in zip(reps, x.shape)])


def tile(input, dims):
    dims = list(dims)
    if len(dims) < input.dim():
        dims = [1] * (input.dim() - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeats each element `repeats` times along `dim` (flattened when dim is None)."""
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated
        counts = input
        return arange(counts.numel(), device=counts.device).repeat_interleave(counts)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _dims(x.dim(), dim)
    n = x.shape[d]
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        reps = repeats.tolist()
        if len(reps) != n:
            raise RuntimeError("repeats must have the same size as input along dim")
        idx = [i for i, r in enumerate(reps) for _ in builtins.range(r)]
        return index_select(x, d, _tensor(idx, dtype=_C.int64, device=x.device))
    r = builtins.int(repeats.item() if isinstance(repeats, Tensor) else repeats)
    shape = list(x.shape)
    e = x.unsqueeze(d + 1).expand(*shape[: d + 1], r, *shape[d + 1:])
    return e.reshape(shape[:d] + [n * r] + shape[d + 1:])


def flip(input, dims, *more):
    """Reverses the order of elements along `dims` (a copy, as in torch).

    Args:
        input (Tensor): the tensor to flip.
        dims (int or tuple of ints): the dims to reverse (``x.flip(0, 1)`` also works).

    Example::

        >>> rgrad.flip(rgrad.arange(4).reshape(2, 2), (0, 1))
        tensor([[3, 2],
                [1, 0]])
    """
    if more or not isinstance(dims, (list, tuple)):
        dims = (dims,) + more
    dims = [_dims(input.dim(), d, "flip") for d in dims]
    seen = set()
    for d in dims:
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
    if input.dim() == 0:
        return input.clone()
    x = input
    for d in dims:
        n = x.shape[d]
        x = x[(builtins.slice(None),) * d + (arange(n - 1, -1, -1, device=x.device),)]
    return x.clone() if x is input else x


def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, [1])


def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, [0])


def roll(input, shifts, dims=None):
    """Rolls elements along `dims` by `shifts` (flattened when dims is None)."""
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(list(input.shape))
    shifts = [shifts] if isinstance(shifts, builtins.int) else list(shifts)
    dims = [dims] if isinstance(dims, builtins.int) else list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    x = input
    for s, d in zip(shifts, dims):
        d = _dims(x.dim(), d)
        n = x.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            x = cat([x.narrow(d, n - s, s), x.narrow(d, 0, n - s)], d)
    return x.clone() if x is input else x


def rot90(input, k=1, dims=(0, 1)):
    d0, d1 = dims
    k %= 4
    if k == 1:
        return flip(input, [d1]).transpose(d0, d1)
    if k == 2:
        return flip(input, [d0, d1])
    if k == 3:
        return flip(input, [d0]).transpose(d0, d1)
    return input.clone()


def _tri_mask(input, diagonal, lower):
    r, c = input.shape[-2], input.shape[-1]
    rows = arange(r, device=input.device).unsqueeze(1)
    cols = arange(c, device=input.device).unsqueeze(0)
    return (cols - rows) <= diagonal if lower else (cols - rows) >= diagonal


def tril(input, diagonal=0, *, out=None):
    """The lower triangle (elements on and below the `diagonal`-th diagonal)."""
    if input.dim() < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return where(_tri_mask(input, diagonal, True), input, _C._zeros([], input.dtype, None))


def triu(input, diagonal=0, *, out=None):
    """The upper triangle (elements on and above the `diagonal`-th diagonal)."""
    if input.dim() < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return where(_tri_mask(input, diagonal, False), input, _C._zeros([], input.dtype, None))


def tril_(self, diagonal=0):
    return self.copy_(tril(self, diagonal))


def triu_(self, diagonal=0):
    return self.copy_(triu(self, diagonal))


def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the diagonal over (dim1, dim2), appended as the last dim."""
    return input._diagonal(offset, dim1, dim2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Places the last dim of input on a diagonal of new (dim1, dim2) planes."""
    n = input.shape[-1] + builtins.abs(offset)
    out = zeros(list(input.shape[:-1]) + [n, n], dtype=input.dtype, device=input.device)
    diagonal(out, offset, -2, -1).copy_(input)
    nd = out.dim()
    d1, d2 = _dims(nd, dim1), _dims(nd, dim2)
    if (d1, d2) == (nd - 2, nd - 1):
        return out
    return out.movedim((nd - 2, nd - 1), (d1, d2))


def diag(input, diagonal=0, *, out=None):
    """1-D input: a square matrix with it on the `diagonal`; 2-D input: the diagonal (copy)."""
    if input.dim() == 1:
        return diag_embed(input, diagonal)
    if input.dim() == 2:
        return globals()["diagonal"](input, diagonal).clone()
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.dim()}D")


def trace(input):
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return diagonal(input).sum()


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids (views) from 1-D tensors; indexing 'ij' (matrix) or 'xy' (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        grids.append(t.reshape(view).expand(tuple(shape)))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors, indexing="ij")
    if len(grids) == 1:
        return grids[0]
    return stack([g.reshape(-1) for g in grids], 1)


for _f in (repeat, tile, repeat_interleave, flip, fliplr, flipud, roll, rot90, tril, triu, tril_, triu_, diagonal,
           diag_embed, diag, trace):
    _export(_f)
_export(meshgrid, method=False)
_export(cartesian_prod, method=False)
