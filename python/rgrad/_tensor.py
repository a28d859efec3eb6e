"""Tensor methods written in Python: conversions, printing, numpy/pickle interop and the thin
method wrappers over the Rust kernels. Hot paths (operators, views, indexing) are in Rust."""

import builtins

import numpy as np

from . import _C
from ._numpy import to_numpy
from ._tensor_str import format_tensor

Tensor = _C.Tensor


def _method(fn):
    setattr(Tensor, fn.__name__, fn)
    return fn


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    kwargs.pop("non_blocking", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, builtins.bool):
            copy = a
        elif isinstance(a, (str, _C.device, builtins.int)):
            device = a
        else:
            raise TypeError(f"to() received an invalid combination of arguments - got ({type(a).__name__})")
    return dtype, device, copy


def _as_device(device):
    if isinstance(device, _C.device):
        return device
    if isinstance(device, builtins.int) and not isinstance(device, builtins.bool):
        # torch: a bare ordinal names a CUDA device.
        return _C.device("gpu", device)
    return _C.device(device)


def _same_device(a, b):
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


@_method
def to(self, *args, **kwargs):
    """Performs dtype and/or device conversion: ``to(dtype)``, ``to(device)``,
    ``to(device, dtype)``, ``to(other)``. Returns self when nothing changes (unless copy=True).

    Moving to another device copies (autograd records it; the gradient flows back to the source
    device). float64 cannot live on the GPU: moving a float64 tensor there without a dtype
    conversion raises TypeError."""
    dtype, device, copy = _parse_to(args, dict(kwargs))
    if dtype is not None and dtype == self.dtype:
        dtype = None
    dev = None
    if device is not None:
        dev = _as_device(device)
        if _same_device(dev, self.device):
            dev = None
    out = self
    if dev is None:
        if dtype is not None:
            out = self._to_dtype(dtype)
    elif dtype is None:
        out = self._to_device(dev)
    elif dtype == _C.float64 and dev.type != "cpu":
        # Device first, so that the GPU's float64 TypeError is what the caller sees.
        out = self._to_device(dev)._to_dtype(dtype)
    elif dev.type == "cpu":
        out = self._to_device(dev)._to_dtype(dtype)
    else:
        # Convert on the source (float64 cannot live on the GPU), then move.
        out = self._to_dtype(dtype)._to_device(dev)
    if copy and out is self:
        out = self.clone()
    return out


@_method
def type(self, dtype=None, non_blocking=False, **kwargs):
    """Returns the type name when called without arguments, else casts to `dtype`."""
    if dtype is None:
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
                 "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
        return ("rgrad." if self.device.type == "cpu" else "rgrad.cuda.") + names[self.dtype.name]
    if isinstance(dtype, str):
        rev = {"FloatTensor": _C.float32, "DoubleTensor": _C.float64, "HalfTensor": _C.float16,
               "BFloat16Tensor": _C.bfloat16, "LongTensor": _C.int64, "IntTensor": _C.int32,
               "ShortTensor": _C.int16, "CharTensor": _C.int8, "ByteTensor": _C.uint8, "BoolTensor": _C.bool}
        parts = dtype.split(".")
        # "torch.cuda.FloatTensor" names a GPU tensor type, "torch.FloatTensor" a CPU one.
        device = "gpu" if len(parts) > 1 and parts[-2] in ("cuda", "gpu") else "cpu"
        return self.to(device, rev[parts[-1]])
    return self.to(dtype)


for _name, _dt in [("float", _C.float32), ("double", _C.float64), ("half", _C.float16),
                   ("bfloat16", _C.bfloat16), ("int", _C.int32), ("long", _C.int64), ("short", _C.int16),
                   ("char", _C.int8), ("byte", _C.uint8), ("bool", _C.bool)]:
    def _cast(self, memory_format=None, _dt=_dt):
        return self.to(_dt)
    _cast.__name__ = _name
    setattr(Tensor, _name, _cast)


@_method
def cpu(self, memory_format=None):
    """A copy of this tensor on the CPU (self when it is already there)."""
    if self.device.type == "cpu":
        return self
    return self._to_device(_C.device("cpu"))


def _gpu_device(device):
    if device is None:
        return _C.device("gpu")
    dev = _as_device(device)
    if dev.type == "cpu":
        raise RuntimeError(f"Invalid device, must be cuda device, but got: {dev}")
    return dev


@_method
def cuda(self, device=None, non_blocking=False, memory_format=None):
    """A copy of this tensor on the GPU (self when it is already there); `non_blocking` is
    accepted and ignored."""
    dev = _gpu_device(device)
    if _same_device(dev, self.device):
        return self
    return self._to_device(dev)


@_method
def gpu(self, device=None, non_blocking=False, memory_format=None):
    """rgrad's spelling of :meth:`cuda`."""
    return Tensor.cuda(self, device, non_blocking)


@_method
def get_device(self):
    """The device index: -1 for a CPU tensor, the GPU's index (0) for a GPU tensor."""
    return -1 if self.device.type == "cpu" else (self.device.index or 0)


Tensor.is_cpu = property(lambda self: self.device.type == "cpu", doc="Whether this tensor is on the CPU.")


@_method
def pin_memory(self, device=None):
    """rgrad has no page-locked memory: a CPU tensor is returned as is (torch returns a pinned
    copy), so ``DataLoader(pin_memory=True)`` and ``.cuda(non_blocking=True)`` code runs."""
    if self.device.type != "cpu":
        raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
    return self


@_method
def is_pinned(self, device=None):
    """Always False: rgrad has no page-locked memory."""
    return False


@_method
def requires_grad_(self, requires_grad=True):
    """Sets ``requires_grad`` in place (leaves only) and returns self."""
    if requires_grad and not (self.is_floating_point() or self.is_complex()):
        # torch words this one differently from the attribute setter
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    self.requires_grad = requires_grad
    return self


@_method
def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Computes the gradient of this tensor with respect to the graph's leaves.

    Args:
        gradient: the gradient of some loss with respect to this tensor; may be omitted for
            a scalar (one-element) tensor.
        retain_graph: keep the graph's saved tensors for another backward; defaults to
            ``create_graph``.
        create_graph: build a graph of the derivative, for higher order derivatives.
        inputs: accumulate only into these tensors' ``.grad``.
    """
    from .autograd import backward as _backward
    _backward(self, gradient, retain_graph, create_graph, inputs=inputs)


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, remove):
        self._remove = remove

    def remove(self):
        if self._remove is not None:
            self._remove()
            self._remove = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


@_method
def register_hook(self, hook):
    """Registers ``hook(grad) -> Tensor or None``, called with this tensor's gradient each
    time it is computed; a returned tensor replaces the gradient."""
    hid = self._register_hook(hook)
    return RemovableHandle(lambda: self._remove_hook(hid))


@_method
def numpy(self, *, force=False):
    """A numpy array sharing this tensor's memory."""
    if self.requires_grad and not force:
        raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
    return to_numpy(self)


@_method
def __array__(self, dtype=None, copy=None):
    # As torch: a GPU tensor raises TypeError here (use .cpu() first).
    a = self.detach().numpy()
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return a.copy() if copy else a


Tensor.__array_priority__ = 1000


@_method
def __array_wrap__(self, array, context=None, return_scalar=False):
    from ._creation import from_numpy
    return from_numpy(np.ascontiguousarray(array)) if isinstance(array, np.ndarray) else array


def _print_values(t):
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype.name == "bfloat16":
        return to_numpy(t._to_dtype(_C.float32))
    return to_numpy(t.contiguous())


@_method
def __repr__(self, *, tensor_contents=None):
    d = self.dtype
    default = d == _C.get_default_dtype() if d.is_floating_point else d.name in ("int64", "bool")
    dev = None if self.device.type == "cpu" else str(self.device)
    grad_fn = self.grad_fn
    return format_tensor(
        _print_values(self.detach()), dtype_name=d.name, is_default_dtype_for_kind=default, device=dev,
        requires_grad=self.requires_grad, grad_fn=None if grad_fn is None else grad_fn.name(),
    )


Tensor.__str__ = __repr__


@_method
def __format__(self, spec):
    if self.dim() == 0:
        return self.item().__format__(spec)
    return object.__format__(self, spec)


@_method
def __iter__(self):
    if self.dim() == 0:
        raise TypeError("iteration over a 0-d tensor")
    return iter(self.unbind(0))


@_method
def __contains__(self, element):
    if isinstance(element, (Tensor, builtins.int, builtins.float, builtins.bool)):
        return builtins.bool((self == element).any().item())
    raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}.")


@_method
def __reversed__(self):
    return self.flip(0) if self.dim() > 0 else self


def _rebuild(data, dtype_name, shape, requires_grad, device=None):
    t = _C._from_bytes(data, dtype_name, list(shape))
    if device is not None and device != "cpu":
        t = t._to_device(_C.device(device))
    if requires_grad:
        t.requires_grad_(True)
    return t


@_method
def __reduce_ex__(self, protocol):
    args = (self._bytes(), self.dtype.name, tuple(self.shape), self.requires_grad)
    if self.device.type != "cpu":
        # Pickles keep the device, as torch's do.
        args += (str(self.device),)
    return (_rebuild, args)


@_method
def __deepcopy__(self, memo):
    out = self.clone()
    if self.requires_grad:
        out.requires_grad_(True)
    memo[id(self)] = out
    return out


@_method
def __dlpack__(self, stream=None, **kwargs):
    if self.device.type != "cpu":
        raise BufferError("rgrad can export only CPU tensors through DLPack; use Tensor.cpu() first")
    return to_numpy(self).__dlpack__(**({} if stream is None else {"stream": stream}))


@_method
def __dlpack_device__(self):
    return (1, 0)


@_method
def expand_as(self, other):
    return self.expand(tuple(other.shape))


@_method
def broadcast_to(self, size):
    return self.expand(tuple(size))


@_method
def view_as(self, other):
    return self.view(tuple(other.shape))


@_method
def reshape_as(self, other):
    return self.reshape(tuple(other.shape))


@_method
def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    from ._creation import empty
    return empty(*size, dtype=dtype or self.dtype, device=self.device if device is None else device,
                 requires_grad=requires_grad)


@_method
def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    from ._creation import zeros
    return zeros(*size, dtype=dtype or self.dtype, device=self.device if device is None else device,
                 requires_grad=requires_grad)


@_method
def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    from ._creation import ones
    return ones(*size, dtype=dtype or self.dtype, device=self.device if device is None else device,
                 requires_grad=requires_grad)


@_method
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    from ._creation import full
    return full(size, fill_value, dtype=dtype or self.dtype, device=self.device if device is None else device,
                 requires_grad=requires_grad)


@_method
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from ._creation import tensor
    return tensor(data, dtype=dtype or self.dtype, device=self.device if device is None else device,
                 requires_grad=requires_grad)


@_method
def dim_order(self):
    return tuple(sorted(range(self.dim()), key=lambda d: -self.stride(d)))


def _get_data(self):
    return self._data_alias()


def _set_data(self, value):
    # Storages never change size here, so `.data =` copies when shape and dtype allow it.
    if not isinstance(value, Tensor):
        raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
    if value.shape != self.shape or value.dtype != self.dtype:
        raise RuntimeError("rgrad supports `.data = t` only for a tensor of the same shape and dtype "
                           f"(got {tuple(value.shape)} {value.dtype}, have {tuple(self.shape)} {self.dtype})")
    from .autograd.grad_mode import no_grad
    with no_grad():
        self.copy_(value)


Tensor.data = property(_get_data, _set_data, doc="The tensor's data without autograd history.")
