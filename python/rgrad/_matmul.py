"""Matrix products: ``rgrad.matmul``/``mm``/``bmm``/``mv``/``dot``/``vdot``/``outer``/``ger``/
``inner``/``addmm``/``addmv``/``addbmm``/``baddbmm``/``tensordot``/``kron``/``einsum`` and the
matching Tensor methods. The products run in Rust (``_C._mm`` ...); this module adds torch's
argument handling, ``out=``, the in-place variants and einsum's equation parsing, which lowers
every contraction to permute/reshape plus one batched product."""

import builtins

from . import _C
from ._functions import _write_out

Tensor = _C.Tensor

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "kron", "addmm", "addmv",
           "addbmm", "baddbmm", "tensordot", "einsum"]


def _check_tensor(fn, arg, pos, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not {type(value).__name__}")


def _scalar(fn, name, value):
    """beta/alpha: a Python number or a one-element tensor, as torch accepts."""
    if isinstance(value, Tensor):
        return value.item()
    if isinstance(value, (builtins.bool, builtins.int, builtins.float)):
        return value
    try:
        import numbers
        if isinstance(value, numbers.Number):
            return value
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"{fn}(): argument '{name}' must be Number, not {type(value).__name__}")


def matmul(input, other, *, out=None):
    """Matrix product with torch's rules: 1-D operands are vectors, batch dims broadcast."""
    _check_tensor("matmul", "input", 1, input)
    _check_tensor("matmul", "other", 2, other)
    return _write_out(_C._matmul(input, other), out)


def mm(input, mat2, *, out=None):
    """Product of two matrices (no broadcasting)."""
    _check_tensor("mm", "input", 1, input)
    _check_tensor("mm", "mat2", 2, mat2)
    return _write_out(_C._mm(input, mat2), out)


def bmm(input, mat2, *, out=None):
    """Batched product of two 3-D tensors with one batch size."""
    _check_tensor("bmm", "input", 1, input)
    _check_tensor("bmm", "mat2", 2, mat2)
    return _write_out(_C._bmm(input, mat2), out)


def mv(input, vec, *, out=None):
    """Matrix-vector product."""
    _check_tensor("mv", "input", 1, input)
    _check_tensor("mv", "vec", 2, vec)
    return _write_out(_C._mv(input, vec), out)


def dot(input, tensor, *, out=None):
    """Inner product of two 1-D tensors of one dtype (a 0-d result)."""
    _check_tensor("dot", "input", 1, input)
    _check_tensor("dot", "tensor", 2, tensor)
    return _write_out(_C._dot(input, tensor), out)


def vdot(input, other, *, out=None):
    """dot with the first argument conjugated: the same as dot for real dtypes."""
    _check_tensor("vdot", "input", 1, input)
    _check_tensor("vdot", "other", 2, other)
    return _write_out(_C._dot(input, other), out)


def outer(input, vec2, *, out=None):
    """Outer product of two vectors; dtypes promote as for ``*``."""
    _check_tensor("outer", "input", 1, input)
    _check_tensor("outer", "vec2", 2, vec2)
    return _write_out(_C._outer(input, vec2), out)


def ger(input, vec2, *, out=None):
    """Alias of outer."""
    _check_tensor("ger", "input", 1, input)
    _check_tensor("ger", "vec2", 2, vec2)
    return _write_out(_C._outer(input, vec2), out)


def inner(input, other, *, out=None):
    """Contracts the last dims of both operands (0-d operands multiply)."""
    _check_tensor("inner", "input", 1, input)
    _check_tensor("inner", "other", 2, other)
    return _write_out(_C._inner(input, other), out)


def kron(input, other, *, out=None):
    """Kronecker product; dtypes promote as for ``*``."""
    _check_tensor("kron", "input", 1, input)
    _check_tensor("kron", "other", 2, other)
    return _write_out(_C._kron(input, other), out)


def _ternary(name, kernel, args):
    def fn(input, a, b, *, beta=1, alpha=1, out=None):
        for pos, (arg, v) in enumerate(zip(args, (input, a, b)), 1):
            _check_tensor(name, arg, pos, v)
        r = kernel(input, a, b, _scalar(name, "beta", beta), _scalar(name, "alpha", alpha))
        return _write_out(r, out)

    fn.__name__ = name
    fn.__qualname__ = name
    return fn


addmm = _ternary("addmm", _C._addmm, ("input", "mat1", "mat2"))
addmv = _ternary("addmv", _C._addmv, ("input", "mat", "vec"))
addbmm = _ternary("addbmm", _C._addbmm, ("input", "batch1", "batch2"))
baddbmm = _ternary("baddbmm", _C._baddbmm, ("input", "batch1", "batch2"))


def tensordot(a, b, dims=2, out=None):
    """Contracts ``dims`` (an int: the last dims of a with the first of b; or two lists)."""
    _check_tensor("tensordot", "a", 1, a)
    _check_tensor("tensordot", "b", 2, b)
    if isinstance(dims, Tensor):
        dims = dims.item() if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, (list, tuple)):
        dims_a, dims_b = dims
        for arg, pos, d in (("dims_self", 3, dims_a), ("dims_other", 4, dims_b)):
            if isinstance(d, builtins.int):
                raise TypeError(f"tensordot(): argument '{arg}' (position {pos}) must be tuple of ints, not int")
        r = _C._tensordot(a, b, [builtins.int(x) for x in dims_a], [builtins.int(x) for x in dims_b])
    elif isinstance(dims, builtins.int) and not isinstance(dims, builtins.bool):
        r = _C._tensordot_n(a, b, dims)
    else:
        raise RuntimeError("tensordot expects dims to be int or tuple[list[int], list[int]] or list[list[int]] "
                           f"containing two lists, but got dims={dims}")
    return _write_out(r, out)


# ----- einsum ------------------------------------------------------------------------------

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ELLIPSIS = object()


def _label_id(c):
    # Uppercase sorts before lowercase in the implicit output, as in torch.
    return _LETTERS.index(c)


def _from_sublists(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [out_sublist]) -> (equation, operands)."""
    def sub(lst):
        s = []
        for x in lst:
            if x is Ellipsis:
                s.append("...")
            else:
                x = builtins.int(x)
                if not 0 <= x < 52:
                    raise RuntimeError(f"einsum(): expected subscript to be within the range [0, 52), but got {x}")
                s.append(_LETTERS[x])
        return "".join(s)

    args = list(args)
    operands, subs = args[0::2][:len(args) // 2], args[1::2][:len(args) // 2]
    eq = ",".join(sub(s) for s in subs)
    if len(args) % 2 == 1:
        eq += "->" + sub(args[-1])
    return eq, operands


def _parse_operands(eq, lhs, operands):
    """Per operand: a list of label ids, with _ELLIPSIS where '...' stands."""
    n = len(operands)
    subs = [[]]
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == ".":
            op = len(subs) - 1
            if lhs[i:i + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for operand {op} that is not part of any ellipsis")
            if _ELLIPSIS in subs[-1]:
                raise RuntimeError(f"einsum(): found more than one ellipsis for operand {op}")
            subs[-1].append(_ELLIPSIS)
            i += 3
            continue
        if c == ",":
            if len(subs) >= n:
                raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
            subs.append([])
        elif c != " ":
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            subs[-1].append(_label_id(c))
        i += 1
    if len(subs) < n:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for k, (s, t) in enumerate(zip(subs, operands)):
        nlab = len([x for x in s if x is not _ELLIPSIS])
        if _ELLIPSIS in s:
            if t.dim() < nlab:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nlab}) is more than the "
                                   f"number of dimensions ({t.dim()}) for operand {k}")
        elif t.dim() != nlab:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nlab}) does not match the "
                               f"number of dimensions ({t.dim()}) for operand {k} and no ellipsis was given")
    return subs


def _parse_output(eq, start, rhs, subs):
    out = []
    seen_ell = False
    i = 0
    present = {x for s in subs for x in s if x is not _ELLIPSIS}
    while i < len(rhs):
        c = rhs[i]
        if c == ".":
            if rhs[i:i + 3] != "..." or seen_ell:
                raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis (...)")
            seen_ell = True
            out.append(_ELLIPSIS)
            i += 3
            continue
        if c != " ":
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index {start + i} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            lab = _label_id(c)
            if lab in out:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if lab not in present:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
            out.append(lab)
        i += 1
    return out


def _sum_out(t, labels, drop):
    """Sums the dims labelled in `drop` (torch sums integers and bools into int64)."""
    if not drop:
        return t, labels
    keep = [i for i, l in enumerate(labels) if l not in drop]
    red = [i for i, l in enumerate(labels) if l in drop]
    kept_shape = [t.shape[i] for i in keep]
    k = 1
    for i in red:
        k *= t.shape[i]
    if not t.dtype.is_floating_point:
        t = t.to(_C.int64)
    rest = 1
    for s in kept_shape:
        rest *= s
    flat = t.permute([*keep, *red]).reshape(rest, k)
    ones = _C._full([k], 1, t.dtype, t.device)
    r = _C._mv(flat, ones).reshape(kept_shape)
    return r, [labels[i] for i in keep]


def _diagonals(t, labels, k):
    """Repeated labels within one operand select the diagonal (a strided view)."""
    shape, strides, out = [], [], []
    for i, l in enumerate(labels):
        if l in out:
            j = out.index(l)
            if shape[j] != t.shape[i]:
                raise RuntimeError(f"einsum(): subscript {_LETTERS[l]} is repeated for operand {k} but the sizes "
                                   f"don't match, {t.shape[i]} != {shape[j]}")
            strides[j] += t.stride(i)
        else:
            out.append(l)
            shape.append(t.shape[i])
            strides.append(t.stride(i))
    if len(out) == len(labels):
        return t, labels
    return t.as_strided(shape, strides, t.storage_offset()), out


def _align(t, labels, order):
    """Permutes t's dims into `order` (a superset of labels), inserting size-1 dims."""
    t = t.permute([labels.index(l) for l in order if l in labels])
    sizes = iter(t.shape)
    return t.reshape([next(sizes) if l in labels else 1 for l in order])


def _contract(a, la, b, lb, keep):
    """One pairwise step: labels shared and not kept are summed, the rest stay."""
    shared = [l for l in la if l in lb]
    summed = [l for l in shared if l not in keep]
    if not summed:
        order = la + [l for l in lb if l not in la]
        return _align(a, la, order) * _align(b, lb, order), order
    batch = [l for l in shared if l in keep]
    left = [l for l in la if l not in lb]
    right = [l for l in lb if l not in la]
    size = {}
    for t, ls in ((a, la), (b, lb)):
        for i, l in enumerate(ls):
            if size.get(l, 1) == 1:  # a size-1 dim broadcasts; a size-0 one does not
                size[l] = t.shape[i]

    def prod(ls):
        p = 1
        for l in ls:
            p *= size[l]
        return p

    a = _align(a, la, batch + left + summed).expand([size[l] if l in shared else -1 for l in batch + left + summed])
    b = _align(b, lb, batch + summed + right).expand([size[l] if l in shared else -1 for l in batch + summed + right])
    a3 = a.reshape(prod(batch), prod(left), prod(summed))
    b3 = b.reshape(prod(batch), prod(summed), prod(right))
    r = _C._bmm(a3, b3).reshape([size[l] for l in batch + left + right])
    return r, batch + left + right


def einsum(*args):
    """Einstein summation: ``einsum("bij,bjk->bik", a, b)``, implicit output, repeated
    subscripts (diagonals and traces), ``...`` broadcasting, and the sublist format."""
    if len(args) < 2:
        raise TypeError("einsum(): must specify the equation string and at least one operand, "
                        "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        eq, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        eq, operands = _from_sublists(args)
    for i, op in enumerate(operands):
        if not isinstance(op, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got {type(op).__name__}")
    arrow = eq.find("->")
    lhs = eq if arrow < 0 else eq[:arrow]
    subs = _parse_operands(eq, lhs, operands)

    # Ellipsis dims get label ids past the letters, right-aligned across operands.
    n_ell = builtins.max([op.dim() - (len(s) - 1) for s, op in zip(subs, operands) if _ELLIPSIS in s], default=0)
    ell_labels = [len(_LETTERS) + j for j in range(n_ell)]
    ell_size = {}
    labelled = []
    for k, (s, op) in enumerate(zip(subs, operands)):
        if _ELLIPSIS in s:
            cover = op.dim() - (len(s) - 1)
            at = s.index(_ELLIPSIS)
            ls = s[:at] + ell_labels[n_ell - cover:] + s[at + 1:]
            for j in range(cover):
                sz = op.shape[at + j]
                lab = ell_labels[n_ell - cover + j]
                prev = ell_size.get(lab, 1)
                if sz != 1 and prev != 1 and sz != prev:
                    # torch's message has no space before "has".
                    raise RuntimeError(f"einsum(): dimension {n_ell - cover + j} covered by ellipsis in operand {k}"
                                       f"has size {sz} which does not broadcast with previously seen ellipsis with "
                                       f"size {prev} for the respective dimension")
                ell_size[lab] = builtins.max(prev, sz) if sz != 1 else prev
        else:
            ls = list(s)
        labelled.append(ls)

    if arrow < 0:
        counts = {}
        for ls in subs:
            for l in ls:
                if l is not _ELLIPSIS:
                    counts[l] = counts.get(l, 0) + 1
        out = ell_labels + sorted(l for l, c in counts.items() if c == 1)
    else:
        out = []
        for l in _parse_output(eq, arrow + 2, eq[arrow + 2:], subs):
            out.extend(ell_labels if l is _ELLIPSIS else [l])

    ops = []
    seen = {}
    for k, (op, ls) in enumerate(zip(operands, labelled)):
        op, ls = _diagonals(op, ls, k)
        for i, l in enumerate(ls):
            if l >= len(_LETTERS):
                continue
            sz = op.shape[i]
            prev = seen.get(l)
            if prev is not None and sz != prev and sz != 1 and prev != 1:
                raise RuntimeError(f"einsum(): subscript {_LETTERS[l]} has size {sz} for operand {k} which does not "
                                   f"broadcast with previously seen size {prev}")
            if prev is None or prev == 1:
                seen[l] = sz
        ops.append((op, ls))

    def later(i):
        return {l for _, ls in ops[i + 1:] for l in ls}

    result, rl = ops[0]
    result, rl = _sum_out(result, rl, {l for l in rl if l not in out and l not in later(0)})
    for i in range(1, len(ops)):
        op, ol = ops[i]
        keep = set(out) | later(i)
        op, ol = _sum_out(op, ol, {l for l in ol if l not in keep and l not in rl})
        result, rl = _contract(result, rl, op, ol, keep)
    result, rl = _sum_out(result, rl, {l for l in rl if l not in out})
    order = [rl.index(l) for l in out]
    return result if order == sorted(order) else result.permute(list(order))


# ----- Tensor methods ----------------------------------------------------------------------

def _inplace(name, fn):
    def method_(self, a, b, *, beta=1, alpha=1):
        r = fn(self, a, b, beta=beta, alpha=alpha)
        if tuple(r.shape) != tuple(self.shape):
            raise RuntimeError(f"Bad in-place call: input tensor size {list(self.shape)} and output tensor size "
                               f"{list(r.shape)} should match")
        return self.copy_(r)

    method_.__name__ = name + "_"
    return method_


def _method(name, fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = fn.__doc__
    return method


for _n in ("matmul", "mm", "bmm", "mv", "dot", "vdot", "outer", "ger", "inner", "kron",
           "addmm", "addmv", "addbmm", "baddbmm"):
    setattr(Tensor, _n, _method(_n, globals()[_n]))
for _n in ("addmm", "addmv", "addbmm", "baddbmm"):
    setattr(Tensor, _n + "_", _inplace(_n, globals()[_n]))
