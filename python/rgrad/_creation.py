"""Tensor creation functions with torch's signatures."""

import builtins
import math
import numbers
import threading

import numpy as np

from . import _C
from ._numpy import from_numpy as _from_numpy, numpy_dtype_to_rgrad

Tensor = _C.Tensor


def _device(device):
    """`device` as a ``_C.device`` (None stays None)."""
    if device is None or isinstance(device, _C.device):
        return device
    return _C.device(device)


# torch keeps its default device per thread (a DeviceContext in a threading.local); so does
# rgrad. `device` is None while no default is set (the CPU).
_DEFAULT = threading.local()


def _as_default_device(device):
    if isinstance(device, builtins.int) and not isinstance(device, builtins.bool):
        return _C.device("gpu", device)  # torch: an int is an index of the accelerator
    return _device(device)


def set_default_device(device):
    """Sets the device factory functions (``tensor``, ``zeros``, ``randn``, ``arange``, ...)
    create tensors on when they are called with ``device=None``; ``None`` clears it (back to the
    CPU). Like torch's, the setting is per thread; ``*_like`` functions and ``Tensor.new_*`` keep
    their input's device, ``from_numpy``/``from_dlpack`` share CPU memory and are not affected.

    Example::

        >>> rgrad.set_default_device("gpu")
        >>> rgrad.zeros(2).device
        device(type='gpu', index=0)
        >>> rgrad.set_default_device(None)
    """
    _DEFAULT.device = None if device is None else _as_default_device(device)


def get_default_device():
    """The device factory functions use when called with ``device=None``
    (``device(type='cpu')`` unless :func:`set_default_device` changed it)."""
    d = getattr(_DEFAULT, "device", None)
    return _C.device("cpu") if d is None else d


def _check_device(device):
    """Parses `device` (raising for a malformed one) and returns it as a ``_C.device``; None
    becomes the default device (None while no default is set, which means the CPU)."""
    if device is None:
        return getattr(_DEFAULT, "device", None)
    return _device(device)


def _on_gpu(device):
    d = _device(device)
    return d is not None and d.type != "cpu"


def _move(t, device):
    """`t` on `device` (`t` itself when `device` is None or already t's device).

    Creation functions that build their values on the CPU (from Python data, numpy or the
    Philox generator) move them here; float64 cannot live on the GPU and raises TypeError."""
    if device is None:
        return t
    device = _device(device)
    if device.type == "cpu" and t.device.type == "cpu":
        return t
    return t._to_device(device)


def _random(kind, shape, a, b, dtype=None, generator=None, device=None):
    """``_C._random`` on `device` (the same numbers on every device for the same seed)."""
    return _C._random(kind, shape, a, b, dtype, generator, None if device is None else _device(device))


_INT64_MAX = (1 << 63) - 1


def _size_elem(s, fn, pos):
    """One size entry as an int, with torch's argument-parser errors."""
    if isinstance(s, builtins.bool) or not hasattr(s, "__index__"):
        raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {pos} with error "
                        f"\"type must be tuple of ints,but got {type(s).__name__}\"")
    v = s.__index__()
    if not -_INT64_MAX - 1 <= v <= _INT64_MAX:
        raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {pos} with error "
                        f"\"Overflow when unpacking long long\"")
    return v


def _sizes(size, fn="empty", varargs=True):
    """The `*size` (or, with varargs=False, `size`) argument of a creation function as ints:
    ints, or one list/tuple/Size of them."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        seq = size[0]
        for i, s in enumerate(seq):
            if isinstance(s, (list, tuple)):
                raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, but found element "
                                f"of type {type(s).__name__} at pos {i}")
        return [_size_elem(s, fn, i + 1) for i, s in enumerate(seq)]
    if len(size) == 1 and (not varargs or isinstance(size[0], builtins.bool)
                           or not hasattr(size[0], "__index__")):
        raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, not {type(size[0]).__name__}")
    return [_size_elem(s, fn, i + 1) for i, s in enumerate(size)]


def _finish(t, requires_grad):
    if requires_grad:
        if not t.is_floating_point():
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad_(True)
    return t


def is_tensor(obj):
    """Returns True if `obj` is an rgrad tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """Returns the total number of elements in the input tensor."""
    return input.numel()


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """Constructs a tensor with no autograd history by copying `data`.

    Args:
        data: a list, tuple, number, numpy array or tensor.
        dtype: the desired dtype; inferred from `data` when None (ints -> int64,
            floats -> the default dtype, bools -> bool).
        device: the device of the result.
        requires_grad: whether autograd should record operations on the result.

    Example::

        >>> rgrad.tensor([[0.1, 1.2], [2.2, 3.1]])
        tensor([[0.1000, 1.2000],
                [2.2000, 3.1000]])
    """
    device = _check_device(device)
    if isinstance(data, Tensor):
        src = data.detach()
        if dtype is not None and dtype != src.dtype:
            # Convert where float64 can live: before a move to the GPU, after one to the CPU.
            if device is not None and device.type == "cpu":
                src = src._to_device(device)
            src = src._to_dtype(dtype)
        moved = _move(src, device)
        # A fresh copy: _to_device/_to_dtype return their input when nothing changes.
        t = moved.clone() if moved._is_view_of(data) else moved
    elif isinstance(data, np.ndarray):
        arr = data if data.dtype.isnative else data.astype(data.dtype.newbyteorder("="))
        if any(s < 0 for s in arr.strides):
            arr = np.ascontiguousarray(arr)
        t = _from_numpy(arr)
        if dtype is not None and dtype != t.dtype:
            t = t._to_dtype(dtype)
        elif not _on_gpu(device):
            t = t.clone()
        t = _move(t, device)
    elif hasattr(data, "__array_interface__") and not isinstance(data, (list, tuple)):
        return tensor(np.asarray(data), dtype=dtype, device=device, requires_grad=requires_grad)
    else:
        _check_no_str(data)
        t = _move(_C._tensor_from_data(data, dtype), device)
    return _finish(t, requires_grad)


def _check_no_str(data):
    # torch's errors for text; the nested-sequence parser would read a str as a sequence of
    # 1-character strs forever.
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    stack = [data]
    while stack:
        seq = stack.pop()
        if isinstance(seq, (list, tuple)):
            for x in seq:
                if isinstance(x, str):
                    raise ValueError("too many dimensions 'str'")
                if isinstance(x, (list, tuple)):
                    stack.append(x)


def as_tensor(data, dtype=None, device=None):
    """Converts `data` into a tensor, sharing memory with numpy arrays and tensors when the
    dtype (and device) already match."""
    device = _check_device(device)
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray):
        try:
            t = _from_numpy(data)
        except (ValueError, TypeError):
            return tensor(data, dtype=dtype, device=device)
        t = t if dtype is None or t.dtype == dtype else t.to(dtype)
        return _move(t, device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """Creates a tensor sharing memory with `ndarray`; writes through either are visible in
    both, and the tensor keeps the array alive."""
    return _from_numpy(ndarray)


def from_dlpack(ext_tensor):
    """Creates a tensor from an object supporting the DLPack protocol (numpy, torch, ...),
    sharing memory with it."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    arr = np.from_dlpack(ext_tensor)
    return _from_numpy(arr)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    return tensor(s, dtype=dtype if dtype is not None else _C.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None):
    """Returns an uninitialised tensor of the given size."""
    return _finish(_C._empty(_sizes(size, "empty"), dtype, _check_device(device)), requires_grad)


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns a tensor filled with 0 of the given size."""
    return _finish(_C._zeros(_sizes(size, "zeros"), dtype, _check_device(device)), requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns a tensor filled with 1 of the given size."""
    return _finish(_C._full(_sizes(size, "ones"), 1, dtype if dtype is not None else _C.get_default_dtype(),
                           _check_device(device)),
                   requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns a tensor of `size` filled with `fill_value` (dtype inferred from the value)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    sizes = _sizes((size,), "full", varargs=False)
    if not isinstance(fill_value, numbers.Number):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    if dtype is not None and dtype._int_range is not None:
        lo, hi = dtype._int_range
        if not (math.isfinite(fill_value) and lo <= fill_value <= hi):
            raise RuntimeError(f"value cannot be converted to type {dtype._c10_name} without overflow")
    return _finish(_C._full(sizes, fill_value, dtype, _check_device(device)), requires_grad)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns a 2-D tensor with ones on the diagonal and zeros elsewhere."""
    for name, pos, v in (("n", 1, n), ("m", 2, m)):
        if v is None and name == "m":
            continue
        if isinstance(v, builtins.bool) or not hasattr(v, "__index__"):
            raise TypeError(f"eye(): argument '{name}' (position {pos}) must be int, not {type(v).__name__}")
        if not -_INT64_MAX - 1 <= v.__index__() <= _INT64_MAX:
            raise ValueError("Overflow when unpacking long long")
    if m is None:
        m = n
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    t = _C._zeros([n, m], dtype, _check_device(device))
    k = builtins.min(n, m)
    if k:
        t.as_strided((k,), (m + 1,)).fill_(1)
    return _finish(t, requires_grad)


_NO_END = object()


def arange(start=0, end=_NO_END, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns a 1-D tensor with values from [start, end) taken with common difference `step`.

    Args:
        start (Number): the first value (0 when only `end` is given).
        end (Number): the exclusive upper bound.
        step (Number): the gap between neighbouring values.

    Example::

        >>> rgrad.arange(1, 4)
        tensor([1, 2, 3])
    """
    device = _check_device(device)
    if end is _NO_END:
        start, end = 0, start
    start, end, step = (x.item() if isinstance(x, Tensor) else x for x in (start, end, step))
    for x in (start, end, step):
        if not isinstance(x, numbers.Number):
            raise TypeError(f"arange() received an invalid combination of arguments - got "
                            f"({', '.join(type(y).__name__ for y in (start, end, step))}), but expected "
                            "(Number start, Number end, Number step)")
    if dtype is not None and dtype.name == "bool":
        raise NotImplementedError('"arange_cpu" not implemented for \'Bool\'')
    return _finish(_move(_C._arange(start, end, step, dtype), device), requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated torch.range: like arange but includes `end`."""
    if end is None:
        start, end = 0, start
    n = builtins.int(math.floor((end - start) / step)) + 1
    d = dtype if dtype is not None else _C.get_default_dtype()
    t = (arange(0, n, dtype=_C.float64, device="cpu") * step + start)._to_dtype(d)
    return _finish(_move(t, _check_device(device)), requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns `steps` evenly spaced values from `start` to `end` inclusive."""
    device = _check_device(device)
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    d = dtype if dtype is not None else _C.get_default_dtype()
    if steps > 1 << 24:
        # the values are built in Python: a size the allocator refuses fails before that loop
        _C._empty([steps], _C.float64, None)
    start, end = (x.item() if isinstance(x, Tensor) else x for x in (start, end))
    if steps == 1:
        vals = [start]
    else:
        step = (end - start) / (steps - 1)
        half = steps // 2
        # torch fills the first half forward from start and the second half backward from end.
        vals = [start + i * step if i < half else end - (steps - 1 - i) * step for i in builtins.range(steps)]
    t = _C._tensor_from_data(vals, _C.float64)
    if not d.is_floating_point:
        t = t.trunc() if hasattr(t, "trunc") else t
    return _finish(_move(t._to_dtype(d), device), requires_grad)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Returns `steps` values base**x for x evenly spaced from `start` to `end`."""
    d = dtype if dtype is not None else _C.get_default_dtype()
    x = linspace(start, end, steps, dtype=_C.float64, device="cpu")
    return _finish(_move((base ** x)._to_dtype(d), _check_device(device)), requires_grad)


def _like(input, dtype):
    return input.dtype if dtype is None else dtype


def _like_device(input, device):
    # torch's *_like functions default to the input's device.
    return input.device if device is None else device


def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return empty(list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
               requires_grad=requires_grad)


def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return zeros(list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
               requires_grad=requires_grad)


def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return ones(list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
               requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return full(list(input.shape), fill_value, dtype=_like(input, dtype), device=_like_device(input, device),
                requires_grad=requires_grad)


def _gen(generator):
    return generator


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False):
    """Uniform samples on [0, 1) from rgrad's counter-based (Philox) generator."""
    device = _check_device(device)
    d = dtype if dtype is not None else _C.get_default_dtype()
    size = _sizes(size, "rand")
    if not d.is_floating_point:
        _C._empty(size, d, None)  # torch allocates first: a bad or huge size fails before the dtype
        raise NotImplementedError(f'"check_uniform_bounds" not implemented for \'{d._kernel_name}\'')
    return _finish(_random("uniform", size, 0.0, 1.0, d, generator, device), requires_grad)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False):
    """Standard normal samples (Box-Muller over Philox)."""
    device = _check_device(device)
    d = dtype if dtype is not None else _C.get_default_dtype()
    size = _sizes(size, "randn")
    if not d.is_floating_point and 0 not in size:  # (torch's normal_ runs no check when empty)
        _C._empty(size, d, None)  # torch allocates first: a bad or huge size fails before the dtype
        raise NotImplementedError(f'"normal_kernel_cpu" not implemented for \'{d._kernel_name}\'')
    return _finish(_random("normal", size, 0.0, 1.0, d, generator, device), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False):
    """Random integers in [low, high); `randint(high, size)` and `randint(low, high, size)`."""
    device = _check_device(device)
    if size is None:
        if high is not None and not isinstance(high, builtins.int):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing 1 required positional arguments: \"size\"")
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    return _finish(_random("randint", list(size), float(low), float(high), dtype or _C.int64, generator, device),
                   requires_grad)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1."""
    device = _check_device(device)
    t = _C._randperm(n, generator)
    return _finish(_move(t if dtype is None else t._to_dtype(dtype), device), requires_grad)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return rand(list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return randn(list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
                 memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, list(input.shape), dtype=_like(input, dtype), device=_like_device(input, device),
                   requires_grad=requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Normal samples: `normal(mean, std, size)` with floats, or elementwise with tensor mean/std."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        shape = (mean if isinstance(mean, Tensor) else std).shape
        if isinstance(mean, Tensor) and isinstance(std, Tensor):
            shape = _broadcast(mean.shape, std.shape)
        like = mean if isinstance(mean, Tensor) else std
        z = randn(list(shape), generator=generator, dtype=like.dtype, device=like.device)
        return z * std + mean
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() missing required argument 'size'")
    d = dtype if dtype is not None else _C.get_default_dtype()
    return _finish(_random("normal", list(size), float(mean), float(std), d, generator, _check_device(device)),
                   requires_grad)


def _broadcast(a, b):
    return tuple(np.broadcast_shapes(tuple(a), tuple(b)))


def bernoulli(input, p=None, *, generator=None, out=None):
    """Draws 0/1 samples with probabilities `input` (or a scalar `p`)."""
    if p is not None:
        return _random("bernoulli", list(input.shape), float(p), 0.0, input.dtype, generator, input.device)
    dt = _C.float64 if input.dtype == _C.float64 else _C.float32
    u = _C._random("uniform", list(input.shape), 0.0, 1.0, dt, generator, input.device)
    return (u < input.detach())._to_dtype(input.dtype)


default_generator = _C.default_generator_obj()


def result_type(tensor1, tensor2):
    """The dtype of `tensor1 op tensor2` under torch's promotion rules."""
    return _C.result_type_of(tensor1, tensor2)

