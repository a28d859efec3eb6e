"""Tensor printing (python/rgrad/_tensor_str.py) checked against torch's repr.

``format_tensor`` is called directly on numpy arrays, so every dtype and layout torch can
print is covered independently of how rgrad stores values. torch is only the oracle: the
tests that need it skip without it.
"""

import math
import os

import numpy as np
import pytest

from rgrad import _tensor_str as ts

try:  # only for resetting torch's global print options in the fixture
    import torch as _torch_or_none
except Exception:  # pragma: no cover
    _torch_or_none = None

DEFAULT_OPTS = {
    "precision": 4,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 80,
    "sci_mode": None,
}


@pytest.fixture(autouse=True)
def _reset_printoptions():
    ts.set_printoptions(profile="default")
    if _torch_or_none is not None:
        _torch_or_none.set_printoptions(profile="default")
    yield
    ts.set_printoptions(profile="default")
    if _torch_or_none is not None:
        _torch_or_none.set_printoptions(profile="default")


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _dtype_name(t):
    return str(t.dtype).split(".", 1)[1]


def _to_numpy(t, torch):
    """What the core hands over: float16/bfloat16 as exact float32 values."""
    t = t.detach()
    if t.dtype in (torch.float16, torch.bfloat16) or t.dtype in _float8(torch):
        return t.to(torch.float32).numpy()
    if t.dtype == torch.complex32:
        return t.to(torch.complex64).numpy()
    return t.numpy()


def _float8(torch):
    return tuple(
        getattr(torch, n)
        for n in ("float8_e4m3fn", "float8_e5m2")
        if hasattr(torch, n)
    )


def _is_default(t, torch):
    default = torch.get_default_dtype()
    default_complex = torch.complex128 if default == torch.float64 else torch.complex64
    return t.dtype in (default, default_complex, torch.int64, torch.bool)


def ours(t, torch, **kw):
    return ts.format_tensor(
        _to_numpy(t, torch),
        dtype_name=_dtype_name(t),
        is_default_dtype_for_kind=_is_default(t, torch),
        **kw,
    )


def oracle(t):
    return repr(t).replace("torch.", "rgrad.")


def check(t, torch, **kw):
    got = ours(t, torch, **kw)
    exp = oracle(t)
    assert got == exp, f"\n--- ours ---\n{got}\n--- torch ---\n{exp}"


ALL_DTYPES = [
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "bool",
    "complex64",
    "complex128",
]


def _tdt(torch, name):
    return getattr(torch, name)


# ---------------------------------------------------------------------------
# hand-made corpus
# ---------------------------------------------------------------------------

NAN, INF = math.nan, math.inf

FLOAT_CORPUS = [
    [1.0, 2.0, 3.0],
    [0.0],
    [-0.0],
    [0.0, -0.0],
    [-0.0, 1.0],
    [-0.0, 1.5],
    [1.5, -2.25, 3.125],
    [0.1, 0.2, 0.3],
    [1.0 / 3.0, 2.0 / 3.0],
    [123456.789],
    [1e-10],
    [1e-5, 1.0],
    [1e-4, 1e-3],
    [9.99e-5, 1.0],
    [1e10],
    [1e8, 1.0],
    [1e8],
    [1.00000001e8],
    [999.0, 1.0],
    [1000.0, 1.0],
    [1001.0, 1.0],
    [1000.5, 1.0],
    [1e-10, 1e-5, 1e0, 1e5, 1e10],
    [-1e-10, 1e10],
    [1e30, -1e-30],
    [1e100, 1e-100],
    [1e300, 1e-300],
    [5e-324, 1.0],
    [1.7976931348623157e308],
    [NAN],
    [INF],
    [-INF],
    [NAN, INF, -INF],
    [NAN, 1.0, 2.0],
    [NAN, 1.5],
    [INF, 1.5, -2.0],
    [NAN, 1e10],
    [INF, 1e-10],
    [-INF, 0.0, -0.0, NAN],
    [100.0, 200.0, -300.0],
    [12345678.0, 1.0],
    [123456789.0],
    [0.00012345, 0.5],
    [0.5, 0.25, 0.125, 0.0625],
    [2.0 ** 20, 2.0 ** -20],
    [-1.0, -2.0, -3.0],
    [0.99995],
    [9.99995, 0.1],
    [99999.5],
    [1e7, 2e7],
    [[1.0, 2.0], [3.0, 4.0]],
    [[1.5, -2.0], [NAN, INF]],
    [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]],
    [[[1e-6, 2.0], [3.0, 4e6]], [[5.0, 6.0], [7.0, -8.0]]],
]

INT_CORPUS = [
    [0],
    [1, 2, 3],
    [-1, 0, 1],
    [127, -128],
    [255, 0],
    [2 ** 31 - 1, -(2 ** 31)],
    [2 ** 63 - 1, -(2 ** 63)],
    [[1, 2, 3], [4, 5, 6]],
    [[[1, -2], [3, 4]], [[5, 6], [7, 8]]],
    [10 ** 9, 1],
]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("vals", FLOAT_CORPUS, ids=[str(i) for i in range(len(FLOAT_CORPUS))])
def test_float_corpus(torch, vals, dtype):
    check(torch.tensor(vals, dtype=_tdt(torch, dtype)), torch)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64", "float32"])
@pytest.mark.parametrize("vals", INT_CORPUS, ids=[str(i) for i in range(len(INT_CORPUS))])
def test_int_corpus(torch, vals, dtype):
    tdt = _tdt(torch, dtype)
    a = np.array(vals, dtype=object)
    if dtype != "float32":
        info = torch.iinfo(tdt)
        if any(v < info.min or v > info.max for v in a.reshape(-1).tolist()):
            pytest.skip("value out of range for dtype")
    check(torch.tensor(vals, dtype=tdt), torch)


@pytest.mark.parametrize("dtype", ["uint16", "uint32", "uint64"])
def test_wide_unsigned(torch, dtype):
    if not hasattr(torch, dtype):
        pytest.skip("torch lacks " + dtype)
    t = torch.tensor([1, 2, 300], dtype=torch.int64).to(_tdt(torch, dtype))
    check(t, torch)


@pytest.mark.parametrize(
    "vals", [[True], [False], [True, False], [[True, True], [True, False]], [[True]]]
)
def test_bool(torch, vals):
    check(torch.tensor(vals), torch)


@pytest.mark.parametrize(
    "vals",
    [
        [1 + 2j, 3 - 4j],
        [0j, -0.0 - 0.0j],
        [complex(NAN, 1), complex(INF, -INF)],
        [1e-8 + 1e8j, 1 + 1j],
        [[1.5 + 2j, 0.25j], [3.0 + 0j, -1 - 1j]],
    ],
)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex(torch, vals, dtype):
    check(torch.tensor(vals, dtype=_tdt(torch, dtype)), torch)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("value", [0, 1, 3, -2, 7.5, 1e-7, 1e12, NAN, INF, -0.0, True])
def test_zero_dim(torch, dtype, value):
    tdt = _tdt(torch, dtype)
    if not (tdt.is_floating_point or tdt.is_complex):
        if isinstance(value, float) and (
            not math.isfinite(value) or value != int(value) or abs(value) > 100
        ):
            pytest.skip("not representable")
        if dtype == "uint8" and value < 0:
            pytest.skip("not representable")
        value = int(value) if dtype != "bool" else bool(value)
    check(torch.tensor(value, dtype=tdt), torch)


EMPTY_SHAPES = [(0,), (0, 3), (3, 0), (0, 0), (2, 0, 4), (1, 0), (0, 1, 1)]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", EMPTY_SHAPES)
def test_empty(torch, dtype, shape):
    check(torch.empty(shape, dtype=_tdt(torch, dtype)), torch)


def test_empty_strings():
    kw = dict(is_default_dtype_for_kind=True)
    assert ts.format_tensor(np.zeros((0,), np.float32), dtype_name="float32", **kw) == "tensor([])"
    assert (
        ts.format_tensor(np.zeros((0, 3), np.float32), dtype_name="float32", **kw)
        == "tensor([], size=(0, 3))"
    )
    assert (
        ts.format_tensor(np.zeros((0, 3), np.int64), dtype_name="int64", **kw)
        == "tensor([], size=(0, 3), dtype=rgrad.int64)"
    )
    assert (
        ts.format_tensor(np.zeros((0,), np.bool_), dtype_name="bool", **kw)
        == "tensor([], dtype=rgrad.bool)"
    )


def test_basic_strings_without_torch():
    f = ts.format_tensor
    assert f(np.array(3.0, np.float32), dtype_name="float32", is_default_dtype_for_kind=True) == "tensor(3.)"
    assert (
        f(np.array([1.0, 2.5], np.float32), dtype_name="float32", is_default_dtype_for_kind=True)
        == "tensor([1.0000, 2.5000])"
    )
    assert (
        f(np.array([1e10, 1.0]), dtype_name="float64", is_default_dtype_for_kind=False)
        == "tensor([1.0000e+10, 1.0000e+00], dtype=rgrad.float64)"
    )
    assert (
        f(np.array([1, 2], np.int32), dtype_name="int32", is_default_dtype_for_kind=False)
        == "tensor([1, 2], dtype=rgrad.int32)"
    )
    assert (
        f(np.array([True, False]), dtype_name="bool", is_default_dtype_for_kind=True)
        == "tensor([ True, False])"
    )
    assert (
        f(np.array([-0.0, 1.0], np.float32), dtype_name="float32", is_default_dtype_for_kind=True)
        == "tensor([-0., 1.])"
    )
    assert (
        f(np.array([np.nan, np.inf], np.float32), dtype_name="bfloat16", is_default_dtype_for_kind=False)
        == "tensor([nan, inf], dtype=rgrad.bfloat16)"
    )
    assert (
        f(np.arange(2000), dtype_name="int64", is_default_dtype_for_kind=True)
        == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
    )


# -- summarization, wrapping, big shapes -------------------------------------


def _big_tensors(torch):
    g = torch.Generator().manual_seed(0)
    return {
        "arange_1001": torch.arange(1001),
        "arange_2000_f": torch.arange(2000, dtype=torch.float32),
        "randn_1d": torch.randn(5000, generator=g),
        "randn_2d": torch.randn(100, 100, generator=g),
        "randn_3d": torch.randn(20, 30, 40, generator=g),
        "randn_4d": torch.randn(7, 8, 9, 10, generator=g),
        "tall": torch.randn(2000, 1, generator=g),
        "wide_2d": torch.randn(2, 1000, generator=g),
        "wide_2d_small": torch.randn(3, 300, generator=g),
        "mixed_mag": torch.randn(40, 40, generator=g) * torch.logspace(-10, 10, 40),
        "big_vals_interior": torch.cat(
            [torch.ones(500), torch.tensor([1e20]), torch.ones(1000)]
        ),
        "int_big": torch.randint(-10 ** 6, 10 ** 6, (50, 50), generator=g),
        "int8_big": torch.randint(-128, 127, (1200,), dtype=torch.int8, generator=g),
        "bool_big": torch.rand(30, 40, generator=g) > 0.5,
        "half_big": torch.randn(1500, generator=g).half(),
        "bf16_big": (torch.randn(33, 33, generator=g) * 100).bfloat16(),
        "complex_big": torch.randn(1100, dtype=torch.complex64, generator=g),
        "nan_inf_big": torch.tensor([NAN, INF, 1.0] * 400),
        "wide_row": torch.randn(60, generator=g) * 1000,
        "wide_row_ints": torch.arange(-100, 100),
        "wide_row_sci": torch.randn(50, generator=g) * 1e12,
        "wide_3d": torch.randn(2, 3, 40, generator=g),
        "exactly_threshold": torch.arange(1000, dtype=torch.float64),
        "int_valued_floats": torch.arange(-50, 50, dtype=torch.float32) * 3,
        "integers_big_as_float": torch.tensor([1e8, 2e8, 3.0]),
    }


_BIG_NAMES = [
    "arange_1001", "arange_2000_f", "randn_1d", "randn_2d", "randn_3d",
    "randn_4d", "tall", "wide_2d", "wide_2d_small", "mixed_mag",
    "big_vals_interior", "int_big", "int8_big", "bool_big", "half_big",
    "bf16_big", "complex_big", "nan_inf_big", "wide_row", "wide_row_ints",
    "wide_row_sci", "wide_3d", "exactly_threshold", "int_valued_floats",
    "integers_big_as_float",
]


@pytest.mark.parametrize("name", _BIG_NAMES)
def test_big_and_wide(torch, name):
    check(_big_tensors(torch)[name], torch)


@pytest.mark.parametrize("name", _BIG_NAMES)
@pytest.mark.parametrize(
    "opts",
    [
        dict(profile="short"),
        dict(profile="full"),
        dict(edgeitems=0),
        dict(edgeitems=1, threshold=10),
        dict(linewidth=40),
        dict(linewidth=200, precision=2),
        dict(sci_mode=True),
        dict(sci_mode=False),
        dict(precision=0),
        dict(precision=8, threshold=5),
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
def test_big_and_wide_with_options(torch, name, opts):
    ts.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    check(_big_tensors(torch)[name], torch)


# -- suffixes -----------------------------------------------------------------


def test_requires_grad_and_grad_fn(torch):
    t = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    check(t, torch, requires_grad=True)
    u = t * 2
    check(u, torch, requires_grad=True, grad_fn="MulBackward0")
    v = (t.double() + 1).sum()
    check(v, torch, requires_grad=True, grad_fn="SumBackward0")
    w = torch.randn(40, 40, requires_grad=True).half()
    check(w, torch, requires_grad=True, grad_fn="ToCopyBackward0")


def test_grad_fn_string_forms():
    a = np.array([1.0], np.float32)
    kw = dict(dtype_name="float32", is_default_dtype_for_kind=True, requires_grad=True)
    assert ts.format_tensor(a, grad_fn="AddBackward0", **kw) == "tensor([1.], grad_fn=<AddBackward0>)"
    assert ts.format_tensor(a, grad_fn="<AddBackward0>", **kw) == "tensor([1.], grad_fn=<AddBackward0>)"
    assert ts.format_tensor(a, **kw) == "tensor([1.], requires_grad=True)"


def test_suffix_wrapping_with_long_suffixes(torch):
    # A row that just fits the line: suffixes go onto new lines like torch.
    for n in range(1, 20):
        t = torch.arange(n, dtype=torch.float16) * 1.5
        check(t, torch)
        u = (t.float().requires_grad_() * 3).to(torch.float64)
        check(u, torch, requires_grad=True, grad_fn="ToCopyBackward0")


def _torch_with_device(t, torch, dev_suffix, extra):
    """torch's own _tensor_str/_add_suffixes with a device suffix, i.e. what
    torch prints for a CUDA tensor with device name ``dev_suffix``."""
    T = torch._tensor_str
    suffixes = ["device='" + dev_suffix + "'"]
    if t.numel() == 0:
        if t.dim() != 1:
            suffixes.append("size=" + str(tuple(t.shape)))
        if t.dtype != torch.get_default_dtype():
            suffixes.append("dtype=" + str(t.dtype))
        body = "[]"
    else:
        if not _is_default(t, torch):
            suffixes.append("dtype=" + str(t.dtype))
        body = T._tensor_str(t, 7)
    suffixes += extra
    return T._add_suffixes("tensor(" + body, suffixes, 7, False).replace("torch.", "rgrad.")


@pytest.mark.parametrize(
    "make",
    [
        lambda torch: torch.tensor([1.0, 2.0]),
        lambda torch: torch.tensor([1, 2], dtype=torch.int32),
        lambda torch: torch.arange(17, dtype=torch.float64) / 7,
        lambda torch: torch.randn(5, 9, generator=torch.Generator().manual_seed(1)),
        lambda torch: torch.empty(0, 2, dtype=torch.float16),
        lambda torch: torch.tensor(2.5),
    ],
)
def test_device_suffix(torch, make):
    t = make(torch)
    got = ours(t, torch, device="gpu:0", requires_grad=True)
    exp = _torch_with_device(t, torch, "gpu:0", ["requires_grad=True"])
    assert got == exp
    assert ours(t, torch, device="cpu") == oracle(t)


def test_device_literal():
    a = np.array([1.0, 2.0], np.float32)
    assert (
        ts.format_tensor(a, dtype_name="float32", is_default_dtype_for_kind=True, device="gpu:0")
        == "tensor([1., 2.], device='gpu:0')"
    )
    assert (
        ts.format_tensor(
            np.array([1, 2], np.int64),
            dtype_name="int64",
            is_default_dtype_for_kind=True,
            device="gpu:1",
            requires_grad=False,
        )
        == "tensor([1, 2], device='gpu:1')"
    )


def test_parameter_and_subclass_prefix(torch):
    g = torch.Generator().manual_seed(3)
    for t in [torch.tensor([1.0, 2.0]), torch.randn(4, 30, generator=g), torch.randn(3, 3, 3, generator=g)]:
        p = torch.nn.Parameter(t.clone())
        assert "Parameter containing:\n" + ours(p, torch, requires_grad=True) == repr(p)

        class MyTensorSub(torch.Tensor):
            pass

        s = t.as_subclass(MyTensorSub)
        assert ours(s, torch, prefix="MyTensorSub(") == oracle(s)


def test_explicit_indent():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    got = ts.format_tensor(a, dtype_name="float32", is_default_dtype_for_kind=True, prefix="X(", indent=4)
    assert got == "X([[0., 1., 2.],\n     [3., 4., 5.]])"


def test_default_dtype_float64(torch):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for t in [
            torch.tensor([1.5, 2.0]),
            torch.tensor([1.5, 2.0], dtype=torch.float32),
            torch.empty(0, dtype=torch.float32),
            torch.empty(0, 3),
            torch.tensor([1 + 1j]),
            torch.tensor([1 + 1j], dtype=torch.complex64),
        ]:
            check(t, torch)
    finally:
        torch.set_default_dtype(old)


def test_unnormalized_input_values_are_rounded(torch):
    # Defensive: float64 values handed over for a float32/16/bf16 tensor are
    # rounded to that dtype first, like torch.tensor(values, dtype=...).
    vals = [0.1, 1 / 3, 12345.6789, -2.7182818]
    for name in ["float32", "float16", "bfloat16"]:
        t = torch.tensor(vals, dtype=getattr(torch, name))
        got = ts.format_tensor(np.array(vals), dtype_name=name, is_default_dtype_for_kind=name == "float32")
        assert got == oracle(t)


# -- print options ------------------------------------------------------------


def test_get_printoptions_default():
    assert ts.get_printoptions() == DEFAULT_OPTS


def test_printoptions_roundtrip(torch):
    ts.set_printoptions(precision=2, threshold=5, edgeitems=1, linewidth=40, sci_mode=True)
    torch.set_printoptions(precision=2, threshold=5, edgeitems=1, linewidth=40, sci_mode=True)
    assert ts.get_printoptions() == torch._tensor_str.get_printoptions()
    saved = ts.get_printoptions()
    ts.set_printoptions(profile="default")
    assert ts.get_printoptions() == DEFAULT_OPTS
    ts.set_printoptions(**saved)
    assert ts.get_printoptions() == saved
    for profile in ["default", "short", "full"]:
        ts.set_printoptions(profile=profile)
        torch.set_printoptions(profile=profile)
        assert ts.get_printoptions() == torch._tensor_str.get_printoptions()
    # like torch, a call without sci_mode resets it to None
    ts.set_printoptions(sci_mode=False)
    ts.set_printoptions(precision=3)
    assert ts.get_printoptions()["sci_mode"] is None
    assert ts.get_printoptions()["precision"] == 3


def test_printoptions_context_manager():
    with ts.printoptions(precision=1, sci_mode=False):
        assert ts.get_printoptions()["precision"] == 1
        assert ts.get_printoptions()["sci_mode"] is False
    assert ts.get_printoptions() == DEFAULT_OPTS


@pytest.mark.parametrize(
    "opts",
    [
        dict(precision=2),
        dict(precision=0),
        dict(precision=10),
        dict(threshold=5),
        dict(threshold=0),
        dict(edgeitems=1, threshold=3),
        dict(edgeitems=0),
        dict(edgeitems=0, threshold=2),
        dict(linewidth=10),
        dict(linewidth=1),
        dict(linewidth=300),
        dict(sci_mode=True),
        dict(sci_mode=False),
        dict(profile="short"),
        dict(profile="full"),
        dict(profile="short", precision=6),
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
@pytest.mark.parametrize(
    "vals,dtype",
    [
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "float32"),
        ([1.123456789, -2.5, 1e-3], "float64"),
        ([1e-10, 1e10, NAN], "float32"),
        ([[1.5, 2.5], [3.5, 4.5], [5.5, 6.5], [7.5, 8.5]], "float16"),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "int32"),
        ([[True, False, True]] * 8, "bool"),
        (7.25, "float32"),
        ([123456.0, 0.5], "bfloat16"),
    ],
)
def test_options_small(torch, opts, vals, dtype):
    ts.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    check(torch.tensor(vals, dtype=getattr(torch, dtype)), torch)


# ---------------------------------------------------------------------------
# property test
# ---------------------------------------------------------------------------

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

_INT_RANGES = {
    "uint8": (0, 255),
    "int8": (-128, 127),
    "int16": (-(2 ** 15), 2 ** 15 - 1),
    "int32": (-(2 ** 31), 2 ** 31 - 1),
    "int64": (-(2 ** 63), 2 ** 63 - 1),
}


def _gen_floats(rng, n, family):
    if family == "normal":
        v = rng.standard_normal(n)
    elif family == "scaled":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-12, 13)
    elif family == "mixed":
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-12, 13, size=n)
    elif family == "intvalued":
        v = np.round(rng.standard_normal(n) * 10.0 ** rng.integers(0, 10)).astype(np.float64)
    elif family == "small_int":
        v = rng.integers(-5, 6, size=n).astype(np.float64)
    else:  # "halves": values exact in every float dtype
        v = rng.integers(-40, 41, size=n) / 4.0
    # sprinkle special values
    if n and rng.random() < 0.4:
        k = rng.integers(1, min(n, 4) + 1)
        idx = rng.choice(n, size=k, replace=False)
        v[idx] = rng.choice([NAN, INF, -INF, 0.0, -0.0], size=k)
    return v


def _make_tensor(torch, dtype, shape, seed, family):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if shape else 1
    tdt = getattr(torch, dtype)
    if dtype == "bool":
        v = rng.random(n) < 0.5
        return torch.from_numpy(v.reshape(shape))
    if dtype in _INT_RANGES:
        lo, hi = _INT_RANGES[dtype]
        if family in ("small_int", "halves", "normal"):
            lo, hi = max(lo, -9), min(hi, 9)
        elif family == "scaled":
            e = int(rng.integers(1, 19))
            lo, hi = max(lo, -(10 ** e)), min(hi, 10 ** e)
        v = rng.integers(lo, hi, size=n, endpoint=True, dtype=np.int64 if dtype != "uint8" else np.uint8)
        return torch.from_numpy(v.reshape(shape)).to(tdt)
    if dtype.startswith("complex"):
        v = np.empty(n, dtype=np.complex128)
        v.real = _gen_floats(rng, n, family)
        v.imag = _gen_floats(rng, n, family)
        return torch.from_numpy(v.reshape(shape)).to(tdt)
    v = _gen_floats(rng, n, family)
    return torch.from_numpy(v.reshape(shape)).to(tdt)


if st is not None:

    @st.composite
    def _cases(draw):
        dtype = draw(st.sampled_from(ALL_DTYPES))
        big = draw(st.integers(0, 9)) == 0
        if big:
            shape = draw(
                st.sampled_from([(1001,), (40, 30), (11, 11, 11), (2, 600), (700, 2), (3, 4, 5, 20)])
            )
        else:
            ndim = draw(st.integers(0, 4))
            shape = tuple(draw(st.integers(0, 6)) for _ in range(ndim))
        seed = draw(st.integers(0, 2 ** 32 - 1))
        family = draw(st.sampled_from(["normal", "scaled", "mixed", "intvalued", "small_int", "halves"]))
        opts = {}
        if draw(st.booleans()):
            opts = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "precision": st.integers(0, 8),
                        "threshold": st.sampled_from([0, 1, 5, 20, 100, 1000, math.inf]),
                        "edgeitems": st.integers(0, 4),
                        "linewidth": st.integers(5, 200),
                        "sci_mode": st.sampled_from([None, True, False]),
                        "profile": st.sampled_from(["default", "short", "full"]),
                    },
                )
            )
        requires_grad = draw(st.booleans())
        return dtype, shape, seed, family, opts, requires_grad


    @settings(max_examples=int(os.environ.get("RGRAD_PRINT_EXAMPLES", "400")), deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=_cases())
    def test_property_matches_torch(case):
        torch = pytest.importorskip("torch")
        dtype, shape, seed, family, opts, requires_grad = case
        ts.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
        try:
            ts.set_printoptions(**opts)
            torch.set_printoptions(**opts)
            t = _make_tensor(torch, dtype, shape, seed, family)
            kw = {}
            if requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex):
                t = t.clone().requires_grad_()
                kw["requires_grad"] = True
            check(t, torch, **kw)
        finally:
            ts.set_printoptions(profile="default")
            torch.set_printoptions(profile="default")

else:

    def test_property_matches_torch():
        pytest.skip("hypothesis not installed")


@pytest.mark.parametrize("dtype", ["float8_e4m3fn", "float8_e5m2", "complex32"])
def test_exotic_dtypes(torch, dtype):
    import warnings

    if not hasattr(torch, dtype):
        pytest.skip("torch lacks " + dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for vals in ([0.5, -3.0, 448.0, 0.0156, NAN], [1.0, 2.0, -4.0], [[0.25, 0.5], [0.75, 1.0]]):
            t = torch.tensor(vals).to(getattr(torch, dtype))
            check(t, torch)


def test_huge_tensor_is_summarized_without_full_conversion(torch):
    g = torch.Generator().manual_seed(5)
    t = torch.randn(3000, 3000, generator=g).bfloat16()
    check(t, torch)
    check(torch.arange(10 ** 7, dtype=torch.int32), torch)
