"""rgrad.linalg and torch's top-level linear-algebra names against numpy.linalg and torch.

Where a result is unique (inverses, determinants, solutions, singular values, eigenvalues,
Cholesky factors) it is compared directly. Singular vectors, eigenvectors and QR factors are
unique only up to the sign of each column, so those are checked through invariants
(reconstruction, orthogonality) and compared to the oracle up to sign.

Under the GPU pass the inputs live on the GPU (float64 cases are skipped: the GPU refuses
float64); tests written with float64 data for exact or tight values run with float32 data on
both sides (rgrad and torch, helpers.from_np), and compare with float32 tolerances."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rgrad
from helpers import ON_GPU, WIDE_FLOAT, assert_matches, device_dtypes, from_np, requires_torch, to_np, torch

FLOATS = ["float32", "float64"]
TOL = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-9)}


def rng(seed=0):
    return np.random.default_rng(seed)


def well_conditioned(shape, dtype="float64", seed=0):
    """Random matrices with singular values in [1, 3] (batched over leading dims)."""
    r = rng(seed)
    *batch, m, n = shape
    k = min(m, n)
    u = np.linalg.qr(r.standard_normal((*batch, m, m)))[0]
    v = np.linalg.qr(r.standard_normal((*batch, n, n)))[0]
    s = r.uniform(1.0, 3.0, (*batch, k))
    a = (u[..., :, :k] * s[..., None, :]) @ v[..., :k, :]
    return a.astype(dtype)


def spd(shape, dtype="float64", seed=0):
    a = well_conditioned(shape, "float64", seed)
    return (a @ np.swapaxes(a, -1, -2) + np.eye(shape[-1])).astype(dtype)


def sym(shape, dtype="float64", seed=0):
    a = rng(seed).standard_normal(shape)
    return ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype)


def as_rgrad(a, layout="contiguous"):
    """The array as an rgrad tensor: contiguous, transposed (a view of the transpose of a
    copy), or strided (every other row and column of a larger tensor)."""
    if layout == "contiguous":
        return rgrad.tensor(a)
    if layout == "transposed":
        return rgrad.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2))).mT
    big = np.zeros(a.shape[:-2] + (2 * a.shape[-2], 2 * a.shape[-1]), a.dtype)
    big[..., ::2, ::2] = a
    return rgrad.tensor(big)[..., ::2, ::2]


LAYOUTS = ["contiguous", "transposed", "strided"]


def np_of(t):
    return to_np(t)


def R(a):
    """Test data as an rgrad tensor on the default device (float64 as float32 under the GPU pass)."""
    return from_np(rgrad, a)


def same_error(f_rgrad, f_torch):
    """Both raise; same exception class (LinAlgError <-> torch's _LinAlgError) and message."""
    with pytest.raises(Exception) as want:
        f_torch()
    with pytest.raises(Exception) as got:
        f_rgrad()
    want_t = "LinAlgError" if "LinAlgError" in type(want.value).__name__ else type(want.value).__name__
    got_t = "LinAlgError" if "LinAlgError" in type(got.value).__name__ else type(got.value).__name__
    assert got_t == want_t, (got.value, want.value)
    assert str(got.value) == str(want.value)
    return got.value


def T(a):
    """The torch oracle's copy of test data (float32 where R makes float32, under the GPU pass)."""
    return from_np(torch, a)


# ----- inv / det / slogdet -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (2, 4, 4), (2, 1, 5, 5), (0, 3, 3), (2, 0, 0)])
def test_inv_det_slogdet(dtype, layout, shape):
    a = well_conditioned(shape, dtype)
    x = as_rgrad(a, layout)
    assert_matches(rgrad.linalg.inv(x), np.linalg.inv(a), **TOL[dtype])
    assert_matches(rgrad.inverse(x), np.linalg.inv(a), **TOL[dtype])
    assert_matches(x.inverse(), np.linalg.inv(a), **TOL[dtype])
    assert_matches(rgrad.linalg.det(x), np.linalg.det(a).astype(dtype), **TOL[dtype])
    assert_matches(x.det(), np.linalg.det(a).astype(dtype), **TOL[dtype])
    sign, logabs = np.linalg.slogdet(a)
    r = rgrad.linalg.slogdet(x)
    assert type(r).__name__ == "linalg_slogdet" and r._fields == ("sign", "logabsdet")
    assert_matches(r.sign, sign.astype(dtype))
    assert_matches(r.logabsdet, logabs.astype(dtype), **TOL[dtype])
    s2 = rgrad.slogdet(x)
    assert type(s2).__name__ == "slogdet"
    assert_matches(s2[1], logabs.astype(dtype), **TOL[dtype])


@requires_torch
def test_det_special_values_match_torch():
    for a in ([[0.0, 1.0], [1.0, 0.0]], [[1.0, 2.0], [2.0, 4.0]], np.zeros((3, 3)), np.zeros((0, 0)),
              [[float("nan"), 1.0], [1.0, 1.0]], [[-2.0, 0.0], [0.0, 1.0]]):
        a = np.asarray(a, dtype="float64")
        assert_matches(rgrad.linalg.det(R(a)), torch.linalg.det(T(a)))
        s, l = rgrad.linalg.slogdet(R(a))
        ts, tl = torch.linalg.slogdet(T(a))
        assert_matches(s, ts)
        assert_matches(l, tl)
        assert_matches(rgrad.logdet(R(a)), torch.logdet(T(a)))
        assert_matches(R(a).logdet(), torch.logdet(T(a)))


@requires_torch
def test_inv_singular_errors_match_torch():
    cases = [np.zeros((3, 3)), np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((1, 2, 2)),
             np.stack([np.eye(3), np.diag([1.0, 1.0, 0.0])])]
    for a in cases:
        e = same_error(lambda: rgrad.linalg.inv(R(a)), lambda: torch.linalg.inv(T(a)))
        assert isinstance(e, rgrad.linalg.LinAlgError) and isinstance(e, RuntimeError)
        same_error(lambda: rgrad.inverse(R(a)), lambda: torch.inverse(T(a)))
        inv, info = rgrad.linalg.inv_ex(R(a))
        assert_matches(info, torch.linalg.inv_ex(T(a)).info)
    r = rgrad.linalg.inv_ex(R(np.eye(2)))
    assert r._fields == ("inverse", "info")
    assert_matches(r.info, torch.linalg.inv_ex(torch.eye(2)).info)
    with pytest.raises(rgrad.linalg.LinAlgError):
        rgrad.linalg.inv_ex(R(np.zeros((2, 2))), check_errors=True)


ERROR_INPUTS = {
    "long": lambda lib: lib.ones(2, 2, dtype=lib.int64),
    "bool": lambda lib: lib.ones(2, 2, dtype=lib.bool),
    "half": lambda lib: lib.ones(2, 2, dtype=lib.float16),
    "bf16": lambda lib: lib.ones(2, 2, dtype=lib.bfloat16),
    "1d": lambda lib: lib.ones(3),
    "1d_long": lambda lib: lib.ones(3, dtype=lib.int64),
    "2x3": lambda lib: lib.ones(2, 3),
    "2x3_long": lambda lib: lib.ones(2, 3, dtype=lib.int64),
}
ERROR_OPS = {
    "inv": lambda lib, x: lib.linalg.inv(x),
    "inv_ex": lambda lib, x: lib.linalg.inv_ex(x),
    "det": lambda lib, x: lib.linalg.det(x),
    "slogdet": lambda lib, x: lib.linalg.slogdet(x),
    "logdet": lambda lib, x: lib.logdet(x),
    "tdet": lambda lib, x: lib.det(x),
    "cholesky": lambda lib, x: lib.linalg.cholesky(x),
    "cholesky_ex": lambda lib, x: lib.linalg.cholesky_ex(x),
    "qr": lambda lib, x: lib.linalg.qr(x),
    "svd": lambda lib, x: lib.linalg.svd(x),
    "tsvd": lambda lib, x: lib.svd(x),
    "svdvals": lambda lib, x: lib.linalg.svdvals(x),
    "eigh": lambda lib, x: lib.linalg.eigh(x),
    "eigvalsh": lambda lib, x: lib.linalg.eigvalsh(x),
    "pinv": lambda lib, x: lib.linalg.pinv(x),
    "pinverse": lambda lib, x: lib.pinverse(x, rcond=1e-5),
    "matrix_rank": lambda lib, x: lib.linalg.matrix_rank(x),
    "matrix_power": lambda lib, x: lib.linalg.matrix_power(x, 2),
    "matrix_power_neg": lambda lib, x: lib.linalg.matrix_power(x, -1),
}


@requires_torch
@pytest.mark.parametrize("op", list(ERROR_OPS))
@pytest.mark.parametrize("inp", list(ERROR_INPUTS))
def test_argument_errors_match_torch(op, inp):
    f, make = ERROR_OPS[op], ERROR_INPUTS[inp]
    try:
        want = f(torch, make(torch))
    except Exception:
        same_error(lambda: f(rgrad, make(rgrad)), lambda: f(torch, make(torch)))
        return
    got = f(rgrad, make(rgrad))
    if isinstance(want, torch.Tensor):
        assert_matches(got, want, rtol=1e-3, atol=1e-3)


# ----- solve ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ashape,bshape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 4, 4), (2, 4)),
                                           ((2, 1, 3, 3), (4, 3, 2)), ((3, 3), (2, 3, 1)), ((0, 3, 3), (0, 3)),
                                           ((2, 3, 3), (3,)), ((3, 3), (3, 0))])
def test_solve(dtype, layout, ashape, bshape):
    a = well_conditioned(ashape, dtype)
    b = rng(1).standard_normal(bshape).astype(dtype)
    x = rgrad.linalg.solve(as_rgrad(a, layout), rgrad.tensor(b))
    vector = len(bshape) == 1 or (len(bshape) == len(ashape) - 1 and bshape == ashape[:-1])
    want = np.linalg.solve(a, b[..., None])[..., 0] if vector else np.linalg.solve(a, b)
    assert_matches(x, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_solve_right(dtype):
    a = well_conditioned((2, 3, 3), dtype)
    b = rng(2).standard_normal((2, 4, 3)).astype(dtype)
    x = rgrad.linalg.solve(as_rgrad(a, "transposed"), rgrad.tensor(b), left=False)
    assert_matches(x, np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2),
                   **TOL[dtype])


@requires_torch
def test_solve_errors_match_torch():
    cases = [
        (np.ones((3, 3)), np.ones(4), {}),
        (np.eye(2), np.ones(2), {"left": False}),
        (np.eye(2), np.ones((3, 3)), {"left": False}),
        (np.eye(3), np.ones((2, 3)), {}),
        (np.ones(2), np.ones(2), {}),
        (np.ones((2, 3)), np.ones(2), {}),
        (np.zeros((3, 3)), np.ones(3), {}),
        (np.zeros((2, 3, 3)), np.ones((2, 3, 1)), {}),
        (np.stack([np.eye(3), np.zeros((3, 3))]), np.ones((2, 3, 1)), {}),
    ]
    for a, b, kw in cases:
        same_error(lambda: rgrad.linalg.solve(R(a), R(b), **kw),
                   lambda: torch.linalg.solve(T(a), T(b), **kw))
    # B of another float dtype than A's float32 (float16 under the GPU pass, which has no float64)
    other = "float16" if ON_GPU else "float64"
    same_error(lambda: rgrad.linalg.solve(rgrad.eye(2), rgrad.ones(2, dtype=getattr(rgrad, other))),
               lambda: torch.linalg.solve(torch.eye(2), torch.ones(2, dtype=getattr(torch, other))))
    same_error(lambda: rgrad.linalg.solve(rgrad.eye(2), rgrad.tensor(1.0)),
               lambda: torch.linalg.solve(torch.eye(2), torch.tensor(1.0)))
    r = rgrad.linalg.solve_ex(R(np.zeros((2, 3, 3))), R(np.ones((2, 3))))
    assert r._fields == ("result", "info")
    assert_matches(r.info, torch.linalg.solve_ex(T(np.zeros((2, 3, 3))), T(np.ones((2, 3)))).info)


# ----- cholesky ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 3), (0, 2, 2), (0, 0)])
def test_cholesky(dtype, layout, shape):
    a = spd(shape, dtype)
    x = as_rgrad(a, layout)
    want = np.linalg.cholesky(a) if a.size else a
    assert_matches(rgrad.linalg.cholesky(x), want, **TOL[dtype])
    assert_matches(rgrad.linalg.cholesky(x, upper=True), np.swapaxes(want, -1, -2), **TOL[dtype])
    r = rgrad.linalg.cholesky_ex(x)
    assert r._fields == ("L", "info")
    assert_matches(r.L, want, **TOL[dtype])
    assert_matches(r.info, np.zeros(shape[:-2], np.int32))


@requires_torch
def test_cholesky_reads_one_triangle_like_torch():
    a = np.array([[4.0, 100.0], [2.0, 5.0]])
    assert_matches(rgrad.linalg.cholesky(R(a)), torch.linalg.cholesky(T(a)))
    same_error(lambda: rgrad.linalg.cholesky(R(a), upper=True),
               lambda: torch.linalg.cholesky(T(a), upper=True))
    b = np.array([[4.0, 2.0], [-100.0, 5.0]])
    assert_matches(rgrad.linalg.cholesky(R(b), upper=True), torch.linalg.cholesky(T(b), upper=True))


@requires_torch
def test_cholesky_errors_match_torch():
    for a in (np.array([[1.0, 2.0], [2.0, 1.0]]), -np.eye(3)[None].repeat(2, 0), np.full((3, 3), np.nan),
              np.stack([np.eye(3), np.diag([1.0, 1.0, -1.0])])):
        same_error(lambda: rgrad.linalg.cholesky(R(a)), lambda: torch.linalg.cholesky(T(a)))
        assert_matches(rgrad.linalg.cholesky_ex(R(a)).info, torch.linalg.cholesky_ex(T(a)).info)


@requires_torch
def test_ex_info_is_on_the_input_device():
    a = R(np.stack([np.eye(3), np.zeros((3, 3))]))
    ta = T(np.stack([np.eye(3), np.zeros((3, 3))]))
    infos = {"inv_ex": (rgrad.linalg.inv_ex(a).info, torch.linalg.inv_ex(ta).info),
             "cholesky_ex": (rgrad.linalg.cholesky_ex(a).info, torch.linalg.cholesky_ex(ta).info),
             "solve_ex": (rgrad.linalg.solve_ex(a, R(np.ones((2, 3)))).info,
                          torch.linalg.solve_ex(ta, T(np.ones((2, 3)))).info)}
    assert {k: got.device for k, (got, _) in infos.items()} == dict.fromkeys(infos, a.device)
    for got, want in infos.values():
        assert_matches(got, want)


# ----- qr ------------------------------------------------------------------------------------

def _check_orthonormal_cols(q, tol):
    k = q.shape[-1]
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)), **tol)


@requires_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 5, 2), (0, 3, 2), (3, 0), (0, 3)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(dtype, layout, shape, mode):
    a = well_conditioned(shape, dtype) if 0 not in shape else np.zeros(shape, dtype)
    q, r = rgrad.linalg.qr(as_rgrad(a, layout), mode=mode)
    tq, tr = torch.linalg.qr(T(a), mode=mode)
    assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)
    assert q.dtype.name == dtype and r.dtype.name == dtype
    rn = np_of(r)
    np.testing.assert_array_equal(np.tril(rn, -1), 0)
    # R is unique up to the sign of each row for full-rank A.
    np.testing.assert_allclose(np.abs(rn), np.abs(tr.numpy()), **TOL[dtype])
    if mode != "r":
        qn = np_of(q)
        _check_orthonormal_cols(qn, TOL[dtype])
        np.testing.assert_allclose(qn @ rn, a, **TOL[dtype])


@requires_torch
def test_qr_errors_and_names():
    same_error(lambda: rgrad.linalg.qr(rgrad.eye(2), mode="R"), lambda: torch.linalg.qr(torch.eye(2), mode="R"))
    assert rgrad.linalg.qr(rgrad.eye(2))._fields == ("Q", "R")
    same_error(lambda: rgrad.qr(rgrad.eye(2)), lambda: torch.qr(torch.eye(2)))
    same_error(lambda: rgrad.eye(2).qr(some=False), lambda: torch.eye(2).qr(some=False))
    same_error(lambda: rgrad.cholesky(rgrad.eye(2)), lambda: torch.cholesky(torch.eye(2)))
    same_error(lambda: rgrad.eye(2).cholesky(), lambda: torch.eye(2).cholesky())


# ----- svd -----------------------------------------------------------------------------------

def _check_svd(a, u, s, vh, tol):
    k = s.shape[-1]
    np.testing.assert_allclose((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, **tol)
    _check_orthonormal_cols(u, tol)
    _check_orthonormal_cols(np.swapaxes(vh, -1, -2), tol)


@requires_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 6, 2), (0, 3, 3), (0, 3), (3, 0), (1, 1)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(dtype, layout, shape, full):
    a = well_conditioned(shape, dtype) if 0 not in shape else np.zeros(shape, dtype)
    r = rgrad.linalg.svd(as_rgrad(a, layout), full_matrices=full)
    assert type(r).__name__ == "linalg_svd" and r._fields == ("U", "S", "Vh")
    t = torch.linalg.svd(T(a), full_matrices=full)
    for got, want in zip(r, t):
        assert tuple(got.shape) == tuple(want.shape) and got.dtype.name == dtype
    assert_matches(r.S, t.S, **TOL[dtype])
    _check_svd(a, np_of(r.U), np_of(r.S), np_of(r.Vh), TOL[dtype])
    # Distinct singular values: vectors agree with torch's up to sign.
    k = min(shape[-2:])
    np.testing.assert_allclose(np.abs(np_of(r.U)[..., :k]), np.abs(t.U.numpy()[..., :k]), **TOL[dtype])
    assert_matches(rgrad.linalg.svdvals(as_rgrad(a, layout)), torch.linalg.svdvals(T(a)), **TOL[dtype])


@requires_torch
@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_returns_v(some):
    a = well_conditioned((2, 5, 3), WIDE_FLOAT)
    u, s, v = rgrad.svd(R(a), some=some)
    tu, ts, tv = torch.svd(T(a), some=some)
    assert tuple(u.shape) == tuple(tu.shape) and tuple(v.shape) == tuple(tv.shape)
    _check_svd(a, np_of(u), np_of(s), np.swapaxes(np_of(v), -1, -2), TOL[WIDE_FLOAT])
    r = R(a).svd(compute_uv=False)
    assert type(r).__name__ == "svd" and r._fields == ("U", "S", "V")
    t = torch.svd(T(a), compute_uv=False)
    for got, want in zip(r, t):
        assert_matches(got, want)
    same_error(lambda: rgrad.svd(rgrad.ones(3)), lambda: torch.svd(torch.ones(3)))


@requires_torch
def test_svd_errors_match_torch():
    nan = np.full((3, 3), np.nan)
    same_error(lambda: rgrad.linalg.svd(R(nan)), lambda: torch.linalg.svd(T(nan)))
    same_error(lambda: rgrad.linalg.svdvals(R(nan)), lambda: torch.linalg.svdvals(T(nan)))
    same_error(lambda: rgrad.linalg.pinv(R(nan)), lambda: torch.linalg.pinv(T(nan)))
    same_error(lambda: rgrad.linalg.svd(rgrad.eye(2), driver="gesvd"),
               lambda: torch.linalg.svd(torch.eye(2), driver="gesvd"))


# ----- eigh ----------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (2, 3, 3), (0, 2, 2), (0, 0)])
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh(dtype, layout, shape, uplo):
    s = sym(shape, dtype)
    # Garbage in the triangle that is not read.
    a = s + (np.triu(np.ones(shape), 1) if uplo == "L" else np.tril(np.ones(shape), -1)).astype(dtype) * 7
    x = as_rgrad(a, layout)
    w, v = rgrad.linalg.eigh(x, UPLO=uplo)
    tw, tv = torch.linalg.eigh(T(a), UPLO=uplo)
    assert_matches(w, tw, **TOL[dtype])
    assert_matches(rgrad.linalg.eigvalsh(x, UPLO=uplo), tw, **TOL[dtype])
    vn = np_of(v)
    np.testing.assert_allclose(s @ vn, vn * np_of(w)[..., None, :], **TOL[dtype])
    _check_orthonormal_cols(vn, TOL[dtype])
    np.testing.assert_allclose(np.abs(vn), np.abs(tv.numpy()), **TOL[dtype])
    assert rgrad.linalg.eigh(x)._fields == ("eigenvalues", "eigenvectors")


@requires_torch
def test_eigh_errors_match_torch():
    same_error(lambda: rgrad.linalg.eigh(rgrad.eye(2), UPLO="X"), lambda: torch.linalg.eigh(torch.eye(2), UPLO="X"))
    assert_matches(rgrad.linalg.eigvalsh(rgrad.eye(2), UPLO="l"), torch.linalg.eigvalsh(torch.eye(2), UPLO="l"))
    with pytest.raises(rgrad.linalg.LinAlgError, match="linalg.eigh: The algorithm failed to converge"):
        rgrad.linalg.eigh(rgrad.full((3, 3), float("nan")))


# ----- lstsq ---------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("ashape,bshape", [((5, 3), (5, 2)), ((3, 3), (3,)), ((2, 6, 4), (2, 6, 3)),
                                           ((2, 4, 3), (1, 4, 2)), ((2, 3, 3), (2, 3)), ((0, 4, 3), (0, 4, 2)),
                                           ((3, 5), (3, 2))])
def test_lstsq_full_rank(dtype, driver, ashape, bshape):
    if driver == "gels" and ashape[-2] < ashape[-1]:
        pytest.skip("LAPACK's gels solves the wide case with an LQ factorization; covered by gelsy")
    a = well_conditioned(ashape, dtype)
    b = rng(3).standard_normal(bshape).astype(dtype)
    r = rgrad.linalg.lstsq(as_rgrad(a, "transposed"), rgrad.tensor(b), driver=driver)
    t = torch.linalg.lstsq(T(a), T(b), driver=driver)
    assert type(r).__name__ == "linalg_lstsq"
    assert r._fields == ("solution", "residuals", "rank", "singular_values")
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-3, atol=1e-3)
    for got, want in zip(r, t):
        assert_matches(got, want, **tol)


@requires_torch
@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5)])
def test_lstsq_rank_deficient_gives_min_norm(driver, shape):
    r_ = rng(4)
    m, n = shape
    a = r_.standard_normal((m, 2)) @ r_.standard_normal((2, n))
    b = r_.standard_normal((m, 3))
    r = rgrad.linalg.lstsq(R(a), R(b), driver=driver)
    t = torch.linalg.lstsq(T(a), T(b), driver=driver)
    # float32 data under the GPU pass: its rounding (a few 1e-7 here) in place of float64's
    tol = dict(rtol=1e-8, atol=1e-8) if WIDE_FLOAT == "float64" else dict(rtol=1e-5, atol=1e-5)
    assert_matches(r.solution, (np.linalg.pinv(a) @ b).astype(WIDE_FLOAT), **tol)
    assert_matches(r.solution, t.solution, **tol)
    assert_matches(r.rank, t.rank)
    assert_matches(r.residuals, t.residuals)
    if driver != "gelsy":
        assert_matches(r.singular_values, t.singular_values, **tol)


@requires_torch
def test_lstsq_rcond_and_errors():
    a, b = well_conditioned((4, 3)), rng(5).standard_normal((4, 2))
    for rcond in (0.5, 0.9):
        for driver in ("gelsy", "gelsd"):
            r = rgrad.linalg.lstsq(R(a), R(b), rcond=rcond, driver=driver)
            t = torch.linalg.lstsq(T(a), T(b), rcond=rcond, driver=driver)
            assert_matches(r.rank, t.rank)
    cases = [
        (lambda L, x, y: L.linalg.lstsq(x, y, driver="gelsx"), np.ones((4, 3)), np.ones((4, 2))),
        (lambda L, x, y: L.linalg.lstsq(x, y), np.ones(3), np.ones(3)),
        # B of another float dtype than A's (float64 and float32 on the CPU; float32 and float16
        # under the GPU pass, which has no float64)
        (lambda L, x, y: L.linalg.lstsq(x, y.half() if ON_GPU else y.float()), np.ones((3, 3)), np.ones((3, 2))),
        (lambda L, x, y: L.linalg.lstsq(x.long(), y.long()), np.ones((3, 3)), np.ones((3, 2))),
        (lambda L, x, y: L.linalg.lstsq(x, y), np.ones((3, 3)), np.ones(2)),
        (lambda L, x, y: L.linalg.lstsq(x, y), np.ones((3, 3)), np.ones((4, 2))),
        (lambda L, x, y: L.linalg.lstsq(x, y), np.ones((3, 3)), np.ones((2, 3, 2))),
    ]
    for f, x, y in cases:
        same_error(lambda: f(rgrad, R(x), R(y)), lambda: f(torch, T(x), T(y)))


# ----- pinv / matrix_rank --------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (0, 2, 3), (3, 0)])
def test_pinv_and_rank(dtype, layout, shape):
    r_ = rng(6)
    *batch, m, n = shape
    a = (r_.standard_normal((*batch, m, 2)) @ r_.standard_normal((*batch, 2, n))).astype(dtype)  # rank <= 2
    x = as_rgrad(a, layout)
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-3, atol=1e-3)
    assert_matches(rgrad.linalg.pinv(x), torch.linalg.pinv(T(a)), **tol)
    # pinverse's default rcond (1e-15) keeps the noise singular values of a rank-2 matrix.
    assert_matches(rgrad.pinverse(x, rcond=1e-5), torch.pinverse(T(a), rcond=1e-5), **tol)
    assert_matches(x.pinverse(1e-5), torch.pinverse(T(a), 1e-5), **tol)
    assert_matches(rgrad.linalg.matrix_rank(x), torch.linalg.matrix_rank(T(a)))
    for kw in (dict(atol=0.5), dict(rtol=0.3), dict(atol=0.1, rtol=0.2), dict(tol=1.0)):
        assert_matches(rgrad.linalg.matrix_rank(x, **kw), torch.linalg.matrix_rank(T(a), **kw))
    if m == n:
        h = a + np.swapaxes(a, -1, -2)
        assert_matches(rgrad.linalg.pinv(as_rgrad(h, layout), hermitian=True),
                       torch.linalg.pinv(T(h), hermitian=True), **tol)
        assert_matches(rgrad.linalg.matrix_rank(as_rgrad(h, layout), hermitian=True),
                       torch.linalg.matrix_rank(T(h), hermitian=True))


@requires_torch
def test_pinv_tolerances_match_torch():
    a = np.diag([3.0, 1.0, 0.2, 1e-20])
    for kw in (dict(), dict(atol=0.5), dict(rtol=0.1), dict(atol=0.1, rtol=0.5), dict(rcond=0.5),
               dict(hermitian=True, atol=0.3), dict(atol=rgrad.tensor(0.5))):
        tkw = {k: (torch.tensor(0.5) if isinstance(v, rgrad.Tensor) else v) for k, v in kw.items()}
        assert_matches(rgrad.linalg.pinv(R(a), **kw), torch.linalg.pinv(T(a), **tkw))
    assert_matches(rgrad.pinverse(R(a), rcond=0.1), torch.pinverse(T(a), rcond=0.1))


# ----- matrix_power --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, -1, -3])
def test_matrix_power(dtype, layout, n):
    a = (well_conditioned((2, 3, 3), dtype) / 2).astype(dtype)
    x = as_rgrad(a, layout)
    want = np.linalg.matrix_power(a, n)
    assert_matches(rgrad.linalg.matrix_power(x, n), want, **TOL[dtype])
    assert_matches(rgrad.matrix_power(x, n), want, **TOL[dtype])
    assert_matches(x.matrix_power(n), want, **TOL[dtype])


@requires_torch
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "float16", "bfloat16"])
def test_matrix_power_other_dtypes_match_torch(dtype):
    a = rng(7).integers(-3, 4, (2, 3, 3))
    x = rgrad.tensor(a).to(getattr(rgrad, dtype))
    t = T(a).to(getattr(torch, dtype))
    for n in (0, 2, 5, 13):
        tol = dict(rtol=1e-2, atol=1e-2) if "float" in dtype else {}
        assert_matches(rgrad.linalg.matrix_power(x, n), torch.linalg.matrix_power(t, n), **tol)


@requires_torch
def test_matrix_power_errors():
    same_error(lambda: rgrad.linalg.matrix_power(rgrad.zeros(2, 2), -1),
               lambda: torch.linalg.matrix_power(torch.zeros(2, 2), -1))
    same_error(lambda: rgrad.linalg.matrix_power(rgrad.ones(2, 2), 2.0),
               lambda: torch.linalg.matrix_power(torch.ones(2, 2), 2.0))
    same_error(lambda: rgrad.linalg.matrix_power(rgrad.ones(2, 2, dtype=rgrad.bool), 2),
               lambda: torch.linalg.matrix_power(torch.ones(2, 2, dtype=torch.bool), 2))
    assert_matches(rgrad.linalg.matrix_power(rgrad.zeros(0, 3, 3), 2), torch.zeros(0, 3, 3))


# ----- cross ---------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "float16"])
@pytest.mark.parametrize("ashape,bshape,dim", [((3,), (3,), -1), ((4, 3), (4, 3), -1), ((2, 1, 3), (1, 4, 3), -1),
                                               ((3, 5), (3, 5), 0), ((2, 3, 2), (2, 3, 1), 1), ((0, 3), (0, 3), 1)])
def test_cross(dtype, ashape, bshape, dim):
    r_ = rng(8)
    a = r_.integers(-5, 6, ashape)
    b = r_.integers(-5, 6, bshape)
    x, y = rgrad.tensor(a).to(getattr(rgrad, dtype)), rgrad.tensor(b).to(getattr(rgrad, dtype))
    ta, tb = T(a).to(getattr(torch, dtype)), T(b).to(getattr(torch, dtype))
    assert_matches(rgrad.linalg.cross(x, y, dim=dim), torch.linalg.cross(ta, tb, dim=dim))
    assert_matches(rgrad.cross(x, y, dim=dim), torch.cross(ta, tb, dim=dim))
    assert_matches(x.cross(y, dim=dim), ta.cross(tb, dim=dim))
    xt = rgrad.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1))).to(getattr(rgrad, dtype))
    if xt.dim() > 1:
        xt = xt.transpose(0, -1)
        assert_matches(rgrad.linalg.cross(xt, y, dim=dim), torch.linalg.cross(ta, tb, dim=dim))


@requires_torch
def test_cross_default_dim_and_errors():
    a, b = rng(9).standard_normal((3, 3, 2)), rng(10).standard_normal((3, 3, 2))
    with pytest.warns(UserWarning, match="without specifying the dim"):
        got = rgrad.cross(R(a), R(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_matches(got, torch.cross(T(a), T(b)))
        same_error(lambda: rgrad.cross(rgrad.ones(2, 2), rgrad.ones(2, 2)), lambda: torch.cross(torch.ones(2, 2),
                                                                                                 torch.ones(2, 2)))
    cases = [
        lambda L: L.linalg.cross(L.ones(3, 2), L.ones(3, 2)),
        lambda L: L.linalg.cross(L.ones(3, 2), L.ones(3, 2), dim=1),
        lambda L: L.linalg.cross(L.ones(3), L.ones(2, 3)),
        lambda L: L.linalg.cross(L.ones(3), L.ones(3), dim=2),
        lambda L: L.linalg.cross(L.ones(3, dtype=L.int64), L.ones(3)),
        lambda L: L.linalg.cross(L.ones(3, dtype=L.bool), L.ones(3, dtype=L.bool)),
    ]
    for f in cases:
        same_error(lambda: f(rgrad), lambda: f(torch))


# ----- properties ----------------------------------------------------------------------------

shapes = st.tuples(st.lists(st.integers(0, 3), max_size=2), st.integers(1, 6))


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(device_dtypes(FLOATS)), st.sampled_from(LAYOUTS), st.integers(0, 2**16))
def test_square_invariants(shape, dtype, layout, seed):
    batch, n = shape
    a = well_conditioned((*batch, n, n), dtype, seed)
    x = as_rgrad(a, layout)
    tol = TOL[dtype]
    eye = np.broadcast_to(np.eye(n), a.shape)
    np.testing.assert_allclose(np_of(rgrad.linalg.inv(x)) @ a, eye, **tol)
    np.testing.assert_allclose(np_of(rgrad.linalg.det(x)), np.linalg.det(a), **tol)
    b = rng(seed + 1).standard_normal((*batch, n, 2)).astype(dtype)
    np.testing.assert_allclose(a @ np_of(rgrad.linalg.solve(x, R(b))), b, rtol=tol["rtol"] * 10,
                               atol=tol["atol"] * 10)
    h = a @ np.swapaxes(a, -1, -2)
    w, v = rgrad.linalg.eigh(as_rgrad(h, layout))
    np.testing.assert_allclose(np_of(w), np.linalg.eigvalsh(h), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    l = np_of(rgrad.linalg.cholesky(as_rgrad(h, layout)))
    np.testing.assert_allclose(l @ np.swapaxes(l, -1, -2), h, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=2), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from(device_dtypes(FLOATS)), st.sampled_from(LAYOUTS), st.integers(0, 2**16))
def test_rectangular_invariants(batch, m, n, dtype, layout, seed):
    a = well_conditioned((*batch, m, n), dtype, seed)
    x = as_rgrad(a, layout)
    tol = TOL[dtype]
    u, s, vh = (np_of(t) for t in rgrad.linalg.svd(x, full_matrices=False))
    _check_svd(a, u, s, vh, tol)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), **tol)
    q, r = (np_of(t) for t in rgrad.linalg.qr(x))
    np.testing.assert_allclose(q @ r, a, **tol)
    p = np_of(rgrad.linalg.pinv(x))
    np.testing.assert_allclose(p, np.linalg.pinv(a), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    assert (np_of(rgrad.linalg.matrix_rank(x)) == min(m, n)).all()
    b = rng(seed + 2).standard_normal((*batch, m, 2)).astype(dtype)
    sol = np_of(rgrad.linalg.lstsq(x, R(b)).solution)
    np.testing.assert_allclose(sol, np.linalg.pinv(a) @ b, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


def test_large_batch_runs_in_parallel_and_matches():
    dtype = WIDE_FLOAT
    # float32 under the GPU pass: its rounding in the 120x120 SVD reaches a few 1e-5
    tol, det_rtol, sv_tol = (1e-9, 1e-8, 1e-9) if dtype == "float64" else (1e-5, 1e-5, 1e-4)
    a = well_conditioned((300, 8, 8), dtype, 11)
    assert_matches(rgrad.linalg.inv(R(a)), np.linalg.inv(a.astype("float64")).astype(dtype), rtol=tol, atol=tol)
    big = well_conditioned((120, 120), dtype, 12)
    want = big.astype("float64")
    assert_matches(rgrad.linalg.det(R(big)), np.linalg.det(want).astype(dtype), rtol=det_rtol, atol=0)
    np.testing.assert_allclose(np_of(rgrad.linalg.svdvals(R(big))), np.linalg.svd(want, compute_uv=False),
                               rtol=sv_tol, atol=sv_tol)


def test_linalg_namespace():
    assert issubclass(rgrad.linalg.LinAlgError, RuntimeError)
    import rgrad.linalg as L
    assert L is rgrad.linalg
    for name in ("inv", "det", "slogdet", "solve", "qr", "cholesky", "svd", "svdvals", "eigh", "eigvalsh", "lstsq",
                 "pinv", "matrix_rank", "matrix_power", "cross", "inv_ex", "cholesky_ex", "solve_ex"):
        assert callable(getattr(L, name))
