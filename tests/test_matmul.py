"""Matrix products: matmul/@ rules (1-D, 2-D, N-D, batch broadcasting, folding), mm/bmm/mv/dot/
vdot/outer/inner/addmm/addmv/addbmm/baddbmm/tensordot/kron/einsum, every dtype, strided and
expanded operands, size-0 dims, and torch's errors. Values are checked against numpy (always)
and torch (when importable); error types and messages against torch."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rgrad
from helpers import (DTYPES, FLOAT64_REASON, INT64_RANGE_REASON, WIDE_FLOAT, assert_matches, device_dtypes, f32_on_gpu,
                     requires_torch, torch)

FLOAT_TOL = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 2e-5, "float64": 1e-12}
NUM_DTYPES = [d for d in DTYPES if d != "bool"]


def rand(shape, dtype="float64", seed=0):
    """Small integers (exact in every dtype's products of modest depth) as a numpy array."""
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    lo, hi = (0, 4) if dtype in ("uint8", "bool") else (-3, 4)
    a = rng.integers(lo, hi, size=shape)
    return a.astype(bool) if dtype == "bool" else a.astype(np.float64)


def rg(a, dtype="float32"):
    # rgrad.tensor, not from_numpy: the tensor lives on the default device (the GPU under the GPU pass)
    return rgrad.tensor(np.array(a), dtype=getattr(rgrad, dtype))


def th(a, dtype="float32"):
    return torch.from_numpy(np.array(a)).to(getattr(torch, dtype))


def check(fn, arrays, dtype="float32", np_fn=None, transform=None):
    """Runs fn(module, *tensors) on rgrad and torch (and np_fn on float64 numpy) and compares."""
    transform = transform or (lambda t: t)
    if dtype == "float64":
        dtype = WIDE_FLOAT  # float64 here only for exact values: the GPU pass checks them in float32
    got = fn(rgrad, *[transform(rg(a, dtype)) for a in arrays])
    tol = FLOAT_TOL.get(dtype, 0)
    if np_fn is not None:
        want = np.asarray(np_fn(*arrays))
        got_np = got.float().cpu().numpy().astype(np.float64) if got.dtype == rgrad.bfloat16 else got.cpu().numpy().astype(np.float64)
        if dtype in FLOAT_TOL:
            np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol * 10)
        assert got_np.shape == want.shape
    if torch is not None:
        want_t = fn(torch, *[transform(th(a, dtype)) for a in arrays])
        assert_matches(got, want_t, rtol=tol, atol=tol * 10)
    return got


def same_error(fn, *arrays, dtypes=None):
    """fn raises the same exception type and message on rgrad as on torch."""
    dtypes = dtypes or ["float32"] * len(arrays)
    with pytest.raises(Exception) as got:
        fn(rgrad, *[rg(a, d) for a, d in zip(arrays, dtypes)])
    with pytest.raises(Exception) as want:
        fn(torch, *[th(a, d) for a, d in zip(arrays, dtypes)])
    assert type(got.value).__name__ == type(want.value).__name__, (got.value, want.value)
    assert str(got.value) == str(want.value), (str(got.value), str(want.value))


# ----- matmul shape rules ------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((5, 1, 2, 3), (6, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((2, 1, 4, 3), (1, 5, 3, 2)),
    ((4, 3), (2, 2, 3, 5)), ((1, 1, 3), (3,)), ((7, 1, 3), (1, 3, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_rules(sa, sb):
    a, b = rand(sa), rand(sb, seed=1)
    check(lambda m, x, y: m.matmul(x, y), [a, b], np_fn=np.matmul)
    check(lambda m, x, y: x @ y, [a, b], np_fn=np.matmul)
    check(lambda m, x, y: x.matmul(y), [a, b], "float64", np_fn=np.matmul)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_matmul_broadcasting_property(data):
    nb = data.draw(st.integers(0, 3))
    batch = data.draw(st.lists(st.integers(1, 3), min_size=nb, max_size=nb))
    m, k, n = (data.draw(st.integers(0, 5)) for _ in range(3))
    # Each operand keeps a suffix of the batch dims with some of them squeezed to 1.
    def batch_of():
        keep = data.draw(st.integers(0, nb))
        return [b if data.draw(st.booleans()) else 1 for b in batch[nb - keep:]]
    sa = [k] if data.draw(st.booleans()) else batch_of() + [m, k]
    sb = [k] if data.draw(st.booleans()) else batch_of() + [k, n]
    a, b = rand(tuple(sa)), rand(tuple(sb), seed=3)
    want = np.matmul(a, b).astype(WIDE_FLOAT)
    got = rgrad.matmul(rg(a, WIDE_FLOAT), rg(b, WIDE_FLOAT))
    assert_matches(got, want)
    # Transposed storage for the matrix operands must give the same values.
    if len(sa) >= 2:
        at = rg(np.swapaxes(a, -1, -2).copy(), WIDE_FLOAT).transpose(-1, -2)
        assert_matches(rgrad.matmul(at, rg(b, WIDE_FLOAT)), want)


def test_matmul_error_messages_match_torch():
    if torch is None:
        pytest.skip("torch oracle not installed")
    for sa, sb in [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((4,), (3, 5)), ((2, 2, 3), (4, 3, 5)),
                   ((2, 2, 3), (5, 4)), ((), (3,)), ((3,), ()), ((2, 3, 4), (5,)), ((5,), (2, 3, 4)),
                   ((2, 3), (2, 4, 5)), ((3, 2, 4), (3, 4))]:
        same_error(lambda m, x, y: m.matmul(x, y), rand(sa), rand(sb))


def test_matmul_rejects_non_tensors():
    a = rgrad.ones(2, 3)
    with pytest.raises(TypeError, match="unsupported operand type"):
        a @ 2
    with pytest.raises(TypeError, match="unsupported operand type"):
        [1, 2] @ rgrad.ones(2)
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'other' \(position 2\) must be Tensor, not list"):
        rgrad.matmul(a, [1, 2, 3])


# ----- strided, transposed, expanded and empty operands --------------------------------------

def _views():
    base = rand((8, 12))
    return [
        ("contiguous", lambda t: t[:4, :5]),
        ("transposed", lambda t: t[:5, :4].t()),
        ("row-sliced", lambda t: t[::2, :5]),
        ("col-step", lambda t: t[:4, ::2][:, :5]),  # neither stride 1: the kernel copies it
        ("expanded-row", lambda t: t[:1, :5].expand(4, 5)),
        ("expanded-col", lambda t: t[:4, :1].expand(4, 5)),
    ], base


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16"])
def test_strided_operands(dtype):
    views, base = _views()
    for name_a, va in views:
        for name_b, vb in views:
            a = va(rg(base, dtype))
            b = vb(rg(base * 2 - 1, dtype))
            got = a @ b.t()
            want = np.asarray(a.cpu().double().numpy()) @ np.asarray(b.cpu().double().numpy()).T
            np.testing.assert_allclose(got.cpu().double().numpy(), want, rtol=FLOAT_TOL.get(dtype, 0), err_msg=f"{name_a} {name_b}")
            assert got.dtype == a.dtype


def test_neither_unit_stride_and_stride_zero_batches():
    base = rand((4, 10, 12))
    a = rg(base, WIDE_FLOAT)[:, ::2, ::3]  # strides (120, 24, 3)
    b = rg(rand((4, 4, 7)), WIDE_FLOAT)
    assert_matches(a @ b, f32_on_gpu(base[:, ::2, ::3] @ rand((4, 4, 7))))
    # A batch dim broadcast with stride 0 on one side.
    bb = rg(rand((1, 4, 7)), WIDE_FLOAT).expand(4, 4, 7)
    assert_matches(a @ bb, f32_on_gpu(base[:, ::2, ::3] @ rand((1, 4, 7))))
    # as_strided rows that overlap.
    t = rg(np.arange(20.0), WIDE_FLOAT).as_strided((5, 4), (2, 1))
    want = np.lib.stride_tricks.as_strided(np.arange(20.0), (5, 4), (16, 8))
    assert_matches(t @ t.t(), f32_on_gpu(want @ want.T))


@pytest.mark.parametrize("sa,sb", [((0, 3), (3, 4)), ((2, 0), (0, 3)), ((2, 3), (3, 0)), ((0,), (0,)),
                                   ((0, 2, 3), (3, 4)), ((2, 0, 3), (2, 3, 4)), ((2, 3, 0), (2, 0, 4)),
                                   ((3, 0), (0,)), ((0,), (0, 5))])
def test_size_zero_dims(sa, sb):
    check(lambda m, x, y: m.matmul(x, y), [rand(sa), rand(sb)], np_fn=np.matmul)
    check(lambda m, x, y: m.matmul(x, y), [rand(sa), rand(sb)], "int64", np_fn=np.matmul)


def test_size_zero_inner_dim_with_beta():
    inp = rand((2, 3))
    check(lambda m, i, x, y: m.addmm(i, x, y, beta=2, alpha=3), [inp, rand((2, 0)), rand((0, 3))],
          np_fn=lambda i, x, y: 2 * i + 3 * (x @ y))


# ----- every dtype -------------------------------------------------------------------------

OPS = {
    "mm": (lambda m, a, b: m.mm(a, b), [(3, 4), (4, 2)]),
    "matmul": (lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (2, 4, 5)]),
    "matmul_fold": (lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (4, 5)]),
    "bmm": (lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    "mv": (lambda m, a, b: m.mv(a, b), [(3, 4), (4,)]),
    "dot": (lambda m, a, b: m.dot(a, b), [(5,), (5,)]),
    "vdot": (lambda m, a, b: m.vdot(a, b), [(5,), (5,)]),
    "inner": (lambda m, a, b: m.inner(a, b), [(2, 5), (3, 5)]),
    "outer": (lambda m, a, b: m.outer(a, b), [(3,), (4,)]),
    "kron": (lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    "tensordot": (lambda m, a, b: m.tensordot(a, b, dims=1), [(2, 3), (3, 4)]),
    "einsum": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    "addmm": (lambda m, i, a, b: m.addmm(i, a, b, beta=2, alpha=3), [(3, 2), (3, 4), (4, 2)]),
    "addmv": (lambda m, i, a, b: m.addmv(i, a, b, beta=2, alpha=3), [(3,), (3, 4), (4,)]),
    "addbmm": (lambda m, i, a, b: m.addbmm(i, a, b, beta=2, alpha=3), [(3, 2), (5, 3, 4), (5, 4, 2)]),
    "baddbmm": (lambda m, i, a, b: m.baddbmm(i, a, b, beta=2, alpha=3), [(5, 3, 2), (5, 3, 4), (5, 4, 2)]),
}


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(OPS))
def test_every_dtype_like_torch(op, dtype):
    fn, shapes = OPS[op]
    arrays = [rand(s, dtype, seed=i) for i, s in enumerate(shapes)]
    try:
        want = fn(torch, *[th(a, dtype) for a in arrays])
    except Exception as e:  # torch refuses this dtype: rgrad must refuse it the same way
        with pytest.raises(type(e)) as got:
            fn(rgrad, *[rg(a, dtype) for a in arrays])
        assert str(got.value) == str(e)
        return
    got = fn(rgrad, *[rg(a, dtype) for a in arrays])
    tol = FLOAT_TOL.get(dtype, 0)
    assert_matches(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32",
                                   pytest.param("int64", marks=pytest.mark.cpu_only(reason=INT64_RANGE_REASON))])
def test_integer_products_wrap_around(dtype):
    info = np.iinfo(dtype)
    a = np.full((2, 40), info.max // 3, dtype=dtype)
    b = np.full((40, 3), 7, dtype=dtype)
    got = rgrad.tensor(a) @ rgrad.tensor(b)
    # Wrap-around is exact modular arithmetic, so a wide sum reduced mod 2^bits is the oracle.
    wide = (a.astype(object) @ b.astype(object))
    bits = 8 * np.dtype(dtype).itemsize
    want = np.array([[int(v) % (1 << bits) for v in row] for row in wide], dtype=np.uint64).astype(dtype)
    assert_matches(got, want)
    if torch is not None:
        assert_matches(got, torch.from_numpy(a) @ torch.from_numpy(b))


def test_half_precision_accumulates_in_float32():
    a = rgrad.ones(1, 4096, dtype=rgrad.float16)
    assert (a @ a.t()).item() == 4096.0
    b = rgrad.ones(1, 4096, dtype=rgrad.bfloat16)
    assert (b @ b.t()).item() == 4096.0
    big = rgrad.full((1, 3), 100.0, dtype=rgrad.float16) @ rgrad.full((3, 1), 300.0, dtype=rgrad.float16)
    assert big.item() == float("inf")


# ----- the rest of the family --------------------------------------------------------------

def test_mm_bmm_mv_dot_values():
    check(lambda m, a, b: m.mm(a, b), [rand((3, 4)), rand((4, 5))], np_fn=np.matmul)
    check(lambda m, a, b: m.bmm(a, b), [rand((2, 3, 4)), rand((2, 4, 5))], np_fn=np.matmul)
    check(lambda m, a, b: m.mv(a, b), [rand((3, 4)), rand((4,))], np_fn=np.matmul)
    check(lambda m, a, b: m.dot(a, b), [rand((7,)), rand((7,))], np_fn=np.dot)
    check(lambda m, a, b: m.vdot(a, b), [rand((7,)), rand((7,))], np_fn=np.vdot)
    check(lambda m, a, b: a.mm(b), [rand((3, 4)), rand((4, 5))], np_fn=np.matmul)
    check(lambda m, a, b: a.dot(tensor=b), [rand((7,)), rand((7,))], np_fn=np.dot)
    check(lambda m, a, b: a.mv(vec=b), [rand((3, 4)), rand((4,))], np_fn=np.matmul)


@pytest.mark.parametrize("beta,alpha", [(1, 1), (2, 3), (0, 2), (0.5, -1.5), (True, 2)])
def test_addmm_family_beta_alpha(beta, alpha):
    for fn, shapes, ref in [
        (lambda m, i, a, b: m.addmm(i, a, b, beta=beta, alpha=alpha), [(3, 5), (3, 4), (4, 5)],
         lambda i, a, b: beta * i + alpha * (a @ b)),
        (lambda m, i, a, b: m.addmm(i, a, b, beta=beta, alpha=alpha), [(5,), (3, 4), (4, 5)],
         lambda i, a, b: beta * i + alpha * (a @ b)),
        (lambda m, i, a, b: m.addmv(i, a, b, beta=beta, alpha=alpha), [(3,), (3, 4), (4,)],
         lambda i, a, b: beta * i + alpha * (a @ b)),
        (lambda m, i, a, b: m.addmv(i, a, b, beta=beta, alpha=alpha), [(), (3, 4), (4,)],
         lambda i, a, b: beta * i + alpha * (a @ b)),
        (lambda m, i, a, b: m.addbmm(i, a, b, beta=beta, alpha=alpha), [(3, 5), (2, 3, 4), (2, 4, 5)],
         lambda i, a, b: beta * i + alpha * (a @ b).sum(0)),
        (lambda m, i, a, b: m.baddbmm(i, a, b, beta=beta, alpha=alpha), [(3, 5), (2, 3, 4), (2, 4, 5)],
         lambda i, a, b: beta * i + alpha * (a @ b)),
    ]:
        arrays = [rand(s, seed=j) for j, s in enumerate(shapes)]
        check(fn, arrays, "float64", np_fn=ref)
        check(fn, arrays, "float32", np_fn=ref)


def test_beta_zero_ignores_nan_and_int_scalars_truncate():
    nan = np.full((2, 2), np.nan)
    a, b = rand((2, 3)), rand((3, 2), seed=1)
    for fn in [lambda m, i, x, y: m.addmm(i, x, y, beta=0),
               lambda m, i, x, y: m.addmv(i[0], x, y[:, 0], beta=0),
               lambda m, i, x, y: m.baddbmm(i[None], x[None], y[None], beta=0),
               lambda m, i, x, y: m.addbmm(i, x[None], y[None], beta=0)]:
        got = check(fn, [nan, a, b], "float32")
        assert not np.isnan(got.cpu().numpy()).any()
    # Integer tensors take beta/alpha truncated toward zero.
    c = np.full((2, 2), 5.0)
    for beta, alpha in [(0.5, 1), (1, 0.5), (2.7, 1.5)]:
        check(lambda m, i, x, y: m.addmm(i, x, y, beta=beta, alpha=alpha), [c, a, b], "int64",
              np_fn=lambda i, x, y: int(beta) * i + int(alpha) * (x @ y))


def test_scalar_tensor_alpha_and_out_and_inplace():
    i, a, b = rand((3, 5)), rand((3, 4)), rand((4, 5))
    got = rgrad.addmm(rg(i), rg(a), rg(b), beta=rgrad.tensor(0.5), alpha=rgrad.tensor(2.0))
    assert_matches(got, (0.5 * i + 2 * (a @ b)).astype(np.float32))
    out = rgrad.empty(3, 5)
    r = rgrad.matmul(rg(a), rg(b), out=out)
    assert r is out
    assert_matches(out, (a @ b).astype(np.float32))
    t = rg(i)
    r = t.addmm_(rg(a), rg(b), beta=2, alpha=-1)
    assert r is t
    assert_matches(t, (2 * i - (a @ b)).astype(np.float32))
    v = rg(i[:, 0])
    v.addmv_(rg(a), rg(b[:, 0]))
    assert_matches(v, (i[:, 0] + a @ b[:, 0]).astype(np.float32))
    bt = rg(np.stack([i, i]))
    bt.baddbmm_(rg(np.stack([a, a])), rg(np.stack([b, b])), alpha=2)
    assert_matches(bt, (np.stack([i, i]) + 2 * (a @ b)).astype(np.float32))
    s = rg(i)
    s.addbmm_(rg(np.stack([a, a])), rg(np.stack([b, b])))
    assert_matches(s, (i + 2 * (a @ b)).astype(np.float32))
    with pytest.raises(RuntimeError, match=r"Bad in-place call: input tensor size \[1, 5\] and output tensor size "
                                           r"\[3, 5\] should match"):
        rgrad.ones(1, 5).addmm_(rg(a), rg(b))


def test_outer_ger_inner_kron():
    check(lambda m, a, b: m.outer(a, b), [rand((3,)), rand((4,))], np_fn=np.outer)
    check(lambda m, a, b: m.ger(a, b), [rand((3,)), rand((4,))], np_fn=np.outer)
    check(lambda m, a, b: a.outer(b), [rand((3,)), rand((0,))], np_fn=np.outer)
    for sa, sb in [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,)), ((), (2, 3)), ((2, 3), ())]:
        check(lambda m, a, b: m.inner(a, b), [rand(sa), rand(sb)], np_fn=np.inner)
    for sa, sb in [((2, 3), (3, 2)), ((2, 3), (4,)), ((), (4,)), ((2, 1, 3), (4, 5)), ((0, 2), (3, 3))]:
        check(lambda m, a, b: m.kron(a, b), [rand(sa), rand(sb)], np_fn=np.kron)


@requires_torch
def test_outer_kron_inner_promote_like_mul():
    for fn in [lambda m, a, b: m.outer(a, b), lambda m, a, b: m.kron(a, b)]:
        for da, db in device_dtypes([("float32", "float64"), ("float32", "int64"), ("bool", "bool"), ("int8", "uint8")]):
            a, b = rand((3,), da), rand((2,), db, seed=1)
            assert_matches(fn(rgrad, rg(a, da), rg(b, db)), fn(torch, th(a, da), th(b, db)))
    assert_matches(rgrad.inner(rg(rand((2, 3)), "int32"), rg(rand(()), "float32")),
                   torch.inner(th(rand((2, 3)), "int32"), th(rand(()), "float32")))


@pytest.mark.parametrize("sa,sb,dims", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), 0), ((2, 3), (3, 5), 1), ((2, 3), (3, 2), ([0, 1], [1, 0])),
    ((2, 3), (3, 2), [[0], [1]]), ((4, 3, 2), (2, 3, 5), ([1, 2], [1, 0])), ((2, 3), (1, 5), ([1], [0])),
    ((2, 3, 4), (4, 3), ([-1, -2], [0, 1])),
])
def test_tensordot(sa, sb, dims):
    a, b = rand(sa), rand(sb, seed=1)
    np_dims = dims if isinstance(dims, int) else (list(dims[0]), list(dims[1]))
    if (sa, sb) == ((2, 3), (1, 5)):  # a size-1 contracted dim broadcasts (torch only)
        np_fn = lambda x, y: np.tensordot(x, np.broadcast_to(y, (3, 5)), np_dims)  # noqa: E731
    else:
        np_fn = lambda x, y: np.tensordot(x, y, np_dims)  # noqa: E731
    check(lambda m, x, y: m.tensordot(x, y, dims=dims), [a, b], np_fn=np_fn)
    got = rgrad.tensordot(rg(a), rg(b), dims=rgrad.tensor(dims) if isinstance(dims, int) else dims)
    assert tuple(got.shape) == np_fn(a, b).shape


# ----- einsum ------------------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]),
    ("i,i->", [(4,), (4,)]), ("i,j->ij", [(2,), (3,)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("i,i,i->", [(3,), (3,), (3,)]),
    ("...ij,...jk", [(2, 3), (3, 5)]), ("...ij,...jk->...ik", [(4, 2, 3), (1, 3, 5)]), ("i...->", [(2, 3)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]), ("...", [(3, 2)]), ("ijj->ij", [(2, 3, 3)]), ("iji->j", [(2, 3, 2)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]), ("ab,cd->", [(2, 3), (4, 5)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ij,ij->ij", [(2, 3), (1, 3)]), ("bij,bjk->bik", [(2, 2, 3), (1, 3, 4)]), ("ij,j", [(2, 3), (1,)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]), ("", [()]), ("->", [()]), ("ij,->ij", [(2, 3), ()]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ijk,ikj->", [(2, 3, 3), (2, 3, 3)]),
    ("ab...,...c->", [(2, 3), (3, 4)]), ("i,ij->j", [(0,), (0, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_equations(eq, shapes):
    arrays = [rand(s, seed=i) for i, s in enumerate(shapes)]
    try:  # numpy is an oracle where it accepts the equation (it does not broadcast named dims)
        np.einsum(eq, *arrays)
        np_fn = lambda *xs: np.einsum(eq, *xs)  # noqa: E731
    except ValueError:
        np_fn = None
    check(lambda m, *xs: m.einsum(eq, *xs), arrays, np_fn=np_fn)
    check(lambda m, *xs: m.einsum(eq, *xs), arrays, "float64", np_fn=np_fn)


@requires_torch
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16", "bfloat16", "uint8"])
@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij->i", [(2, 3)]), ("ij->", [(2, 3)]),
                                       ("ii->i", [(3, 3)]), ("i,j->ij", [(2,), (3,)]), ("i,i->", [(3,), (3,)])])
def test_einsum_dtypes_like_torch(eq, shapes, dtype):
    arrays = [rand(s, dtype, seed=i) for i, s in enumerate(shapes)]
    fn = lambda m, *xs: m.einsum(eq, *xs)  # noqa: E731
    try:
        want = fn(torch, *[th(a, dtype) for a in arrays])
    except Exception as e:
        with pytest.raises(type(e)) as got:
            fn(rgrad, *[rg(a, dtype) for a in arrays])
        assert str(got.value) == str(e)
        return
    tol = FLOAT_TOL.get(dtype, 0)
    assert_matches(fn(rgrad, *[rg(a, dtype) for a in arrays]), want, rtol=tol, atol=tol)


def test_einsum_list_and_sublist_forms():
    a, b = rand((2, 3)), rand((3, 4), seed=1)
    want = f32_on_gpu(a @ b)
    assert_matches(rgrad.einsum("ij,jk", [rg(a, WIDE_FLOAT), rg(b, WIDE_FLOAT)]), want)
    assert_matches(rgrad.einsum(rg(a, WIDE_FLOAT), [0, 1], rg(b, WIDE_FLOAT), [1, 2], [0, 2]), want)
    assert_matches(rgrad.einsum(rg(a, WIDE_FLOAT), [Ellipsis, 1], rg(b, WIDE_FLOAT), [1, 2]), want)


@requires_torch
@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (4, 5)]), ("ij,jk", [(2, 3)]), ("ijk,jk", [(2, 3), (3, 5)]), ("ij,jk->il", [(2, 3), (3, 5)]),
    ("ij,jk->ii", [(2, 3), (3, 5)]), ("i1", [(2, 3)]), ("ii", [(2, 3)]), ("i->", [(2, 3)]), ("i..j", [(2, 3)]),
    ("ij", [(2, 3), (2, 3)]), ("ij->i->", [(2, 3)]), ("ij->i.j", [(2, 3)]), ("ij->jj", [(2, 3)]),
    ("...a,...a->...", [(2, 3), (4, 3)]), ("ij,ij->ij", [(2, 3), (2, 4)]), ("ii->i", [(2, 3)]),
    ("ij...k", [(2,)]),
])
def test_einsum_errors_match_torch(eq, shapes):
    same_error(lambda m, *xs: m.einsum(eq, *xs), *[rand(s) for s in shapes])


@requires_torch
def test_einsum_dtype_mismatch_like_torch():
    same_error(lambda m, a, b: m.einsum("ij,jk->ik", a, b), rand((2, 3)), rand((3, 4)), dtypes=["float32", "int64"])


@requires_torch
@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_einsum_float64_mismatch_like_torch():
    same_error(lambda m, a, b: m.einsum("ij,jk->ik", a, b), rand((2, 3)), rand((3, 4)), dtypes=["float32", "float64"])
    a, b = rand((2, 3)), rand((2, 3))
    assert_matches(rgrad.einsum("ij,ij->ij", rg(a), rg(b, "float64")), torch.einsum("ij,ij->ij", th(a), th(b, "float64")))


# ----- torch's errors ----------------------------------------------------------------------

ERRORS = [
    (lambda m, a, b: m.mm(a, b), [(2, 3), (4, 5)]), (lambda m, a, b: m.mm(a, b), [(3,), (3, 5)]),
    (lambda m, a, b: m.mm(a, b), [(2, 3), (3,)]), (lambda m, a, b: m.mm(a, b), [(2, 3, 1), (3, 3)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 4, 5)]), (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (3, 3, 5)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 3), (3, 5)]), (lambda m, a, b: m.bmm(a, b), [(2, 2, 3), (2, 3)]),
    (lambda m, a, b: m.mv(a, b), [(2, 3), (4,)]), (lambda m, a, b: m.mv(a, b), [(3,), (3,)]),
    (lambda m, a, b: m.mv(a, b), [(2, 3), (3, 1)]), (lambda m, a, b: m.dot(a, b), [(3,), (4,)]),
    (lambda m, a, b: m.dot(a, b), [(3, 1), (3,)]), (lambda m, a, b: m.vdot(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.outer(a, b), [(3,), (2, 4)]), (lambda m, a, b: m.ger(a, b), [(2, 3), (4,)]),
    (lambda m, a, b: m.inner(a, b), [(2, 3), (4,)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(2, 5), (2, 3), (4, 5)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(3, 5), (2, 3), (3, 5)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(2, 3, 5), (2, 3), (3, 5)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(3,), (2, 3), (3, 5)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(2, 5), (3,), (3, 5)]),
    (lambda m, i, a, b: m.addmv(i, a, b), [(3,), (2, 3), (3,)]),
    (lambda m, i, a, b: m.addmv(i, a, b), [(2,), (2, 3), (4,)]),
    (lambda m, i, a, b: m.addmv(i, a, b), [(2, 2), (2, 3), (3,)]),
    (lambda m, i, a, b: m.addbmm(i, a, b), [(2, 5), (2, 2, 3), (2, 4, 5)]),
    (lambda m, i, a, b: m.addbmm(i, a, b), [(2, 5), (2, 2, 3), (3, 3, 5)]),
    (lambda m, i, a, b: m.addbmm(i, a, b), [(3, 5), (2, 2, 3), (2, 3, 5)]),
    (lambda m, i, a, b: m.baddbmm(i, a, b), [(2, 2, 5), (2, 2, 3), (2, 4, 5)]),
    (lambda m, i, a, b: m.baddbmm(i, a, b), [(3, 2, 5), (2, 2, 3), (2, 3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=1), [(2, 3), (4, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=3), [(2, 3), (3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=-1), [(2, 3), (3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=([1], [0, 1])), [(2, 3), (3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=([1], [1])), [(2, 3), (3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=1.5), [(2, 3), (3, 5)]),
    (lambda m, a, b: m.tensordot(a, b, dims=(1, 0)), [(2, 3), (3, 5)]),
]


@requires_torch
@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_shape_errors_match_torch(k):
    fn, shapes = ERRORS[k]
    same_error(fn, *[rand(s) for s in shapes])


DTYPE_ERRORS = [
    (lambda m, a, b: m.mm(a, b), [(2, 2), (2, 2)]), (lambda m, a, b: m.matmul(a, b), [(2, 2), (2, 2)]),
    (lambda m, a, b: m.matmul(a, b), [(3,), (3,)]), (lambda m, a, b: m.matmul(a, b), [(2, 3), (3,)]),
    (lambda m, a, b: m.matmul(a, b), [(3,), (3, 2)]), (lambda m, a, b: m.matmul(a, b), [(2, 2, 2), (2, 2, 2)]),
    (lambda m, a, b: m.matmul(a, b), [(2, 2, 2), (2, 2)]), (lambda m, a, b: m.bmm(a, b), [(1, 2, 2), (1, 2, 2)]),
    (lambda m, a, b: m.mv(a, b), [(2, 2), (2,)]), (lambda m, a, b: m.dot(a, b), [(2,), (2,)]),
    (lambda m, a, b: m.inner(a, b), [(2, 3), (3,)]), (lambda m, a, b: m.tensordot(a, b, dims=1), [(2, 3), (3, 2)]),
    (lambda m, i, a, b: m.addmm(i, a, b), [(2, 2), (2, 2), (2, 2)]),
    (lambda m, i, a, b: m.addmv(i, a, b), [(2,), (2, 2), (2,)]),
    (lambda m, i, a, b: m.baddbmm(i, a, b), [(1, 2, 2), (1, 2, 2), (1, 2, 2)]),
    (lambda m, i, a, b: m.addbmm(i, a, b), [(2, 2), (1, 2, 2), (1, 2, 2)]),
]


@requires_torch
@pytest.mark.parametrize("k", range(len(DTYPE_ERRORS)))
@pytest.mark.parametrize("other", ["float64", "int64", "bool", "float16", "uint8"])
def test_mixed_dtype_errors_match_torch(k, other):
    fn, shapes = DTYPE_ERRORS[k]
    n = len(shapes)
    for pos in range(n):  # the odd dtype in each position in turn
        dtypes = ["float32"] * n
        dtypes[pos] = other
        same_error(fn, *[rand(s) for s in shapes], dtypes=dtypes)


@requires_torch
def test_argument_type_errors_match_torch():
    for fn in [lambda m: m.mm(m.ones(2, 3), 2), lambda m: m.matmul(m.ones(2, 3), [1, 2, 3]),
               lambda m: m.dot([1.0], m.ones(1)), lambda m: m.addmm(2, m.ones(2, 2), m.ones(2, 2))]:
        with pytest.raises(TypeError) as got:
            fn(rgrad)
        with pytest.raises(TypeError) as want:
            fn(torch)
        assert str(got.value) == str(want.value)
