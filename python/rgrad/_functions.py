"""Top-level functions (``rgrad.add``, ``rgrad.exp``, ``rgrad.reshape``, ...) and the matching
Tensor methods. Each is a thin call into a Rust kernel entry point."""

from . import _C

Tensor = _C.Tensor

_UNARY = [
    "abs", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
    "square", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "sigmoid", "erf", "erfc", "erfinv", "floor", "ceil", "trunc", "frac", "relu", "logical_not", "bitwise_not",
]
_UNARY_ALIASES = {"neg": "neg", "negative": "neg", "absolute": "abs", "arcsin": "asin", "arccos": "acos",
                  "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "fix": "trunc",
                  "sgn": "sign"}
_BINARY = ["maximum", "minimum", "atan2", "fmod", "remainder", "floor_divide", "bitwise_and", "bitwise_or",
           "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"]
_COMPARE = ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]
_COMPARE_ALIASES = {"greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne"}

__all__ = []


def _export(name, fn):
    fn.__name__ = name
    globals()[name] = fn
    __all__.append(name)


def _make_unary(kernel):
    def fn(input, *, out=None):
        r = input._unary(kernel)
        return _write_out(r, out)

    def method(self):
        return self._unary(kernel)

    def method_(self):
        return self._unary_(kernel)

    return fn, method, method_


def _write_out(r, out):
    if out is None:
        return r
    if tuple(out.shape) != tuple(r.shape):
        # torch would resize `out`; rgrad's storages never change size.
        raise RuntimeError(f"out= tensor has shape {list(out.shape)} but the result has shape {list(r.shape)}; "
                           "rgrad does not resize out= tensors")
    out.copy_(r)
    return out


def _register(names, aliases, factory):
    """Exports rgrad.<name> and installs Tensor.<name> / Tensor.<name>_ for each name."""
    for name in names:
        fn, method, method_ = factory(aliases.get(name, name))
        _export(name, fn)
        method.__name__, method_.__name__ = name, name + "_"
        setattr(Tensor, name, method)
        setattr(Tensor, name + "_", method_)


_register(_UNARY + list(_UNARY_ALIASES), _UNARY_ALIASES, _make_unary)


def _make_binary(kernel):
    def fn(input, other, *, out=None):
        if not isinstance(input, Tensor):
            return _write_out(other._rbinary(kernel, input), out)
        return _write_out(input._binary(kernel, other), out)

    def method(self, other):
        return self._binary(kernel, other)

    def method_(self, other):
        return self._binary_(kernel, other)

    return fn, method, method_


_register(_BINARY + ["mul", "multiply", "true_divide"], {"multiply": "mul", "true_divide": "div"}, _make_binary)


def _make_compare(kernel):
    def fn(input, other, *, out=None):
        return _write_out(input._compare(kernel, other), out)

    def method(self, other):
        return self._compare(kernel, other)

    def method_(self, other):
        return self.copy_(self._compare(kernel, other))

    return fn, method, method_


_register(_COMPARE + list(_COMPARE_ALIASES), _COMPARE_ALIASES, _make_compare)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    return other * alpha


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting and type promotion."""
    if not isinstance(input, Tensor):
        return _write_out(other._rbinary("add", input) if alpha == 1 else _scaled(other, alpha) + input, out)
    return _write_out(input._binary("add", _scaled(other, alpha)), out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    if not isinstance(input, Tensor):
        return _write_out(other._rbinary("sub", input) if alpha == 1 else input - _scaled(other, alpha), out)
    return _write_out(input._binary("sub", _scaled(other, alpha)), out)


def div(input, other, *, rounding_mode=None, out=None):
    """True division, or rounding_mode='trunc' / 'floor'."""
    kernel = {None: "div", "trunc": "div_trunc", "floor": "floor_divide"}.get(rounding_mode)
    if kernel is None:
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    if not isinstance(input, Tensor):
        return _write_out(other._rbinary(kernel, input), out)
    return _write_out(input._binary(kernel, other), out)


def pow(input, exponent, *, out=None):
    """input ** exponent."""
    if not isinstance(input, Tensor):
        return _write_out(exponent._rbinary("pow", input), out)
    return _write_out(input._binary("pow", exponent), out)


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


for _f in (add, sub, div, pow, rsub):
    _export(_f.__name__, _f)
_export("subtract", sub)
_export("divide", div)


def _m_add(self, other, *, alpha=1):
    return add(self, other, alpha=alpha)


def _m_add_(self, other, *, alpha=1):
    return self._binary_("add", _scaled(other, alpha))


def _m_sub(self, other, *, alpha=1):
    return sub(self, other, alpha=alpha)


def _m_sub_(self, other, *, alpha=1):
    return self._binary_("sub", _scaled(other, alpha))


def _m_div(self, other, *, rounding_mode=None):
    return div(self, other, rounding_mode=rounding_mode)


def _m_div_(self, other, *, rounding_mode=None):
    kernel = {None: "div", "trunc": "div_trunc", "floor": "floor_divide"}[rounding_mode]
    return self._binary_(kernel, other)


def _m_pow(self, exponent):
    return self._binary("pow", exponent)


def _m_pow_(self, exponent):
    return self._binary_("pow", exponent)


for _n, _f in [("add", _m_add), ("add_", _m_add_), ("sub", _m_sub), ("sub_", _m_sub_), ("subtract", _m_sub),
               ("div", _m_div), ("div_", _m_div_), ("divide", _m_div), ("true_divide", _m_div),
               ("pow", _m_pow), ("pow_", _m_pow_)]:
    setattr(Tensor, _n, _f)


# ----- shape functions ---------------------------------------------------------------------

def reshape(input, shape):
    return input.reshape(shape)


def permute(input, dims):
    return input.permute(dims)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


swapaxes = swapdims = transpose


def t(input):
    return input.t()


def squeeze(input, dim=None):
    return input.squeeze(dim)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def unflatten(input, dim, sizes):
    return input.unflatten(dim, sizes)


def narrow(input, dim, start, length):
    return input.narrow(dim, start, length)


def select(input, dim, index):
    return input.select(dim, index)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def unbind(input, dim=0):
    return input.unbind(dim)


def movedim(input, source, destination):
    return input.movedim(source, destination)


moveaxis = movedim


def broadcast_to(input, size):
    return input.expand(tuple(size))


def as_strided(input, size, stride, storage_offset=None):
    return input.as_strided(size, stride, storage_offset)


def clone(input, *, memory_format=None):
    return input.clone()


def broadcast_shapes(*shapes):
    import numpy as np
    from ._size import Size
    return Size(np.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,) for s in shapes]))


for _f in (reshape, permute, transpose, t, squeeze, unsqueeze, flatten, unflatten, narrow, select, split, chunk,
           unbind, movedim, broadcast_to, as_strided, clone, broadcast_shapes):
    _export(_f.__name__, _f)
for _n, _f in (("swapaxes", transpose), ("swapdims", transpose), ("moveaxis", movedim)):
    globals()[_n] = _f
    __all__.append(_n)
setattr(Tensor, "swapdims", Tensor.transpose)
setattr(Tensor, "moveaxis", Tensor.movedim)
