"""Tensor core on the CPU: creation, dtypes and promotion, views, indexing, interop, errors.
Every assertion compares against numpy (and torch when importable)."""

import copy
import re
import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rgrad
from helpers import (DTYPES, FLOAT64_REASON, NP_DTYPES, NUMPY_MEMORY_REASON, WIDE_FLOAT, assert_close, assert_matches,
                     device_dtypes, f32_on_gpu, requires_torch, strip_device, torch)


# ----- creation ----------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    [1, 2, 3], [1.5, 2.0], [True, False], [[1, 2], [3, 4]], 3, 2.5, True, [[1, 2.5], [3, 4]],
    [], [[]], [[1], [2]], [True, 2], (1, 2),
])
def test_tensor_infers_dtype_like_numpy_torch(data):
    t = rgrad.tensor(data)
    want = np.array(data)
    # torch: ints -> int64, floats -> default float32, bools -> bool; empty -> float32
    kind = want.dtype.kind
    name = {"i": "int64", "f": "float32", "b": "bool"}[kind]
    if want.size == 0:
        name = "float32"
    assert_matches(t, want.astype(name), dtype=name)
    if torch is not None:
        assert str(torch.tensor(data).dtype).replace("torch.", "") == t.dtype.name


def test_tensor_ragged_raises():
    with pytest.raises(ValueError, match="expected sequence of length 2 at dim 1"):
        rgrad.tensor([[1, 2], [3]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_creation_functions_dtypes(dtype):
    dt = getattr(rgrad, dtype)
    np_dt = NP_DTYPES.get(dtype, np.float32)
    assert_matches(rgrad.zeros(2, 3, dtype=dt), np.zeros((2, 3), np_dt), dtype=dtype)
    assert_matches(rgrad.ones((2, 3), dtype=dt), np.ones((2, 3), np_dt), dtype=dtype)
    assert_matches(rgrad.full((4,), 1, dtype=dt), np.full((4,), 1, np_dt), dtype=dtype)
    assert_matches(rgrad.eye(3, 4, dtype=dt), np.eye(3, 4, dtype=np_dt), dtype=dtype)
    assert rgrad.empty(5, dtype=dt).shape == (5,)


def test_full_infers_dtype_from_value():
    assert rgrad.full((2,), 3).dtype == rgrad.int64
    assert rgrad.full((2,), 3.0).dtype == rgrad.float32
    assert rgrad.full((2,), True).dtype == rgrad.bool


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 10, 3), (0.5, 3.0, 0.5), (10, 0, -3), (0, 1, 0.1), (-3.5, 2)])
def test_arange_matches_numpy(args):
    t = rgrad.arange(*args)
    want = np.arange(*args)
    name = "int64" if want.dtype.kind == "i" else "float32"
    assert_matches(t, want.astype(name), dtype=name, rtol=1e-6)
    if torch is not None:
        assert tuple(torch.arange(*args).shape) == tuple(t.shape)


@pytest.mark.parametrize("args", [(0, 1, 5), (-2, 3, 11), (1, 1, 1), (0, 10, 0), (3, -3, 7)])
def test_linspace_logspace(args):
    assert_matches(rgrad.linspace(*args), np.linspace(*args, dtype=np.float64).astype(np.float32), rtol=1e-6)
    assert_matches(rgrad.logspace(*args), np.logspace(*args).astype(np.float32), rtol=1e-5)


def test_like_functions_keep_shape_and_dtype():
    x = rgrad.zeros(2, 3, dtype=rgrad.int32)
    for f in (rgrad.zeros_like, rgrad.ones_like, rgrad.empty_like):
        y = f(x)
        assert y.shape == x.shape and y.dtype == rgrad.int32
    assert rgrad.full_like(x, 7, dtype=getattr(rgrad, WIDE_FLOAT)).dtype == getattr(rgrad, WIDE_FLOAT)
    assert_matches(rgrad.ones_like(x, dtype=rgrad.float16), np.ones((2, 3), np.float16))


def test_legacy_constructor():
    assert rgrad.Tensor(2, 3).shape == (2, 3) and rgrad.Tensor(2, 3).dtype == rgrad.float32
    assert_matches(rgrad.Tensor([1, 2]), np.array([1, 2], np.float32))


def test_random_reproducible_and_distributed():
    rgrad.manual_seed(123)
    a = rgrad.rand(1000)
    rgrad.manual_seed(123)
    b = rgrad.rand(1000)
    assert np.array_equal(a.cpu().numpy(), b.cpu().numpy())
    x = rgrad.rand(200_000).cpu().numpy()
    assert 0.0 <= x.min() and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.01
    n = rgrad.randn(200_000, dtype=getattr(rgrad, WIDE_FLOAT)).cpu().numpy()
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    r = rgrad.randint(3, 7, (10_000,)).cpu().numpy()
    assert r.min() == 3 and r.max() == 6 and rgrad.randint(3, 7, (2,)).dtype == rgrad.int64
    p = rgrad.randperm(50).cpu().numpy()
    assert sorted(p.tolist()) == list(range(50))
    g = rgrad.Generator().manual_seed(5)
    g2 = rgrad.Generator().manual_seed(5)
    assert np.array_equal(rgrad.randn(7, generator=g).cpu().numpy(), rgrad.randn(7, generator=g2).cpu().numpy())
    m = rgrad.normal(2.0, 3.0, size=(100_000,)).cpu().numpy()
    assert abs(m.mean() - 2) < 0.05 and abs(m.std() - 3) < 0.05
    bern = rgrad.bernoulli(rgrad.full((100_000,), 0.25)).cpu().numpy()
    assert abs(bern.mean() - 0.25) < 0.01


def test_generator_state_roundtrip():
    g = rgrad.Generator().manual_seed(9)
    s = g.get_state()
    a = rgrad.rand(5, generator=g)
    g.set_state(s)
    assert np.array_equal(a.cpu().numpy(), rgrad.rand(5, generator=g).cpu().numpy())


# ----- dtypes and promotion ----------------------------------------------------------------

def test_dtype_objects():
    assert repr(rgrad.float32) == "rgrad.float32"
    assert rgrad.float is rgrad.float32 and rgrad.long is rgrad.int64 and rgrad.half is rgrad.float16
    assert rgrad.float64.is_floating_point and not rgrad.int32.is_floating_point
    assert rgrad.float16.itemsize == 2
    assert rgrad.zeros(1).dtype is rgrad.float32


@requires_torch
@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
def test_promote_types_matches_torch(a, b):
    got = rgrad.promote_types(getattr(rgrad, a), getattr(rgrad, b))
    assert got.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).replace("torch.", "")
    assert rgrad.can_cast(getattr(rgrad, a), getattr(rgrad, b)) == torch.can_cast(getattr(torch, a), getattr(torch, b))


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("op", ["add", "mul", "truediv", "sub"])
def test_scalar_promotion_matches_torch(dtype, scalar, op):
    import operator
    f = getattr(operator, op)
    tt = torch.ones(3, dtype=getattr(torch, dtype))
    rt = rgrad.ones(3, dtype=getattr(rgrad, dtype))
    try:
        want = f(tt, scalar)
    except Exception as e:
        with pytest.raises(type(e), match=re.escape(str(e))):
            f(rt, scalar)
        return
    got = f(rt, scalar)
    assert_matches(got, want, rtol=1e-2)
    assert_matches(f(rgrad.tensor(1, dtype=getattr(rgrad, dtype)), rgrad.ones(2, dtype=rgrad.int8)),
                   f(torch.tensor(1, dtype=getattr(torch, dtype)), torch.ones(2, dtype=torch.int8)), rtol=1e-2)


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (sets the default dtype to float64)")
def test_default_dtype():
    assert rgrad.get_default_dtype() == rgrad.float32
    rgrad.set_default_dtype(rgrad.float64)
    try:
        assert rgrad.tensor([1.0]).dtype == rgrad.float64
        assert (rgrad.tensor([1]) * 2.5).dtype == rgrad.float64
    finally:
        rgrad.set_default_dtype(rgrad.float32)
    with pytest.raises(TypeError):
        rgrad.set_default_dtype(rgrad.int32)


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_casts_match_numpy(src, dst):
    vals = np.array([0, 1, 2, 3, 100, 7], dtype=np.float64)
    if src == "bool":
        vals = vals.astype(bool)
    t = rgrad.tensor(vals.tolist(), dtype=getattr(rgrad, src))
    src_np = NP_DTYPES.get(src, np.float32)
    want = vals.astype(src_np).astype(NP_DTYPES.get(dst, np.float32))
    assert_matches(t.to(getattr(rgrad, dst)), want, dtype=dst)


@requires_torch
@pytest.mark.parametrize("src", ["float32", "float64"])
@pytest.mark.parametrize("dst", ["bfloat16", "float16"])
def test_narrowing_float_casts_round_as_torch(src, dst):
    # Values whose bits past the narrow mantissa are just above a tie (0x...8005): a rounding
    # that loses the sticky bits goes to even instead of up.
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * s for s in (1e-30, 1e-3, 1.0, 1e4, 1e30)])
    bits = (x.astype(np.float32).view(np.uint32) & 0xffff0000) | rng.choice([0x8001, 0x8005, 0x7fff, 0x8000], x.size)
    x = bits.astype(np.uint32).view(np.float32).astype(NP_DTYPES.get(src, np.float32))
    got = rgrad.from_numpy(x).to(getattr(rgrad, dst)).float().numpy()
    want = torch.from_numpy(x).to(getattr(torch, dst)).float().numpy()
    np.testing.assert_array_equal(got, want)


# ----- views -------------------------------------------------------------------------------

def _np_and_rg(shape, dtype=np.float32):
    a = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return a, rgrad.tensor(a)


@st.composite
def permuted_views(draw):
    """A random shape, a random permutation and a random slicing: a strided view."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    perm = draw(st.permutations(range(len(shape))))
    slices = tuple(
        slice(draw(st.integers(0, 2)), None, draw(st.integers(1, 3))) for _ in shape
    )
    return shape, perm, slices


@settings(max_examples=150, deadline=None)
@given(permuted_views(), st.sampled_from(device_dtypes(["float32", "float64", "float16", "int64", "int32", "int16",
                                                      "uint8"])))
def test_strided_views_match_numpy(case, dtype):
    shape, perm, slices = case
    a, t = _np_and_rg(shape, dtype)
    av = a.transpose(perm)[slices]
    tv = t.permute(*perm)[slices]
    assert_matches(tv, av)
    assert tv._is_view_of(t)
    # Strides as numpy reports them (in elements).
    if av.size > 1:
        assert tv.stride() == tuple(s // a.itemsize for s in av.strides)
    assert_matches(tv.contiguous(), np.ascontiguousarray(av))
    assert tv.contiguous().is_contiguous()
    # Arithmetic on strided views and broadcasting against a row of the same dtype.
    row = np.arange(av.shape[-1]).astype(dtype) if av.ndim else np.array(2, dtype)
    assert_matches(tv * rgrad.tensor(np.array(2, dtype)) + rgrad.tensor(row), av * np.array(2, dtype) + row,
                   rtol=1e-3)
    assert_matches(tv.reshape(-1), av.reshape(-1))


def test_view_and_errors():
    a, t = _np_and_rg((3, 4))
    assert_matches(t.view(2, 6), a.reshape(2, 6))
    assert_matches(t.view(-1), a.reshape(-1))
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 12"):
        t.view(5, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.t().view(12)
    assert_matches(t.t().reshape(12), a.T.reshape(12))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        t.transpose(0, 2)


def test_view_shape_ops():
    a, t = _np_and_rg((2, 1, 3, 1))
    assert_matches(t.squeeze(), a.squeeze())
    assert_matches(t.squeeze(1), a.squeeze(1))
    assert_matches(t.unsqueeze(0), a[None])
    assert_matches(t.unsqueeze(-1), a[..., None])
    assert_matches(t.expand(4, 2, 5, 3, 2), np.broadcast_to(a, (4, 2, 5, 3, 2)))
    assert_matches(t.flatten(), a.reshape(-1))
    assert_matches(t.flatten(1, 2), a.reshape(2, 3, 1))
    assert_matches(t.flatten().unflatten(0, (3, -1)), a.reshape(3, 2))
    assert_matches(t.movedim(0, -1), np.moveaxis(a, 0, -1))
    assert_matches(t.mT, np.swapaxes(a, -1, -2))
    b, u = _np_and_rg((5, 6))
    assert_matches(u.narrow(1, 2, 3), b[:, 2:5])
    assert_matches(u.select(0, -1), b[-1])
    for x, y in zip(u.split(2), np.split(b, [2, 4])):
        assert_matches(x, y)
    for x, y in zip(u.split([1, 5], dim=1), np.split(b, [1], axis=1)):
        assert_matches(x, y)
    for x, y in zip(u.chunk(4, 1), np.array_split(b, 3, axis=1)):
        assert_matches(x, y)
    for x, y in zip(u.unbind(1), b.T):
        assert_matches(x, y)
    assert_matches(u.T, b.T)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        u.expand(3, 6)


def test_views_share_storage_and_write_through():
    t = rgrad.zeros(3, 4)
    v = t[1:, ::2]
    v += 5
    want = np.zeros((3, 4), np.float32)
    want[1:, ::2] += 5
    assert_matches(t, want)
    t.t()[0].fill_(1)
    want.T[0] = 1
    assert_matches(t, want)


# ----- indexing ----------------------------------------------------------------------------

@st.composite
def index_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    idx = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return shape, idx


@settings(max_examples=200, deadline=None)
@given(index_cases())
def test_basic_indexing_matches_numpy(case):
    shape, idx = case
    a, t = _np_and_rg(shape)
    items = idx if isinstance(idx, tuple) else (idx,)
    if any(isinstance(i, slice) and i.step is not None and i.step < 0 for i in items):
        # torch (unlike numpy) has no negative steps.
        with pytest.raises(ValueError, match="step must be greater than zero"):
            t[idx]
        return
    assert_matches(t[idx], a[idx])


def _torch_rules(a, idx):
    """numpy's view and remaining index that give torch's result for `a[idx]`: torch selects on
    every int first, even beside list indices (numpy would make the int an advanced index and,
    with a slice between them, move the indexed dims to the front)."""
    first = tuple(i if isinstance(i, int) else slice(None) for i in idx)
    return a[first + (Ellipsis,)], tuple(i for i in idx if not isinstance(i, int))


@st.composite
def advanced_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    items = []
    for d, n in enumerate(shape):
        kind = draw(st.sampled_from(["slice", "int", "list", "all"]))
        if kind == "slice":
            items.append(slice(draw(st.integers(-n, n)), None, draw(st.integers(1, 2))))
        elif kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "list":
            items.append(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3)))
        else:
            items.append(slice(None))
    return shape, tuple(items)


@settings(max_examples=200, deadline=None)
@given(advanced_cases())
def test_advanced_indexing_matches_numpy(case):
    shape, idx = case
    a, t = _np_and_rg(shape)
    lists = [i for i in idx if isinstance(i, list)]
    view, rest = _torch_rules(a, idx)
    try:
        want = view[rest]
    except IndexError:
        with pytest.raises(IndexError):
            t[idx]
        return
    assert_matches(t[idx], want)
    # Assignment through the same index writes exactly the same elements.
    b = a.copy()
    u = rgrad.tensor(b)
    bv, _ = _torch_rules(b, idx)
    bv[rest] = -1
    u[idx] = -1
    assert_matches(u, b)
    vals = np.arange(want.size, dtype=np.float32).reshape(want.shape) + 100
    bv[rest] = vals
    u[idx] = rgrad.tensor(vals)
    if len(lists) == 0 or all(len(set(tuple(np.array(l) % n) if isinstance(l, list) else ())) == len(l)
                              for l, n in zip(idx, shape) if isinstance(l, list)):
        assert_matches(u, b)


def test_mask_and_tensor_indices():
    a, t = _np_and_rg((4, 5))
    m = a % 3 == 0
    assert_matches(t[rgrad.tensor(m)], a[m])
    assert_matches(t[rgrad.tensor(m[:, 0])], a[m[:, 0]])
    assert_matches(t[rgrad.tensor([[0, 1], [2, 3]])], a[np.array([[0, 1], [2, 3]])])
    assert_matches(t[[0, 2], 1:3], a[[0, 2], 1:3])
    assert_matches(t[None, ..., 1], a[None, ..., 1])
    assert_matches(t[True], a[True])
    t[rgrad.tensor(m)] = 0
    a[m] = 0
    assert_matches(t, a)
    t[:, 1] = rgrad.tensor([9.0, 8.0, 7.0, 6.0])
    a[:, 1] = [9, 8, 7, 6]
    assert_matches(t, a)
    t[1] = 3
    a[1] = 3
    assert_matches(t, a)


def test_index_errors_match_torch():
    t = rgrad.zeros(4, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 4"):
        t[5]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1 with size 3"):
        t[0, 3]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 4"):
        t[[0, 7]]
    with pytest.raises(IndexError, match="The shape of the mask"):
        t[rgrad.tensor([True, False])]
    before = t.cpu().numpy().copy()
    with pytest.raises(IndexError):
        t[[0, 9]] = 1.0  # a failed write leaves the tensor unchanged
    assert np.array_equal(t.cpu().numpy(), before)


def test_len_iter_contains():
    a, t = _np_and_rg((3, 2))
    assert len(t) == 3
    for row, want in zip(t, a):
        assert_matches(row, want)
    assert 5 in t and 42 not in t
    with pytest.raises(TypeError):
        len(rgrad.tensor(1.0))


# ----- elementwise and errors --------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       st.sampled_from(["add", "sub", "mul", "truediv"]),
       st.sampled_from(device_dtypes(["float32", "float64", "int32", "int64", "int16", "uint8"])))
def test_broadcast_binary_matches_numpy(shapes, op, dtype):
    import operator
    f = getattr(operator, op)
    (s1, s2), _ = shapes
    rng = np.random.default_rng(0)
    a = rng.integers(1, 9, s1).astype(dtype)
    b = rng.integers(1, 9, s2).astype(dtype)
    want = f(a, b)
    if op == "truediv" and want.dtype.kind == "f" and dtype not in ("float64",):
        want = want.astype(np.float32)
    got = f(rgrad.tensor(a), rgrad.tensor(b))
    assert_matches(got, want, rtol=1e-6)


def test_broadcast_error_message():
    with pytest.raises(RuntimeError) as e:
        rgrad.zeros(1, 1, 2) + rgrad.zeros(1, 1, 3)
    assert str(e.value) == ("The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
                            "dimension 2")


def test_reverse_scalar_ops():
    a = np.array([1.0, 2.0, 4.0], np.float32)
    t = rgrad.tensor(a)
    assert_matches(10 - t, 10 - a)
    assert_matches(2 ** t, 2 ** a)
    assert_matches(1 / t, 1 / a)
    assert_matches(-t, -a)
    assert_matches(abs(-t), a)
    i = rgrad.tensor([7, -7, 3])
    assert_matches(i // 2, np.array([3, -4, 1]))
    assert_matches(i % 3, np.array([1, 2, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        i // 0


def test_inplace_rules_and_unchanged_on_failure():
    t = rgrad.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        t += 1.5
    assert t.tolist() == [1, 2, 3]
    f = rgrad.zeros(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        f += rgrad.ones(2, 3)
    x = rgrad.arange(5.0)
    with pytest.raises(RuntimeError, match="unsupported operation"):
        x[1:] += x[:-1]
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    x.add_(x)
    assert x.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    h = rgrad.ones(2, dtype=rgrad.float16)
    h += rgrad.tensor([0.5, 1.5])
    assert_matches(h, np.array([1.5, 2.5], np.float16))


def test_item_scalars_and_bool():
    assert rgrad.tensor([2.5]).item() == 2.5
    assert isinstance(rgrad.tensor(3).item(), int)
    assert float(rgrad.tensor(1.5)) == 1.5 and int(rgrad.tensor(7)) == 7
    assert [10, 20, 30][rgrad.tensor(1)] == 20
    assert bool(rgrad.tensor([1])) is True
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(rgrad.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        rgrad.tensor([1, 2]).item()


# ----- interop -----------------------------------------------------------------------------

@pytest.mark.cpu_only(reason=NUMPY_MEMORY_REASON)
@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bfloat16"])
def test_numpy_roundtrip_shares_memory(dtype):
    a = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    t = rgrad.from_numpy(a)
    assert t.dtype.name == dtype
    a[0, 0] = 1
    assert t[0, 0].item() == a[0, 0]
    back = t.numpy()
    assert np.shares_memory(back, a)
    t[2, 3] = 0
    assert a[2, 3] == 0
    assert_matches(t, a)


@pytest.mark.cpu_only(reason=NUMPY_MEMORY_REASON)
def test_from_numpy_keeps_array_alive_and_strided():
    t = rgrad.from_numpy(np.arange(10.0)[::2])
    import gc
    gc.collect()
    assert t.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    with pytest.raises(ValueError, match="negative"):
        rgrad.from_numpy(np.arange(5)[::-1])
    assert_matches(rgrad.tensor(np.arange(5)[::-1]), np.arange(5)[::-1])
    n = rgrad.ones(3).numpy()
    del_t = rgrad.ones(3)
    arr = del_t.numpy()
    del del_t
    gc.collect()
    assert arr.tolist() == [1.0, 1.0, 1.0] and n.sum() == 3


@pytest.mark.cpu_only(reason=NUMPY_MEMORY_REASON)
def test_numpy_of_requires_grad_and_bfloat16():
    t = rgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="BFloat16"):
        rgrad.ones(2, dtype=rgrad.bfloat16).numpy()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        rgrad.ones(2, dtype=rgrad.int64).requires_grad_()


@pytest.mark.cpu_only(reason=NUMPY_MEMORY_REASON)
def test_array_protocol_and_libraries():
    t = rgrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert isinstance(np.float32(2.0) * t, rgrad.Tensor) or isinstance(np.float32(2.0) * t, np.ndarray)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(t)
    assert df.values.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.cpu_only(reason="DLPack exchange shares CPU memory")
def test_dlpack_with_numpy_and_torch():
    t = rgrad.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.numpy())
    back = rgrad.from_dlpack(np.arange(4.0))
    assert back.tolist() == [0.0, 1.0, 2.0, 3.0]
    if torch is not None:
        tt = torch.from_dlpack(t)
        assert tt.tolist() == t.tolist()
        r = rgrad.from_dlpack(torch.arange(3))
        assert r.tolist() == [0, 1, 2] and r.dtype == rgrad.int64


def test_pickle_and_deepcopy():
    t = rgrad.arange(6.0).reshape(2, 3).t()
    u = pickle.loads(pickle.dumps(t))
    assert_matches(u, t.cpu().numpy())
    c = copy.deepcopy(t)
    c[0, 0] = 100
    assert t[0, 0].item() == 0
    assert pickle.loads(pickle.dumps(rgrad.Size([2, 3]))) == rgrad.Size([2, 3])


@pytest.mark.cpu_only(reason="checks CPU storage (float64 element size, data_ptr offsets, device 'cpu')")
def test_attributes():
    t = rgrad.zeros(4, 3, dtype=rgrad.float64)
    assert repr(t.shape) == "rgrad.Size([4, 3])"
    assert t.size() == (4, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 12 and t.nelement() == 12
    assert t.element_size() == 8 and t.is_floating_point()
    assert str(t.device) == "cpu" and repr(t.device) == "device(type='cpu')"
    assert t.stride() == (3, 1) and t.t().stride() == (1, 3)
    assert t[1:].storage_offset() == 3
    assert t[1:].data_ptr() == t.data_ptr() + 24
    assert t.to(rgrad.float64) is t
    assert t.float().dtype == rgrad.float32 and t.long().dtype == rgrad.int64 and t.half().dtype == rgrad.float16
    assert t.type() == "rgrad.DoubleTensor"
    assert t.type(rgrad.int32).dtype == rgrad.int32
    c = t.clone()
    c.fill_(2)
    assert t.numpy().sum() == 0 and c.numpy().sum() == 24
    dst = rgrad.zeros(2, 3)
    dst.copy_(rgrad.tensor([1, 2, 3]))
    assert dst.tolist() == [[1.0, 2.0, 3.0]] * 2


# ----- printing ----------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("data,dtype", [
    ([[2, 5], [3, 9]], None), ([1.0, 2.5, -3.0], None), ([1e-8, 1.0, 1e8], None), ([1.0, 2.0], "float64"),
    ([True, False], None), ([1, 2], "int32"), ([0.1, 0.25], "float16"), ([1.5, -2.0], "bfloat16"),
    (3.14159, None), ([], None), ([[1.0, float("nan")], [float("inf"), 0.0]], None),
])
def test_repr_matches_torch(data, dtype):
    r = rgrad.tensor(data, dtype=getattr(rgrad, dtype) if dtype else None)
    w = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    # torch's tensors are on the CPU: the GPU pass compares all but rgrad's device= suffix
    assert strip_device(repr(r)) == repr(w).replace("torch.", "rgrad.")
    assert strip_device(str(r)) == str(w).replace("torch.", "rgrad.")


@requires_torch
def test_repr_summarized_and_requires_grad():
    r = rgrad.arange(2000.0).reshape(40, 50)
    w = torch.arange(2000.0).reshape(40, 50)
    assert strip_device(repr(r)) == repr(w)
    assert strip_device(repr(rgrad.ones(2, requires_grad=True))) == repr(torch.ones(2, requires_grad=True))
    rgrad.set_printoptions(precision=2)
    torch.set_printoptions(precision=2)
    try:
        assert strip_device(repr(rgrad.tensor([1.12345]))) == repr(torch.tensor([1.12345]))
    finally:
        rgrad.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


# ----- threads -----------------------------------------------------------------------------

def test_concurrent_ops_from_threads():
    base = rgrad.arange(100_000.0)
    want = (np.arange(100_000.0, dtype=np.float32) * 2 + 1)
    errors = []

    def work():
        try:
            for _ in range(20):
                r = base * 2 + 1
                if not np.array_equal(r.cpu().numpy(), want):
                    errors.append("mismatch")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


@pytest.mark.cpu_only(reason="matplotlib reads tensors through numpy's array protocol (CPU memory)")
def test_matplotlib_plots_tensors():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    t = rgrad.linspace(0, 1, 5)
    line, = plt.plot(t, t * 2)
    assert np.allclose(line.get_ydata(), np.linspace(0, 2, 5))
    plt.close("all")


def test_normal_with_tensor_arguments():
    rgrad.manual_seed(0)
    m = rgrad.normal(rgrad.full((50_000,), 5.0), 2.0).cpu().numpy()
    assert abs(m.mean() - 5) < 0.05 and abs(m.std() - 2) < 0.05


_NP_UNARY = {
    "abs": np.abs, "sign": np.sign, "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log,
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "reciprocal": np.reciprocal,
    "square": np.square, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "atan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "floor": np.floor, "ceil": np.ceil,
    "trunc": np.trunc, "neg": np.negative, "rsqrt": lambda a: 1 / np.sqrt(a),
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "frac": lambda a: a - np.trunc(a),
}


@pytest.mark.parametrize("name", sorted(_NP_UNARY))
def test_unary_functions_match_numpy(name):
    a = np.linspace(0.05, 0.95, 7, dtype=np.float64).reshape(7, 1) * np.array([[1.0, -1.0, 0.5]])
    a = f32_on_gpu(np.abs(a) if name in ("log", "log2", "log10", "sqrt", "rsqrt") else a)
    t = rgrad.tensor(a).t()  # strided input
    want = _NP_UNARY[name](a.T)
    assert_matches(getattr(rgrad, name)(t), want, rtol=1e-12, atol=1e-12)
    assert_matches(getattr(t, name)(), want, rtol=1e-12, atol=1e-12)
    c = t.clone()
    getattr(c, name + "_")()
    assert_matches(c, want, rtol=1e-12, atol=1e-12)
    # Integer inputs of float-only ops promote to the default dtype; frac, as in torch, has no
    # integer kernel.
    i = rgrad.tensor([1, 2, 3])
    if name == "frac":
        with pytest.raises(NotImplementedError, match="frac_cpu"):
            rgrad.frac(i)
        return
    got = getattr(rgrad, name)(i)
    assert got.dtype in (rgrad.float32, rgrad.int64)


def test_out_argument_and_alpha():
    x = rgrad.tensor([1.0, 2.0])
    o = rgrad.empty(2)
    assert rgrad.add(x, x, alpha=3, out=o) is o
    assert o.tolist() == [4.0, 8.0]
    assert rgrad.sub(x, 1, alpha=2).tolist() == [-1.0, 0.0]
    assert rgrad.div(rgrad.tensor([7, -7]), 2, rounding_mode="floor").tolist() == [3, -4]
    assert rgrad.div(rgrad.tensor([7, -7]), 2, rounding_mode="trunc").tolist() == [3, -3]
    with pytest.raises(ValueError, match="div expected rounding_mode"):
        rgrad.div(x, 2, rounding_mode="up")


def test_float32_exp_and_sigmoid_accuracy():
    # The vectorised float32 path: compare with float64 numpy, over the whole range and extremes.
    x = np.concatenate([np.linspace(-110, 95, 20001, dtype=np.float32),
                        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, -103.97], np.float32)])
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
        want_sig = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    # Below -88.72, float32 exp(-x) overflows, so torch and numpy's float32 1/(1+exp(-x)) give 0.
    want_sig[x < -88.7228] = 0.0
    t = rgrad.tensor(x)
    assert_close(t.exp().cpu().numpy(), want, rtol=3e-7, atol=1e-44, equal_nan=True)
    assert_close(t.sigmoid().cpu().numpy(), want_sig, rtol=3e-7, atol=1e-44, equal_nan=True)
    m = rgrad.tensor(x[:20000].reshape(200, 100)).t()  # strided path
    assert_close(m.exp().cpu().numpy(), want[:20000].reshape(200, 100).T, rtol=3e-7, atol=1e-44)
