"""The one oracle helper every op test goes through: compare an rgrad tensor with a numpy
array (values, dtype and shape), and run the same function on rgrad and on numpy/torch."""

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
DEVICES = ["cpu"]


def to_np(t):
    if t.dtype == rgrad.bfloat16:
        return t.float().numpy()
    return t.numpy()


def assert_matches(t, expected, *, dtype=None, rtol=1e-6, atol=1e-6):
    """t (rgrad) equals expected (numpy array or torch tensor) in shape, dtype and values."""
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
    got = to_np(t)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)
