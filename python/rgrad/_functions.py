"""Top-level functions (``rgrad.add``, ``rgrad.exp``, ``rgrad.reshape``, ...) and the matching
Tensor methods. Each is a thin call into a Rust kernel entry point."""

import builtins

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


def _make_unary(kernel, name=None):
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
        fn, method, method_ = factory(aliases.get(name, name), name)
        _export(name, fn)
        method.__name__, method_.__name__ = name, name + "_"
        setattr(Tensor, name, method)
        setattr(Tensor, name + "_", method_)


_register(_UNARY + list(_UNARY_ALIASES), _UNARY_ALIASES, _make_unary)


# torch has only a (Tensor, Tensor) overload for these: a Python number is a TypeError
_TENSOR_ONLY = {"maximum", "minimum", "atan2", "logical_and", "logical_or", "logical_xor"}


def _check_tensor_args(name, input, other):
    if name not in _TENSOR_ONLY:
        return
    for pos, (arg, v) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(v).__name__}")


def _make_binary(kernel, name=None):
    def fn(input, other, *, out=None):
        _check_tensor_args(name, input, other)
        if not isinstance(input, Tensor):
            return _write_out(other._rbinary(kernel, input), out)
        return _write_out(input._binary(kernel, other), out)

    def method(self, other):
        _check_tensor_args(name, self, other)
        return self._binary(kernel, other)

    def method_(self, other):
        _check_tensor_args(name, self, other)
        return self._binary_(kernel, other)

    return fn, method, method_


_register(_BINARY + ["mul", "multiply", "true_divide"], {"multiply": "mul", "true_divide": "div"}, _make_binary)


def _make_compare(kernel, name=None):
    def fn(input, other, *, out=None):
        _check_tensor_args(name, input, other)
        return _write_out(input._compare(kernel, other), out)

    def method(self, other):
        _check_tensor_args(name, self, other)
        return self._compare(kernel, other)

    def method_(self, other):
        _check_tensor_args(name, self, other)
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
    return input.squeeze() if dim is None else input.squeeze(dim)


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


# ----- composite elementwise ops ---------------------------------------------------------------
# Written from the primitives above so they inherit promotion, broadcasting and (later) autograd.

def clamp(input, min=None, max=None, *, out=None):
    """Clamps every element into [min, max]; bounds may be numbers or tensors. NaN stays NaN;
    when min > max every element becomes max, as in torch."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    r = input
    if min is not None:
        r = r._binary("maximum", min)
    if max is not None:
        r = r._binary("minimum", max)
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        _C._set_grad_fn_name(r, "ClampBackward1")
    return _write_out(r if r is not input else input.clone(), out)


def clamp_(self, min=None, max=None):
    # the result type of the bounds must fit self (int.clamp_(0.5) raises, as in torch); an
    # empty probe finds it by the same promotion rules at no cost
    from ._creation import empty
    def probe(b):  # an empty stand-in of the same dtype and dimension category
        return b.detach().as_strided((0,), (1,)) if isinstance(b, Tensor) and b.dim() > 0 else b
    rt = clamp(empty(0, dtype=self.dtype, device=self.device), probe(min), probe(max)).dtype
    if rt != self.dtype and not _C.can_cast(rt, self.dtype):
        raise RuntimeError(f"result type {rt._kernel_name} can't be cast to the desired output type "
                           f"{self.dtype._cpp_name}")
    # under autograd clamp saves its input, which the copy would then overwrite: clamp a copy
    src = self.clone() if self.requires_grad and _C.is_grad_enabled() else self
    return self.copy_(clamp(src, min, max))


def isnan(input):
    """True where input is NaN (never for integer tensors)."""
    return input != input


def isinf(input):
    if not input.dtype.is_floating_point:
        return input != input
    return input.abs() == float("inf")


def isposinf(input):
    return input == float("inf") if input.dtype.is_floating_point else input != input


def isneginf(input):
    return input == float("-inf") if input.dtype.is_floating_point else input != input


def isfinite(input):
    if not input.dtype.is_floating_point:
        return input == input
    return (input - input) == 0


def lerp(input, end, weight):
    """input + weight * (end - input), rounded as torch computes it: from `end` when
    |weight| >= 0.5, so weight 1 gives `end` exactly."""
    diff = end - input
    if isinstance(weight, Tensor):
        from ._indexing_ops import where
        return where(weight.abs() < 0.5, input + weight * diff, end - diff * (1 - weight))
    return input + weight * diff if builtins.abs(weight) < 0.5 else end - diff * (1 - weight)


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 * tensor2."""
    return _write_out(input + value * tensor1 * tensor2 if value != 1 else input + tensor1 * tensor2, out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """input + value * tensor1 / tensor2."""
    return _write_out(input + value * tensor1 / tensor2 if value != 1 else input + tensor1 / tensor2, out)


def hypot(input, other):
    return (input * input + other * other).sqrt()


def fmax(input, other):
    """Elementwise maximum that prefers the non-NaN operand."""
    from ._indexing_ops import where
    m = input._binary("maximum", other)
    return where(isnan(input), other, where(isnan(other), input, m))


def fmin(input, other):
    """Elementwise minimum that prefers the non-NaN operand."""
    from ._indexing_ops import where
    m = input._binary("minimum", other)
    return where(isnan(input), other, where(isnan(other), input, m))


_FINFO_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38,
              "float64": 1.7976931348623157e308}


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replaces NaN with `nan` and +/-inf with `posinf`/`neginf` (the dtype's extremes by default)."""
    if not input.dtype.is_floating_point:
        return _write_out(input.clone(), out)
    from ._indexing_ops import where
    big = _FINFO_MAX[input.dtype.name]
    r = where(isnan(input), nan, input)
    r = where(r == float("inf"), big if posinf is None else posinf, r)
    r = where(r == float("-inf"), -big if neginf is None else neginf, r)
    return _write_out(r, out)


def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
    return self.copy_(nan_to_num(self, nan, posinf, neginf))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise (infinities equal to themselves)."""
    if isinstance(other, Tensor) and input.dtype != other.dtype:
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    close = (input == other) | ((input - other).abs() <= atol + rtol * (other.abs() if isinstance(other, Tensor) else abs(other)))
    if equal_nan:
        close = close | (isnan(input) & isnan(other))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _C._nonzero(~isclose(input, other, rtol, atol, equal_nan)).shape[0] == 0


def equal(input, other):
    """True if both tensors have the same size and elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return _C._nonzero(input != other).shape[0] == 0


def logit(input, eps=None):
    x = input if eps is None else clamp(input, eps, 1 - eps)
    return (x / (1 - x)).log()


def round(input, *, decimals=0, out=None):
    """Rounds half to even; with `decimals`, to that many decimal places."""
    if decimals == 0:
        return _write_out(input._unary("round"), out)
    s = 10.0 ** decimals
    return _write_out((input * s)._unary("round") / s, out)


def round_(self, *, decimals=0):
    return self.copy_(round(self, decimals=decimals))


def positive(input):
    return input


for _f in (clamp, clamp_min, clamp_max, addcmul, addcdiv, isnan, isinf, isposinf, isneginf, isfinite, lerp, hypot,
           fmax, fmin, nan_to_num, isclose, allclose, equal, logit, round, positive):
    _export(_f.__name__, _f)
    setattr(Tensor, _f.__name__, _f)
for _n, _f in (("clip", clamp), ("clamp_", clamp_), ("clip_", clamp_), ("nan_to_num_", nan_to_num_),
               ("round_", round_)):
    setattr(Tensor, _n, _f)
    if not _n.endswith("_"):
        _export(_n, _f)


def _lerp_(self, end, weight):
    return self.copy_(lerp(self, end, weight))


Tensor.lerp_ = _lerp_
Tensor.clamp_min_ = lambda self, min: clamp_(self, min=min)
Tensor.clamp_max_ = lambda self, max: clamp_(self, max=max)
Tensor.addcmul_ = lambda self, tensor1, tensor2, *, value=1: self.copy_(addcmul(self, tensor1, tensor2, value=value))
Tensor.addcdiv_ = lambda self, tensor1, tensor2, *, value=1: self.copy_(addcdiv(self, tensor1, tensor2, value=value))
