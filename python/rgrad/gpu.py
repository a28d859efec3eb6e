"""``rgrad.gpu`` (also reachable as ``rgrad.cuda``): the GPU device.

rgrad's GPU backend runs on wgpu (Vulkan, Metal, DirectX 12 or a software Vulkan device such as
Mesa's lavapipe); its one device is ``rgrad.device('gpu')``, which ``'cuda'``, ``'wgpu'``,
``'gpu:0'`` and ``'cuda:0'`` also name, so torch code written as ::

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model.to(device)

runs on it. float64 cannot live on the GPU (as on torch's MPS), and int64 tensors are held in
32 bits there.
"""

from . import _C

__all__ = [
    "is_available", "device_count", "current_device", "set_device", "get_device_name",
    "get_device_capability", "get_device_properties", "synchronize", "memory_allocated",
    "max_memory_allocated", "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats",
    "reset_max_memory_allocated", "memory_stats", "empty_cache", "buffer_count", "manual_seed",
    "manual_seed_all", "seed", "seed_all", "initial_seed", "is_bf16_supported", "is_initialized", "init",
    "device", "device_of", "OutOfMemoryError",
]

# torch.cuda.OutOfMemoryError is torch.OutOfMemoryError: a RuntimeError raised when the device's
# memory (or its per-buffer limit) cannot hold an allocation
OutOfMemoryError = _C.OutOfMemoryError
OutOfMemoryError.__module__ = "rgrad"

_available = None
_peak_allocated = 0
_peak_reserved = 0


def is_available():
    """Whether rgrad's GPU device can be used (a wgpu adapter was found)."""
    global _available
    if _available is None:
        try:
            _available = bool(_C._gpu_available())
        except Exception:
            _available = False
    return _available


def is_initialized():
    """Whether the GPU device has been set up (it is set up on first use)."""
    return is_available()


def init():
    """Sets up the GPU device now rather than on first use; raises RuntimeError without one."""
    _info()


def device_count():
    """The number of rgrad GPU devices: 1 when a GPU is available, else 0."""
    return 1 if is_available() else 0


def _check_index(device):
    """The device index `device` names (None, an int, a string or an ``rgrad.device``)."""
    if device is None:
        return 0
    if isinstance(device, int) and not isinstance(device, bool):
        idx = device
    else:
        d = device if isinstance(device, _C.device) else _C.device(device)
        if d.type == "cpu":
            raise ValueError(f"Expected a cuda device, but got: {d}")
        idx = d.index or 0
    if idx < 0:
        idx = 0
    if idx >= max(device_count(), 1):
        raise AssertionError("Invalid device id")
    return idx


def current_device():
    """The index of the current GPU device (always 0)."""
    return 0


def set_device(device):
    """Selects the current GPU device; rgrad has one, so only index 0 is accepted."""
    _check_index(device)


def _info():
    return _C._gpu_info()


def get_device_name(device=None):
    """The GPU adapter's name, e.g. ``'llvmpipe (LLVM 15.0.7, 256 bits)'``."""
    _check_index(device)
    return _info()[0]


def get_device_capability(device=None):
    """torch reports the CUDA compute capability; rgrad's wgpu device has none: (0, 0)."""
    _check_index(device)
    return (0, 0)


class _DeviceProperties:
    """What ``get_device_properties`` returns: ``name``, ``total_memory`` (0: unknown), and the
    wgpu ``backend`` and ``device_type``."""

    def __init__(self, name, backend, device_type):
        self.name = name
        self.backend = backend
        self.device_type = device_type
        self.total_memory = 0
        self.major = 0
        self.minor = 0
        self.multi_processor_count = 0
        self.is_integrated = device_type == "IntegratedGpu"

    def __repr__(self):
        return (f"_DeviceProperties(name='{self.name}', backend='{self.backend}', "
                f"device_type='{self.device_type}', total_memory={self.total_memory // (1024 * 1024)}MB)")


def get_device_properties(device=None):
    """The GPU's properties: an object with ``name`` and ``total_memory`` (0: wgpu does not
    report it), plus the wgpu ``backend`` and ``device_type``."""
    _check_index(device)
    name, backend, device_type = _info()
    return _DeviceProperties(name, backend, device_type)


def synchronize(device=None):
    """Waits until all work queued on the GPU has finished (a no-op without a GPU)."""
    if is_available():
        _C._gpu_synchronize()


def _stats():
    global _peak_allocated, _peak_reserved
    live, cached, n = _C._gpu_memory_stats()
    _peak_allocated = max(_peak_allocated, live)
    _peak_reserved = max(_peak_reserved, live + cached)
    return live, cached, n


def memory_allocated(device=None):
    """Bytes of GPU memory held by live tensors."""
    return _stats()[0]


def memory_reserved(device=None):
    """Bytes of GPU memory held by rgrad's allocator: live tensors plus the cache of freed
    buffers kept for reuse."""
    live, cached, _ = _stats()
    return live + cached


def max_memory_allocated(device=None):
    """The peak of :func:`memory_allocated` since the start or the last
    :func:`reset_peak_memory_stats`. rgrad samples it whenever a memory statistic is read, so
    it is a lower bound of the true peak; never below the current value."""
    _stats()
    return _peak_allocated


def max_memory_reserved(device=None):
    """The peak of :func:`memory_reserved`, sampled as :func:`max_memory_allocated` is."""
    _stats()
    return _peak_reserved


def reset_peak_memory_stats(device=None):
    """Restarts the peaks of :func:`max_memory_allocated` and :func:`max_memory_reserved` at
    the current values."""
    global _peak_allocated, _peak_reserved
    live, cached, _ = _C._gpu_memory_stats()
    _peak_allocated, _peak_reserved = live, live + cached


reset_max_memory_allocated = reset_peak_memory_stats


def memory_stats(device=None):
    """A few of torch's memory statistics (bytes), plus rgrad's wgpu buffer count."""
    live, cached, n = _stats()
    return {
        "allocated_bytes.all.current": live,
        "allocated_bytes.all.peak": _peak_allocated,
        "reserved_bytes.all.current": live + cached,
        "reserved_bytes.all.peak": _peak_reserved,
        "cached_bytes": cached,
        "num_buffers": n,
    }


def buffer_count():
    """The number of wgpu buffers in existence (live and cached); an rgrad extension, for
    checking that a training loop's allocations stay flat."""
    return _C._gpu_memory_stats()[2]


def empty_cache():
    """Releases the cached (freed, kept for reuse) GPU buffers."""
    _C._gpu_empty_cache()


def manual_seed(seed):
    """Seeds the GPU generator; rgrad's one Philox generator serves every device."""
    _C.manual_seed(seed)


manual_seed_all = manual_seed


def seed():
    """Seeds the generator with a non-deterministic number (rgrad's one generator)."""
    return _C.seed()


seed_all = seed


def initial_seed():
    """The seed of rgrad's one generator."""
    return _C.initial_seed()


def is_bf16_supported(including_emulation=True):
    """bfloat16 tensors are supported on the GPU device."""
    return True


class device:
    """Context manager that selects the current GPU device; rgrad has one, so it only checks
    the index."""

    def __init__(self, device):
        self.idx = -1 if device is None else _check_index(device)
        self.prev_idx = 0

    def __enter__(self):
        self.prev_idx = current_device()

    def __exit__(self, *exc):
        return False


class device_of(device):
    """Context manager that selects the GPU device of `obj` (a no-op for CPU tensors)."""

    def __init__(self, obj):
        idx = obj.device.index if obj.device.type != "cpu" else None
        super().__init__(idx)
