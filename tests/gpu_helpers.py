"""Shared by the GPU tests: whether an adapter exists (and whether one is required), moving
tensors between devices through the core's own `_to_device` (so these tests do not depend on
the Python-level `.to('gpu')`/`.cpu()` wiring), and the one oracle, `check_gpu`: the same
function on CPU inputs and on the same inputs moved to the GPU must agree. The CPU path is
tested against torch/numpy elsewhere, so here it is the reference."""

import os

import numpy as np
import pytest

import rgrad
from rgrad import _C

REQUIRE_GPU = os.environ.get("RGRAD_REQUIRE_GPU") == "1"


def _probe():
    try:
        return bool(_C._gpu_available())
    except AttributeError:  # a build without the GPU backend
        return False


GPU_AVAILABLE = _probe()
# Under RGRAD_REQUIRE_GPU=1 nothing is skipped: a missing adapter fails every test loudly.
requires_gpu = pytest.mark.skipif(not GPU_AVAILABLE and not REQUIRE_GPU,
                                  reason="no GPU adapter (set RGRAD_REQUIRE_GPU=1 to make this an error)")

GPU_DTYPES = ["float32", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"]


def gpu(t):
    return t._to_device("gpu")


def cpu(t):
    return t._to_device("cpu")


def on_gpu(t):
    return t.device.type == "gpu"


def gpu_leaf(t):
    """A GPU leaf requiring grad with the values of the CPU tensor t."""
    return gpu(t.detach()).requires_grad_()


def seed_grad(out):
    """ones_like(out) on out's device, built without the Python-level device= wiring."""
    ones = rgrad.ones(tuple(out.shape), dtype=out.dtype)
    return gpu(ones) if on_gpu(out) else ones


def backward(out):
    """out.backward() with the seed gradient passed explicitly (see seed_grad)."""
    out.backward(seed_grad(out))


def _map(x, f):
    if isinstance(x, rgrad.Tensor):
        return f(x)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_map(v, f) for v in x)
    if isinstance(x, dict):
        return {k: _map(v, f) for k, v in x.items()}
    return x


def to_np(t):
    """Values of an rgrad tensor on either device as a numpy array (bfloat16 via float32)."""
    t = cpu(t.detach()) if on_gpu(t) else t.detach()
    if t.dtype == rgrad.bfloat16:
        t = t.float()
    return t.numpy()


def default_tol(dtype_name):
    return {"float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2)}.get(dtype_name, (1e-5, 1e-6))


def assert_same(got, want, *, rtol=None, atol=None, where="", want_gpu=True):
    """got (a GPU result) equals want (the CPU result): same structure, shapes, dtypes, values;
    every tensor in got lives on the GPU."""
    if isinstance(want, rgrad.Tensor):
        assert isinstance(got, rgrad.Tensor), f"{where}: {type(got)}"
        if want_gpu:
            assert on_gpu(got), f"{where}: result on {got.device}"
        assert tuple(got.shape) == tuple(want.shape), f"{where}: shape {tuple(got.shape)} != {tuple(want.shape)}"
        assert got.dtype == want.dtype, f"{where}: dtype {got.dtype} != {want.dtype}"
        g, w = to_np(got), to_np(want)
        if w.dtype.kind == "f":
            r, a = default_tol(want.dtype.name)
            np.testing.assert_allclose(g, w, rtol=r if rtol is None else rtol, atol=a if atol is None else atol,
                                       equal_nan=True, err_msg=where)
            # inf of the right sign, NaN exactly where the CPU has NaN
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{where}: NaN positions")
            np.testing.assert_array_equal(np.isinf(g) * np.sign(g), np.isinf(w) * np.sign(w),
                                          err_msg=f"{where}: inf positions")
        else:
            np.testing.assert_array_equal(g, w, err_msg=where)
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{where}: {type(got)} vs {type(want)}"
        if hasattr(want, "_fields"):
            assert type(got).__name__ == type(want).__name__, where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol=rtol, atol=atol, where=f"{where}[{i}]", want_gpu=want_gpu)
    elif isinstance(want, float) and isinstance(got, float):
        np.testing.assert_allclose(got, want, rtol=rtol or 1e-5, atol=atol or 1e-6, equal_nan=True, err_msg=where)
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def check_gpu(fn, *inputs, rtol=None, atol=None, where=""):
    """fn(*inputs) on the CPU is the reference for fn on the inputs moved to the GPU (tensors
    anywhere in lists/tuples are moved; other arguments pass through). When the CPU call
    raises, the GPU call must raise the same exception type. Returns the GPU result."""
    try:
        want = fn(*inputs)
    except Exception as e:  # noqa: BLE001 -- the GPU must reject the call the same way
        with pytest.raises(type(e)):
            fn(*_map(inputs, gpu))
        return None
    got = fn(*_map(inputs, gpu))
    assert_same(got, want, rtol=rtol, atol=atol, where=where or getattr(fn, "__name__", ""))
    return got
