"""The one oracle helper every op test goes through: compare an rgrad tensor with a numpy
array (values, dtype and shape), and run the same function on rgrad and on numpy/torch."""

import os
import re

import numpy as np
import pytest

import rgrad

try:
    import torch
except ImportError:  # torch is an optional oracle
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="torch oracle not installed")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
NP_DTYPES = {d: np.dtype(d) for d in DTYPES if d != "bfloat16"}
# The device the suites run on: the CPU, or the GPU under RGRAD_TEST_DEVICE=gpu (see conftest.py).
ON_GPU = os.environ.get("RGRAD_TEST_DEVICE", "cpu").strip().lower() in ("gpu", "cuda", "wgpu")
DEVICES = ["gpu" if ON_GPU else "cpu"]
FLOAT64_REASON = "float64 is not supported on the GPU"
NUMPY_MEMORY_REASON = "numpy interop reads and shares CPU memory (numpy() of a GPU tensor raises TypeError, as in torch)"
INT64_RANGE_REASON = ("int64 values outside int32's range cannot move to the GPU (its int64 is computed in "
                      "32 bits, README)")

# The widest float dtype the session's device holds, for tests that use float64 only for exact or
# tight values (not to test float64 itself): float64 on the CPU, float32 under the GPU pass.
WIDE_FLOAT = "float32" if ON_GPU else "float64"


def cpu_only_cases(names, which, reason=FLOAT64_REASON):
    """`names` for a parametrize list, those in `which` marked ``cpu_only(reason)``."""
    return [pytest.param(n, marks=pytest.mark.cpu_only(reason=reason)) if n in which else n for n in names]


def device_dtypes(names):
    """`names` (dtype names, or tuples of them) that can live on the session's device: float64 (or
    a tuple holding it) is left out under the GPU pass. For hypothesis strategies, which cannot
    skip one drawn example, and loops over dtype combinations; parametrised tests keep their
    float64 cases, which conftest.py skips with FLOAT64_REASON."""
    return [n for n in names if not (ON_GPU and (n == "float64" or (isinstance(n, tuple) and "float64" in n)))]


# Under the GPU pass float32 results are compared with at least this tolerance: the GPU's float32
# math (WGSL exp/log/sin/pow, ...) differs from the CPU's libm by a few ulp, and reductions, matmul
# and convolutions accumulate in another order (trees, tiles). Half types keep the test's own.
# The absolute floor grows with the largest expected magnitude (GPU_F32_SCALE_ATOL of it): a sum of
# products (matmul, convolution) that cancels to a small value keeps the rounding error of its
# largest terms.
GPU_F32_RTOL, GPU_F32_ATOL, GPU_F32_SCALE_ATOL = 1e-5, 1e-6, 1e-6
# ... and this one for second and third derivatives through saturating functions (tanh, softmax),
# where float32 cancellation (1 - tanh(x)**2 near 1) turns those few ulp into 1e-4 relative.
GPU_F32_CHAIN_RTOL, GPU_F32_CHAIN_ATOL = 1e-3, 1e-5


def device_tol(dtype_name, rtol, atol, chain=False, expected=None):
    """(rtol, atol) for comparing a `dtype_name` result computed on the session's device with
    `expected` (`chain`: a higher derivative, see GPU_F32_CHAIN_RTOL)."""
    if ON_GPU and dtype_name == "float32":
        r, a = (GPU_F32_CHAIN_RTOL, GPU_F32_CHAIN_ATOL) if chain else (GPU_F32_RTOL, GPU_F32_ATOL)
        if expected is not None:
            e = np.abs(np.asarray(expected, dtype=np.float64))
            e = e[np.isfinite(e)]
            if e.size:
                a = max(a, GPU_F32_SCALE_ATOL * float(e.max()))
        return max(rtol, r), max(atol, a)
    return rtol, atol


def f32_on_gpu(a):
    """Test data as the test wrote it, except that float64 numpy data become float32 under the GPU
    pass (float64 cannot live there): oracle suites written in float64 for tight tolerances
    then compare float32 results, with device_tol's tolerance."""
    if ON_GPU and isinstance(a, np.ndarray) and a.dtype == np.float64:
        return a.astype(np.float32)
    return a


def from_np(lib, a, **kwargs):
    """numpy data as a `lib` (rgrad or torch) tensor for an oracle test: a copy, on the default
    device, with float64 data as float32 under the GPU pass (f32_on_gpu) on both sides."""
    return lib.tensor(f32_on_gpu(np.asarray(a)), **kwargs)


def assert_close(actual, desired, rtol=1e-7, atol=0, chain=False, **kwargs):
    """np.testing.assert_allclose, with device_tol's floor when `actual` is float32 data."""
    rtol, atol = device_tol(np.asarray(actual).dtype.name, rtol, atol, chain, expected=desired)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol, **kwargs)


def strip_device(text):
    """A GPU tensor's repr without its device='gpu:0' suffix, to compare with torch's CPU repr."""
    return re.sub(r"device='gpu:0', |, device='gpu:0'", "", text)


def refuses_float64(want):
    """Under the GPU pass, whether `want` (an oracle's result: a torch tensor or a tuple of them)
    holds float64, which rgrad's GPU refuses by design with a TypeError: oracles then check that
    refusal instead of values."""
    if not ON_GPU or torch is None:
        return False
    if isinstance(want, torch.Tensor):
        return want.dtype == torch.float64
    if isinstance(want, (tuple, list)):
        return any(refuses_float64(w) for w in want)
    return False


def exceeds_gpu_int64(want):
    """Under the GPU pass, whether `want` (a torch tensor or a tuple of them) holds an int64 value
    outside int32's range, which rgrad's GPU (int64 computed in 32 bits) refuses by design with a
    RuntimeError: oracles then check that refusal instead of values."""
    if not ON_GPU or torch is None:
        return False
    if isinstance(want, torch.Tensor):
        return want.dtype == torch.int64 and want.numel() > 0 and \
            bool(((want < -2**31) | (want >= 2**31)).any())
    if isinstance(want, (tuple, list)):
        return any(exceeds_gpu_int64(w) for w in want)
    return False


def to_np(t):
    """Values of an rgrad tensor on either device as a numpy array (bfloat16 via float32)."""
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == rgrad.bfloat16:
        return t.float().numpy()
    return t.numpy()


def assert_matches(t, expected, *, dtype=None, rtol=1e-6, atol=1e-6, cpu_result=False):
    """t (rgrad) equals expected (numpy array or torch tensor) in shape, dtype and values; under
    the GPU pass t must be on the GPU, unless `cpu_result` (a result torch keeps on the CPU)."""
    assert isinstance(t, rgrad.Tensor), type(t)
    if torch is not None and isinstance(expected, torch.Tensor):
        want_dtype = str(expected.dtype).replace("torch.", "")
        if expected.dtype == torch.bfloat16:
            expected = expected.float()
        expected = expected.detach().numpy()
    else:
        expected = np.asarray(expected)
        want_dtype = dtype or expected.dtype.name
    assert tuple(t.shape) == expected.shape, (tuple(t.shape), expected.shape)
    assert t.dtype.name == want_dtype, (t.dtype, want_dtype)
    if ON_GPU and not cpu_result:
        # the GPU pass checks GPU results: a CPU tensor here means an op (or the test's input)
        # left the GPU
        assert t.device.type == "gpu", f"result on {t.device} under the GPU pass"
    got = to_np(t)
    if got.dtype.kind == "f":
        rtol, atol = device_tol(want_dtype, rtol, atol, expected=expected)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)
