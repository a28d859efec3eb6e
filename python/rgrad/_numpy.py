"""Zero-copy exchange with numpy through the array interface."""

import numpy as np

from . import _C

_TYPESTR = {
    "bool": "|b1",
    "uint8": "|u1",
    "int8": "|i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
    "float16": "<f2",
    "float32": "<f4",
    "float64": "<f8",
}

_FROM_NUMPY = {
    np.dtype(np.bool_): _C.bool,
    np.dtype(np.uint8): _C.uint8,
    np.dtype(np.int8): _C.int8,
    np.dtype(np.int16): _C.int16,
    np.dtype(np.int32): _C.int32,
    np.dtype(np.int64): _C.int64,
    np.dtype(np.float16): _C.float16,
    np.dtype(np.float32): _C.float32,
    np.dtype(np.float64): _C.float64,
}


class _Holder:
    """Keeps the tensor (and so its storage) alive for as long as the numpy array lives."""

    __slots__ = ("tensor", "__array_interface__")

    def __init__(self, tensor, iface):
        self.tensor = tensor
        self.__array_interface__ = iface


def to_numpy(t):
    name = t.dtype.name
    if name not in _TYPESTR:
        raise TypeError(f"Got unsupported ScalarType {t.dtype.name.capitalize() if name != 'bfloat16' else 'BFloat16'}")
    return np.asarray(_Holder(t, t._array_interface(_TYPESTR[name])))


def numpy_dtype_to_rgrad(dt):
    dt = np.dtype(dt)
    try:
        return _FROM_NUMPY[dt.newbyteorder("=") if dt.byteorder not in "=|" else dt]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{dt.name}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        ) from None


def from_numpy(arr):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    dt = numpy_dtype_to_rgrad(arr.dtype)
    if not arr.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    item = arr.itemsize
    if any(s < 0 for s in arr.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with negative strides "
            "are not currently supported. (You can probably work around this by making a copy of your array "
            " with array.copy().) "
        )
    if any(s % item for s in arr.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    strides = [s // item for s in arr.strides]
    if arr.size == 0:
        nbytes = 0
    else:
        nbytes = (sum((n - 1) * s for n, s in zip(arr.shape, arr.strides)) + item)
    ptr = arr.__array_interface__["data"][0]
    return _C._from_buffer(ptr, nbytes, dt, list(arr.shape), strides, 0, arr)
