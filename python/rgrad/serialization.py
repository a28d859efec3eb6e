"""rgrad.save / rgrad.load, and the safetensors format.

``save`` writes torch's zip format (``archive/data.pkl`` + one raw little-endian buffer per
tensor under ``archive/data/``), so files move between rgrad and torch both ways. ``load``
never runs code from the file: its unpickler resolves only an allow-list of globals (the
containers and tensor-rebuild functions that torch's format uses) and raises
``pickle.UnpicklingError`` for anything else, whatever `weights_only` says.

Each tensor is saved with its own contiguous data: a view is written as its elements, not as
its whole base storage, and tensors that share storage are loaded as separate tensors (the
same tensor object saved twice is still loaded as one).
"""

import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np

from . import _C
from ._size import Size

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "save_file", "load_file"]

# dtype name -> (torch storage class name, safetensors dtype)
_DTYPES = {
    "bool": ("BoolStorage", "BOOL"),
    "uint8": ("ByteStorage", "U8"),
    "int8": ("CharStorage", "I8"),
    "int16": ("ShortStorage", "I16"),
    "int32": ("IntStorage", "I32"),
    "int64": ("LongStorage", "I64"),
    "float16": ("HalfStorage", "F16"),
    "bfloat16": ("BFloat16Storage", "BF16"),
    "float32": ("FloatStorage", "F32"),
    "float64": ("DoubleStorage", "F64"),
}
_DTYPE_BY_NAME = {name: getattr(_C, name) for name in _DTYPES}
_ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2,
             "float32": 4, "float64": 8}
_ST_DTYPE = {st: name for name, (_, st) in _DTYPES.items()}


def _open(f, mode):
    """(file object, whether we opened it)."""
    if isinstance(f, (str, os.PathLike)):
        return open(f, mode), True
    return f, False


# ----- save --------------------------------------------------------------------------------

class _Global:
    """Stands for a global that torch's format names (e.g. ``torch._utils._rebuild_tensor_v2``);
    the pickler writes its name without importing anything."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        # Only pickle's check that a reduce function is callable ever sees this.
        raise TypeError(f"{self.module}.{self.name} is a name in a saved file, not a function")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_TORCH_SIZE = _Global("torch", "Size")
_STORAGE_CLASSES = {name: _Global("torch", storage) for name, (storage, _) in _DTYPES.items()}


class _Storage:
    """A tensor's data on its way into the archive."""

    def __init__(self, key, tensor):
        self.key, self.tensor = key, tensor


class _Pickler(pickle._Pickler):
    """The pure-Python pickler (its save_global can be overridden), writing tensors as torch does."""

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = []

    def save_global(self, obj, name=None):
        if isinstance(obj, (_Global, _C.dtype)):
            module, name = (obj.module, obj.name) if isinstance(obj, _Global) else ("torch", obj.name)
            self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8"))
            self.memoize(obj)
            return
        super().save_global(obj, name)

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            name = obj.tensor.dtype.name
            # torch's location names: GPU tensors are recorded as "cuda:0" and load back there.
            dev = obj.tensor.device
            location = "cpu" if dev.type == "cpu" else f"cuda:{dev.index or 0}"
            return ("storage", _STORAGE_CLASSES[name], obj.key, location, obj.tensor.numel())
        return None

    def reducer_override(self, obj):
        from .nn.parameter import Parameter
        if isinstance(obj, (_Global, _C.dtype)):
            return obj.name  # written by save_global
        if isinstance(obj, Parameter):
            return _REBUILD_PARAMETER, (obj.detach(), obj.requires_grad, collections.OrderedDict())
        if isinstance(obj, _C.Tensor):
            if obj.dtype.name not in _DTYPES:
                raise pickle.PicklingError(f"rgrad.save: unsupported dtype {obj.dtype}")
            storage = _Storage(str(len(self.storages)), obj.detach())
            self.storages.append(storage)
            shape = tuple(obj.shape)
            stride, acc = [], 1
            for s in reversed(shape):
                stride.append(acc)
                acc *= max(s, 1)
            return _REBUILD_TENSOR, (storage, 0, shape, tuple(reversed(stride)), obj.requires_grad,
                                     collections.OrderedDict())
        if isinstance(obj, Size):
            return _TORCH_SIZE, (tuple(obj),)
        return NotImplemented


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Saves `obj` (tensors, Parameters, state dicts and nested dicts/lists/tuples of them,
    numbers, strings) to the path or binary file object `f`, in torch's zip format.

    Example::

        >>> torch.save(model.state_dict(), "model.pt")
        >>> model.load_state_dict(torch.load("model.pt"))
    """
    data = io.BytesIO()
    pickler = _Pickler(data, pickle_protocol)
    pickler.dump(obj)
    fh, owned = _open(f, "wb")
    try:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", data.getvalue())
            z.writestr("archive/byteorder", "little")
            for s in pickler.storages:
                z.writestr(f"archive/data/{s.key}", s.tensor.contiguous()._bytes())
            z.writestr("archive/version", "3\n")
    finally:
        if owned:
            fh.close()


# ----- load --------------------------------------------------------------------------------

def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _C.Tensor):
        raise pickle.UnpicklingError("rgrad.load: a tensor's storage is not a storage record")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(size) != len(stride) or not isinstance(storage_offset, int) or storage_offset < 0:
        raise pickle.UnpicklingError("rgrad.load: malformed tensor record")
    if any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("rgrad.load: negative size or stride in a tensor record")
    if 0 not in size:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel():
            raise pickle.UnpicklingError(f"rgrad.load: tensor of size {list(size)} and stride {list(stride)} at "
                                         f"offset {storage_offset} exceeds its storage of {storage.numel()} elements")
    t = storage.as_strided(size, stride, storage_offset)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    from .nn.parameter import Parameter
    if not isinstance(data, _C.Tensor):
        raise pickle.UnpicklingError("rgrad.load: a parameter's data is not a tensor")
    return Parameter(data, bool(requires_grad))


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) for v in value):
        raise pickle.UnpicklingError(f"rgrad.load: a tensor's {what} is not a tuple of ints")
    return tuple(value)


def _encode(obj, encoding="latin1"):
    # Protocol-2 pickles of bytes go through _codecs.encode(str, 'latin1').
    if not isinstance(obj, str) or encoding != "latin1":
        raise pickle.UnpicklingError("rgrad.load: _codecs.encode is only allowed for latin1 strings")
    return obj.encode("latin1")


def _allowed_globals():
    allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("_codecs", "encode"): _encode,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "Size"): Size,
    }
    for name, (storage, _) in _DTYPES.items():
        allowed[("torch", storage)] = ("storage", name)
        allowed[("torch", name)] = _DTYPE_BY_NAME[name]
    return allowed


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storage_loader):
        super().__init__(file)
        self._allowed = _allowed_globals()
        self._load_storage = storage_loader

    def find_class(self, module, name):
        if module == "__builtin__":  # protocol-2 pickles name builtins as Python 2 did
            module = "builtins"
        obj = self._allowed.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(
                f"Weights only load failed: unsupported global {module}.{name}. rgrad.load only rebuilds tensors, "
                "parameters, dtypes, sizes and builtin containers, and never runs code from the file; this file "
                "names another global, so it cannot be loaded.")
        return obj

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], tuple)
                and len(pid[1]) == 2 and pid[1][0] == "storage" and isinstance(pid[2], str)
                and isinstance(pid[4], int)):
            raise pickle.UnpicklingError(f"rgrad.load: unsupported persistent id {pid!r}")
        location = pid[3] if isinstance(pid[3], str) else "cpu"
        return self._load_storage(pid[1][1], pid[2], pid[4], location)


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Loads an object saved by :func:`save` (or by ``torch.save``) from a path or binary file.

    Only tensors, Parameters, dtypes, sizes, numbers, strings, bytes and builtin containers
    (dict, OrderedDict, list, tuple, set) are rebuilt; any other global in the file raises
    ``pickle.UnpicklingError`` and nothing from the file is executed.

    Tensors load on the device they were saved from ("cuda:N" locations on the GPU) unless
    `map_location` says otherwise: a device (string, int or ``rgrad.device``) for all of them, a
    dict mapping saved location strings to devices, or a callable ``(storage, location)`` returning
    the storage (moved or not) or None for the default.
    """
    fh, owned = _open(f, "rb")
    try:
        if not zipfile.is_zipfile(fh):
            raise pickle.UnpicklingError("rgrad.load: not a zip archive; only the zip format of torch.save (torch "
                                         ">= 1.6) and rgrad.save can be loaded")
        fh.seek(0)
        with zipfile.ZipFile(fh) as z:
            return _load_archive(z, map_location)
    finally:
        if owned:
            fh.close()


def _location_device(location):
    """The rgrad device a saved storage location ("cpu", "cuda:0", ...) names."""
    if location.startswith("cpu"):
        return _C.device("cpu")
    try:
        dev = _C.device(location)
    except RuntimeError:
        raise pickle.UnpicklingError(f"rgrad.load: unsupported storage location {location!r}") from None
    from . import gpu
    if not gpu.is_available():
        raise RuntimeError("Attempting to deserialize object on a CUDA device but rgrad.cuda.is_available() is "
                           "False. If you are running on a CPU-only machine, please use torch.load with "
                           "map_location=torch.device('cpu') to map your storages to the CPU.")
    return dev


def _place(t, location, map_location):
    """The loaded CPU storage `t` moved where `map_location` (or its saved `location`) says."""
    if callable(map_location):
        r = map_location(t, location)
        if r is not None:
            return r
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif map_location is None:
        target = location
    else:
        target = map_location
    if isinstance(target, str):
        dev = _location_device(target)
    elif isinstance(target, _C.device):
        dev = target
    else:
        dev = _C.device(target)
    return t if dev.type == "cpu" else t._to_device(dev)


def _load_archive(z, map_location=None):
    names = z.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise pickle.UnpicklingError("rgrad.load: the archive has no data.pkl record")
    prefix = pkl[0][: -len("data.pkl")]
    byteorder = z.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
    if byteorder != "little":
        raise pickle.UnpicklingError(f"rgrad.load: unsupported byte order {byteorder!r}")
    cache = {}

    def load_storage(dtype_name, key, numel, location):
        if key in cache:
            return cache[key]
        record = f"{prefix}data/{key}"
        try:
            info = z.getinfo(record)
        except KeyError:
            raise pickle.UnpicklingError(f"rgrad.load: missing storage record {record!r}") from None
        nbytes = numel * _ITEMSIZE[dtype_name]
        if numel < 0 or info.file_size < nbytes:
            raise pickle.UnpicklingError(f"rgrad.load: storage record {record!r} holds {info.file_size} bytes, "
                                         f"fewer than the {nbytes} its {numel} elements need")
        data = z.read(record)[:nbytes]
        t = _place(_C._from_bytes(data, dtype_name, [numel]), location, map_location)
        cache[key] = t
        return t

    return _Unpickler(io.BytesIO(z.read(pkl[0])), load_storage).load()


# ----- safetensors -------------------------------------------------------------------------

# safetensors writes tensors in descending dtype order (its Dtype enum's order), then by name.
_ST_ORDER = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"]
_MAX_HEADER = 100_000_000  # the safetensors library's limit


def save_safetensors(tensors, filename, metadata=None):
    """Writes a dict of name -> tensor to `filename` in the safetensors format: an 8-byte
    little-endian header length, a JSON header of dtype/shape/data_offsets per tensor (and
    optional ``__metadata__`` of str -> str), then the tensors' little-endian bytes."""
    fh, owned = _open(filename, "wb")
    try:
        fh.write(_safetensors_bytes(tensors, metadata))
    finally:
        if owned:
            fh.close()


def _safetensors_bytes(tensors, metadata):
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, rgrad.Tensor] but received {type(tensors)}")
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError("metadata must be a dict of str -> str")
    for k, v in tensors.items():
        if not isinstance(k, str) or not isinstance(v, _C.Tensor):
            raise ValueError(f"Key `{k}` is invalid: expected str -> rgrad.Tensor")
        if v.dtype.name not in _DTYPES:
            raise ValueError(f"Tensor `{k}` has dtype {v.dtype}, which safetensors cannot store")
    order = sorted(tensors, key=lambda k: (-_ST_ORDER.index(_DTYPES[tensors[k].dtype.name][1]), k))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    buffers, offset = [], 0
    for k in order:
        t = tensors[k]
        data = t.detach().contiguous()._bytes()
        header[k] = {"dtype": _DTYPES[t.dtype.name][1], "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(data)]}
        buffers.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(buffers)


def load_safetensors(filename, device="cpu"):
    """Reads a safetensors file into a dict of name -> tensor, validating the header (size,
    dtypes, shapes, offsets that tile the data exactly) against the file size before reading
    any tensor data. The tensors are placed on `device`."""
    fh, owned = _open(filename, "rb")
    try:
        out = _parse_safetensors(fh)
        dev = device if isinstance(device, _C.device) else _C.device(device)
        if dev.type != "cpu":
            out = {k: v._to_device(dev) for k, v in out.items()}
        return out
    finally:
        if owned:
            fh.close()


def _file_size(fh):
    pos = fh.tell()
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(pos)
    return size


def _parse_safetensors(fh):
    size = _file_size(fh)
    if size < 8:
        raise ValueError("Error while deserializing header: HeaderTooSmall (the file is shorter than the 8-byte "
                         "header length)")
    (n,) = struct.unpack("<Q", fh.read(8))
    if n > _MAX_HEADER:
        raise ValueError(f"Error while deserializing header: HeaderTooLarge ({n} bytes)")
    if 8 + n > size:
        raise ValueError(f"Error while deserializing header: InvalidHeaderLength (header of {n} bytes in a file of "
                         f"{size} bytes)")
    try:
        header = json.loads(fh.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"Error while deserializing header: InvalidHeaderDeserialization ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("Error while deserializing header: InvalidHeaderDeserialization (not a JSON object)")
    header.pop("__metadata__", None)
    data_len = size - 8 - n
    entries = []
    for name, info in header.items():
        try:
            dtype = _ST_DTYPE[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = info["data_offsets"]
            if not all(type(v) is int for v in (begin, end, *info["shape"])) or any(s < 0 for s in shape):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"Error while deserializing header: invalid entry for tensor {name!r}: {info!r}") from None
        nbytes = int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]
        if end - begin != nbytes or begin < 0:
            raise ValueError(f"Error while deserializing header: TensorInvalidInfo (tensor {name!r} of shape {shape} "
                             f"needs {nbytes} bytes but its data_offsets are [{begin}, {end}])")
        entries.append((begin, end, name, dtype, shape))
    entries.sort()
    pos = 0
    for begin, end, name, _, _ in entries:
        if begin != pos:
            raise ValueError(f"Error while deserializing header: InvalidOffset (tensor {name!r} starts at {begin}, "
                             f"expected {pos})")
        pos = end
    if pos != data_len:
        raise ValueError(f"Error while deserializing header: MetadataIncompleteBuffer (the tensors cover {pos} bytes "
                         f"but the file holds {data_len} bytes of data)")
    data = fh.read(data_len)
    if len(data) != data_len:
        raise ValueError("Error while deserializing: the file is truncated")
    out = {}
    for begin, end, name, dtype, shape in sorted(entries, key=lambda e: e[2]):
        out[name] = _C._from_bytes(data[begin:end], dtype, shape)
    return out


save_file = save_safetensors
load_file = load_safetensors
