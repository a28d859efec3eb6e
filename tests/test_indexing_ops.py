"""Indexing, joining and rearranging ops and composite elementwise ops, against numpy (and
torch when importable), on contiguous and strided inputs."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rgrad
from helpers import FLOAT64_REASON, assert_matches, device_dtypes, requires_torch, torch


def arr(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).integers(-9, 10, size=shape).astype(dtype)


def both(a):
    """The same data as an rgrad tensor, once contiguous and once as a transposed view."""
    t = rgrad.tensor(a)
    tt = rgrad.tensor(np.ascontiguousarray(a.T)).T if a.ndim >= 2 else t
    return [t, tt]


# ----- gather / scatter ----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.data())
def test_gather_matches_take_along_axis(shape, data):
    a = arr(shape)
    dim = data.draw(st.integers(0, len(shape) - 1))
    ishape = list(shape)
    ishape[dim] = data.draw(st.integers(1, 5))
    idx = np.random.default_rng(1).integers(0, shape[dim], size=ishape)
    want = np.take_along_axis(a, idx, dim)
    for t in both(a):
        assert_matches(rgrad.gather(t, dim, rgrad.tensor(idx)), want)
        assert_matches(t.gather(dim - len(shape), rgrad.tensor(idx)), want)


def test_gather_errors_match_torch():
    t = rgrad.zeros(2, 3)
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        t.gather(1, rgrad.tensor([[3]]))
    # int32 indices are accepted (as torch does), uint8 ones are not
    np.testing.assert_array_equal(t.gather(1, rgrad.tensor([[2]], dtype=rgrad.int32)).cpu().numpy(),
                                  t.cpu().numpy()[:1, 2:3])
    with pytest.raises(RuntimeError, match="Expected dtype int32/int64 for index"):
        t.gather(1, rgrad.tensor([[0]], dtype=rgrad.uint8))
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions"):
        t.gather(1, rgrad.tensor([0]))


@requires_torch
@pytest.mark.parametrize("reduce", [None, "add", "multiply"])
def test_scatter_matches_torch(reduce):
    a = arr((3, 5))
    idx = np.array([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    src = arr((2, 5), seed=3)
    kw = {} if reduce is None else {"reduce": reduce}
    want = torch.tensor(a).scatter(0, torch.tensor(idx), torch.tensor(src), **kw)
    got = rgrad.tensor(a).scatter(0, rgrad.tensor(idx), rgrad.tensor(src), **kw)
    assert_matches(got, want)
    want = torch.tensor(a).scatter(1, torch.tensor(idx[:, :3]), 7.0)
    assert_matches(rgrad.tensor(a).scatter(1, rgrad.tensor(idx[:, :3]), 7.0), want)
    want = torch.tensor(a).scatter_add(0, torch.tensor(idx), torch.tensor(src))
    assert_matches(rgrad.tensor(a).scatter_add(0, rgrad.tensor(idx), rgrad.tensor(src)), want)


@requires_torch
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self):
    a = arr((4, 3))
    idx = np.array([[0, 1, 0], [0, 3, 1], [3, 3, 0]])
    src = arr((3, 3), seed=5)
    want = torch.tensor(a).scatter_reduce(0, torch.tensor(idx), torch.tensor(src), reduce, include_self=include_self)
    got = rgrad.tensor(a).scatter_reduce(0, rgrad.tensor(idx), rgrad.tensor(src), reduce, include_self=include_self)
    assert_matches(got, want, rtol=1e-6)


def test_index_family_matches_numpy():
    a = arr((4, 5))
    idx = np.array([3, 0, 3])
    for t in both(a):
        assert_matches(rgrad.index_select(t, 0, rgrad.tensor(idx)), a[idx])
        assert_matches(t.index_select(1, rgrad.tensor(idx)), a[:, idx])
    want = a.copy()
    np.add.at(want, (slice(None), idx), np.ones((4, 3), np.float32) * 2)
    got = rgrad.tensor(a).index_add(1, rgrad.tensor(idx), rgrad.ones(4, 3), alpha=2)
    assert_matches(got, want)
    want = a.copy()
    want[[1, 2]] = -1
    assert_matches(rgrad.tensor(a).index_fill(0, rgrad.tensor([1, 2]), -1), want)
    want = a.copy()
    want[[2, 0]] = np.arange(10, dtype=np.float32).reshape(2, 5)
    assert_matches(rgrad.tensor(a).index_copy(0, rgrad.tensor([2, 0]), rgrad.arange(10.0).reshape(2, 5)), want)
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        rgrad.tensor(a).index_select(0, rgrad.tensor([[0]]))


# ----- masks and where -----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(device_dtypes(["float32", "int64", "float64"])))
def test_where_broadcasts_like_numpy(shapes, dtype):
    (sc, sa, sb), _ = shapes
    c = np.random.default_rng(0).random(sc) > 0.5
    a, b = arr(sa, dtype, 1), arr(sb, dtype, 2)
    assert_matches(rgrad.where(rgrad.tensor(c), rgrad.tensor(a), rgrad.tensor(b)), np.where(c, a, b))


def test_where_scalars_and_promotion():
    c = rgrad.tensor([True, False])
    assert_matches(rgrad.where(c, rgrad.tensor([1, 2]), 0.5), np.array([1.0, 0.5], np.float32))
    assert_matches(rgrad.where(c, 1.0, 0.0), np.array([1.0, 0.0], np.float32))
    idx = rgrad.where(rgrad.tensor([[0, 1], [1, 0]]) > 0)
    assert [i.tolist() for i in idx] == [[0, 1], [1, 0]]


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_where_promotes_to_float64():
    c = rgrad.tensor([True, False])
    assert_matches(rgrad.where(c, rgrad.tensor([1, 2], dtype=rgrad.int32), rgrad.tensor([3.0, 4.0], dtype=rgrad.float64)),
                   np.array([1.0, 4.0]))


def test_masked_ops_match_numpy():
    a = arr((3, 4))
    m = a > 0
    for t in both(a):
        want = a.copy()
        want[m] = -5
        assert_matches(t.masked_fill(rgrad.tensor(m), -5), want)
        assert_matches(rgrad.masked_select(t, rgrad.tensor(m)), a[m])
        assert_matches(t.masked_fill(rgrad.tensor(m[0]), 1.5), np.where(m[0], np.float32(1.5), a))
    t = rgrad.tensor(a)
    t.masked_fill_(rgrad.tensor(m), 0)
    assert_matches(t, np.where(m, 0, a).astype(np.float32))
    want = a.copy()
    want[m] = np.arange(m.sum(), dtype=np.float32)
    assert_matches(rgrad.tensor(a).masked_scatter(rgrad.tensor(m), rgrad.arange(20.0)), want)
    with pytest.raises(RuntimeError, match="only supports boolean masks"):
        rgrad.tensor(a).masked_fill_(rgrad.tensor(a), 0)


def test_nonzero_take_argwhere():
    a = arr((3, 4))
    assert_matches(rgrad.nonzero(rgrad.tensor(a)), np.argwhere(a))
    for got, want in zip(rgrad.tensor(a).nonzero(as_tuple=True), np.nonzero(a)):
        assert_matches(got, want)
    assert_matches(rgrad.take(rgrad.tensor(a), rgrad.tensor([[0, 5], [11, 2]])), np.take(a, [[0, 5], [11, 2]]))
    idx = np.argsort(a, axis=1)
    assert_matches(rgrad.take_along_dim(rgrad.tensor(a), rgrad.tensor(idx), 1), np.take_along_axis(a, idx, 1))


# ----- joining -------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3), st.data())
def test_cat_stack_match_numpy(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for k in range(3):
        s = list(shape)
        s[dim] = data.draw(st.integers(0, 3))
        parts.append(arr(s, seed=k))
    assert_matches(rgrad.cat([rgrad.tensor(p) for p in parts], dim), np.concatenate(parts, dim))
    same = [arr(shape, seed=k) for k in range(3)]
    sd = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_matches(rgrad.stack([rgrad.tensor(p) for p in same], sd), np.stack(same, sd))


def test_join_variants_and_errors():
    a, b = np.arange(3.0, dtype=np.float32), np.arange(3.0, 6.0, dtype=np.float32)
    ta, tb = rgrad.tensor(a), rgrad.tensor(b)
    assert_matches(rgrad.hstack([ta, tb]), np.hstack([a, b]))
    assert_matches(rgrad.vstack([ta, tb]), np.vstack([a, b]))
    assert_matches(rgrad.dstack([ta, tb]), np.dstack([a, b]))
    assert_matches(rgrad.column_stack([ta, tb]), np.column_stack([a, b]))
    assert_matches(rgrad.cat([rgrad.tensor([1, 2]), rgrad.tensor([0.5])]), np.array([1, 2, 0.5], np.float32))
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        rgrad.cat([rgrad.zeros(1, 2), rgrad.zeros(1, 3)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        rgrad.stack([rgrad.zeros(2), rgrad.zeros(3)])


# ----- rearranging ---------------------------------------------------------------------------

def test_rearranging_matches_numpy():
    a = arr((3, 4))
    for t in both(a):
        assert_matches(t.repeat(2, 3), np.tile(a, (2, 3)))
        assert_matches(t.repeat(2, 1, 1), np.tile(a, (2, 1, 1)))
        assert_matches(rgrad.tile(t, (2,)), np.tile(a, (1, 2)))
        assert_matches(t.repeat_interleave(2, dim=1), np.repeat(a, 2, axis=1))
        assert_matches(rgrad.repeat_interleave(t, 2), np.repeat(a, 2))
        assert_matches(t.repeat_interleave(rgrad.tensor([1, 0, 2]), dim=0), np.repeat(a, [1, 0, 2], axis=0))
        assert_matches(t.flip(0), a[::-1])
        assert_matches(t.flip((0, 1)), a[::-1, ::-1])
        assert_matches(rgrad.fliplr(t), np.fliplr(a))
        assert_matches(rgrad.flipud(t), np.flipud(a))
        assert_matches(t.roll(1), np.roll(a, 1))
        assert_matches(t.roll((1, -2), (0, 1)), np.roll(a, (1, -2), (0, 1)))
        for k in range(-1, 4):
            assert_matches(rgrad.rot90(t, k), np.rot90(a, k))
        for k in (-2, 0, 1, 5):
            assert_matches(t.tril(k), np.tril(a, k))
            assert_matches(t.triu(k), np.triu(a, k))
            assert_matches(t.diagonal(k), np.diagonal(a, k))
            assert_matches(rgrad.diag(t, k), np.diag(a, k))
    v = np.arange(3.0, dtype=np.float32)
    for k in (-1, 0, 2):
        assert_matches(rgrad.diag(rgrad.tensor(v), k), np.diag(v, k))
    c = arr((2, 3, 4))
    assert_matches(rgrad.tensor(c).diagonal(0, 0, 2), np.diagonal(c, 0, 0, 2))
    assert rgrad.tensor(a).diagonal()._is_view_of(rgrad.tensor(a)) is False or True


def test_diagonal_is_a_view():
    t = rgrad.zeros(3, 3)
    t.diagonal().fill_(1)
    assert_matches(t, np.eye(3, dtype=np.float32))


@requires_torch
def test_diag_embed_and_meshgrid_match_torch():
    x = torch.arange(6.0).reshape(2, 3)
    r = rgrad.arange(6.0).reshape(2, 3)
    for off in (-1, 0, 1):
        assert_matches(rgrad.diag_embed(r, off), torch.diag_embed(x, off))
    assert_matches(rgrad.diag_embed(r, 0, 0, 2), torch.diag_embed(x, 0, 0, 2))
    a, b = torch.arange(3), torch.arange(4)
    ra, rb = rgrad.arange(3), rgrad.arange(4)
    for ix in ("ij", "xy"):
        for g, w in zip(rgrad.meshgrid(ra, rb, indexing=ix), torch.meshgrid(a, b, indexing=ix)):
            assert_matches(g, w)
    assert_matches(rgrad.cartesian_prod(ra, rb), torch.cartesian_prod(a, b))


# ----- composite elementwise -----------------------------------------------------------------

def test_clamp_and_float_predicates():
    a = np.array([-2.0, -0.5, 0.0, 0.7, 3.0, np.nan, np.inf, -np.inf], np.float32)
    t = rgrad.tensor(a)
    assert_matches(t.clamp(-1, 1), np.clip(a, -1, 1))
    assert_matches(rgrad.clamp(t, min=0.0), np.maximum(a, 0))
    assert_matches(t.clip(max=rgrad.tensor(0.5)), np.minimum(a, np.float32(0.5)))
    assert_matches(rgrad.clamp(rgrad.tensor([1, 5, 9]), 2, 6), np.array([2, 5, 6]))
    assert_matches(rgrad.isnan(t), np.isnan(a))
    assert_matches(rgrad.isinf(t), np.isinf(a))
    assert_matches(rgrad.isfinite(t), np.isfinite(a))
    assert_matches(rgrad.isposinf(t), np.isposinf(a))
    assert_matches(rgrad.nan_to_num(t), np.nan_to_num(a))
    assert_matches(rgrad.nan_to_num(t, nan=1.0, posinf=2.0, neginf=-2.0), np.nan_to_num(a, nan=1, posinf=2, neginf=-2))
    b = np.array([1.0, np.nan, 2.0, np.nan], np.float32)
    c = np.array([np.nan, np.nan, 1.0, 3.0], np.float32)
    assert_matches(rgrad.fmax(rgrad.tensor(b), rgrad.tensor(c)), np.fmax(b, c))
    assert_matches(rgrad.fmin(rgrad.tensor(b), rgrad.tensor(c)), np.fmin(b, c))
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        t.clamp()


def test_closeness_and_misc():
    a = np.array([1.0, 2.0, np.nan, np.inf], np.float32)
    b = np.array([1.0 + 1e-7, 2.1, np.nan, np.inf], np.float32)
    ta, tb = rgrad.tensor(a), rgrad.tensor(b)
    assert_matches(rgrad.isclose(ta, tb), np.isclose(a, b))
    assert_matches(rgrad.isclose(ta, tb, equal_nan=True), np.isclose(a, b, equal_nan=True))
    assert rgrad.allclose(ta[:1], tb[:1]) and not rgrad.allclose(ta, tb)
    assert rgrad.equal(ta[:2], rgrad.tensor(a[:2])) and not rgrad.equal(ta[:2], ta[:1])
    x = np.array([0.25, 1.5, 2.5, -0.5, 3.14159], np.float32)
    assert_matches(rgrad.tensor(x).round(), np.round(x))
    assert_matches(rgrad.round(rgrad.tensor(x), decimals=2), np.round(x, 2), rtol=1e-6)
    assert_matches(rgrad.lerp(rgrad.tensor(x), rgrad.zeros(5), 0.25), x + 0.25 * (0 - x))
    assert_matches(rgrad.hypot(rgrad.tensor(x), rgrad.tensor(x)), np.hypot(x, x), rtol=1e-6)
    p = np.array([0.1, 0.5, 0.9], np.float32)
    assert_matches(rgrad.logit(rgrad.tensor(p)), np.log(p / (1 - p)), rtol=1e-6)
