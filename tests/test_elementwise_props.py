"""Elementwise ops against torch over every dtype and layout (test_tensor_core.py covers the
broadcasting rules and float64 unary values; this adds result dtypes, half types, integer
semantics, non-contiguous operands and torch's errors for unsupported dtypes)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rgrad
from helpers import DTYPES, assert_close, assert_matches, device_dtypes, f32_on_gpu, from_np, torch
from test_reduce import LAYOUTS, TOL, P, make, oracle

pytestmark = pytest.mark.skipif(torch is None, reason="torch oracle not installed")

# Float-valued functions: torch promotes integer and bool inputs to the default float dtype.
UNARY = ["abs", "neg", "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
         "reciprocal", "square", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
         "acosh", "atanh", "sigmoid", "erf", "erfc", "erfinv", "floor", "ceil", "trunc", "frac", "relu",
         "logical_not", "bitwise_not"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2", "fmod", "remainder", "floor_divide",
          "bitwise_and", "bitwise_or", "bitwise_xor", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
          "logical_or", "logical_xor"]


def _cases(names):
    return [pytest.param(n, d) for n in names for d in DTYPES]


def _domain(name, r, t):
    """Inputs inside the function's domain where it matters (NaN placement is checked by the
    float64 tests elsewhere; here values are compared)."""
    if name in ("log", "log2", "log10", "sqrt", "rsqrt", "acosh"):
        return r.abs() + 1, t.abs() + 1
    if name in ("asin", "acos", "atanh", "erfinv"):
        return r / 16, t / 16  # data are k/8 with |k| small: |x| < 1
    if name in ("log1p",):
        return r.abs(), t.abs()
    return r, t


@pytest.mark.parametrize("name,dtype", _cases(UNARY))
def test_unary_matches_torch(name, dtype):
    for layout in LAYOUTS:
        r, t = make((3, 4, 5), dtype, layout)
        if dtype not in ("bool", "uint8"):
            try:
                r, t = _domain(name, r, t)
            except RuntimeError:
                pass  # e.g. bool arithmetic: let the op's own error be compared below
        oracle(name, r, t)
    r0, t0 = make((), dtype, "contiguous")
    oracle(name, r0, t0)
    re, te = make((0, 3), dtype, "contiguous")
    oracle(name, re, te)


@pytest.mark.parametrize("name,dtype", _cases(BINARY))
def test_binary_matches_torch(name, dtype):
    for i, (la, lb) in enumerate([("contiguous", "contiguous"), ("transposed", "sliced"), ("expanded", "transposed"),
                                  ("sliced", "expanded")]):
        ra, ta = make((3, 4, 5), dtype, la, seed=i)
        rb, tb = make((3, 4, 5), dtype, lb, seed=i + 10)
        if name in ("div", "fmod", "remainder", "floor_divide", "pow") and dtype != "bool":
            # Nonzero divisors and small non-negative exponents keep integer results defined.
            rb, tb = (rb.abs() % 3 + 1, tb.abs() % 3 + 1) if dtype != "uint8" else (rb % 3 + 1, tb % 3 + 1)
        oracle(name, ra, ta, P((rb, tb)))
        # A broadcast row, and a Python scalar on the right.
        oracle(name, ra, ta, P((rb[0, 0], tb[0, 0])))
    if name not in ("maximum", "minimum", "atan2", "logical_and", "logical_or", "logical_xor"):  # Tensor-only in torch
        oracle(name, ra, ta, 2)


@pytest.mark.parametrize("a,b", [(a, b) for a in DTYPES for b in DTYPES if a < b])
def test_mixed_dtype_binary_matches_torch(a, b):
    ra, ta = make((4, 5), a, "transposed", seed=1)
    rb, tb = make((4, 5), b, "sliced", seed=2)
    for name in ("add", "mul", "maximum", "lt", "div"):
        oracle(name, ra, ta, P((rb, tb)), method=False)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(device_dtypes(["float32", "float64", "int32", "int64", "float16", "uint8"])),
       hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=5),
       st.sampled_from(["add", "mul", "maximum", "sub", "ge"]), st.data())
def test_broadcast_strided_operands(dtype, shapes, name, data):
    (s1, s2), _ = shapes
    seed = data.draw(st.integers(0, 1000))
    l1 = data.draw(st.sampled_from(LAYOUTS if len(s1) > 1 else ["contiguous"]))
    l2 = data.draw(st.sampled_from(LAYOUTS if len(s2) > 1 else ["contiguous"]))
    ra, ta = make(s1, dtype, l1, seed=seed)
    rb, tb = make(s2, dtype, l2, seed=seed + 1)
    oracle(name, ra, ta, P((rb, tb)), method=False)
    # In place into a strided destination keeps the view and writes through.
    if tuple(np.broadcast_shapes(s1, s2)) == tuple(s1) and l1 != "expanded" and name in ("add", "mul", "sub"):
        getattr(ra, name + "_")(rb)
        getattr(ta, name + "_")(tb)
        assert_matches(ra, ta, rtol=TOL.get(dtype, 0), atol=TOL.get(dtype, 0))


def test_large_strided_elementwise_matches_numpy():
    # Sizes above the parallel threshold, through the SIMD and strided paths.
    rng = np.random.default_rng(0)
    a = rng.standard_normal((700, 900)).astype(np.float32)
    b = rng.standard_normal(900).astype(np.float32)
    r = rgrad.tensor(a)
    assert_close((r.t() + rgrad.tensor(b)[:, None]).cpu().numpy(), a.T + b[:, None])
    assert_close((r[:, ::2] * r[:, 1::2]).cpu().numpy(), a[:, ::2] * a[:, 1::2])
    assert_close(r.t().exp().cpu().numpy(), np.exp(a.T), rtol=3e-7)
    assert_close(r.sigmoid().cpu().numpy(), 1 / (1 + np.exp(-a.astype(np.float64))), rtol=3e-7, atol=1e-30)


@pytest.mark.parametrize("name,call", [
    ("lerp_scalar_low", lambda lib, a, b, c: lib.lerp(a, b, 0.3)),
    ("lerp_scalar_high", lambda lib, a, b, c: lib.lerp(a, b, 0.8)),
    ("lerp_tensor", lambda lib, a, b, c: lib.lerp(a, b, c.sigmoid())),
    ("addcmul", lambda lib, a, b, c: lib.addcmul(a, b, c, value=0.3)),
    ("addcdiv", lambda lib, a, b, c: lib.addcdiv(a, b, c.exp(), value=-2)),
    ("addcmul_", lambda lib, a, b, c: a.clone().addcmul_(b, c, value=0.5)),
    ("addcdiv_", lambda lib, a, b, c: a.clone().addcdiv_(b, c.exp())),
    ("clamp_min", lambda lib, a, b, c: a.clamp_min(0.1)),
    ("clamp_max_", lambda lib, a, b, c: a.clone().clamp_max_(b)),
])
def test_composite_pointwise_match_torch(name, call):
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal((4, 5)) for _ in range(3)]
    got = call(rgrad, *[from_np(rgrad, x) for x in arrs])
    want = call(torch, *[from_np(torch, x) for x in arrs])
    assert_close(got.cpu().numpy(), want.cpu().numpy(), rtol=1e-12, atol=1e-12)
    if name == "lerp_scalar_high":
        # weight 1 reproduces `end` exactly, as torch's two-sided formula does
        e = from_np(rgrad, arrs[1])
        np.testing.assert_array_equal(rgrad.lerp(from_np(rgrad, arrs[0]), e, 1.0).cpu().numpy(), f32_on_gpu(arrs[1]))
