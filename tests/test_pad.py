"""rgrad.nn.functional.pad against torch (and numpy.pad where the semantics coincide)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import rgrad
import rgrad.nn.functional as F
from helpers import assert_matches, f32_on_gpu, requires_torch, torch

NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def np_pad(a, pad, mode, value=0):
    """numpy.pad with torch's pad-tuple order (last dim first); non-negative amounts only."""
    width = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        width[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return np.pad(a, width, mode="constant", constant_values=value)
    return np.pad(a, width, mode=NP_MODE[mode])


def sample(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "float16"])
@pytest.mark.parametrize("pad", [(1, 2), (0, 0), (2, 1, 0, 3), (1, 1, 1, 1, 1, 1), ()])
def test_constant_matches_numpy(dtype, pad):
    a = (sample((2, 3, 4)) * 10).astype(dtype)
    for value in (None, 0, 3):
        got = F.pad(rgrad.tensor(a), pad, value=value)
        assert_matches(got, np_pad(a, pad, "constant", value or 0))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 5), (2, 1)), ((1, 2, 5), (0, 3)), ((1, 3, 4), (1, 2, 2, 0)),
                                       ((2, 1, 3, 4), (3, 1, 2, 2)), ((1, 1, 2, 3, 4), (1, 2, 1, 1, 0, 1)),
                                       ((2, 3, 4, 4), (1, 1, 1, 1, 1, 1))])
def test_modes_match_numpy(mode, shape, pad):
    a = sample(shape, seed=1)
    assert_matches(F.pad(rgrad.tensor(a), pad, mode=mode), np_pad(a, pad, mode))


@requires_torch
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(-1, 2), (2, -1), (-1, -1), (-1, 1, 2, -1), (0, -2, 1, 0)])
def test_negative_padding_matches_torch(mode, pad):
    a = sample((2, 4, 5), seed=2)
    assert_matches(F.pad(rgrad.tensor(a), pad, mode=mode), torch.nn.functional.pad(torch.tensor(a), pad, mode=mode))


@requires_torch
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_non_contiguous_and_empty_batch(mode):
    a = sample((3, 4, 5), seed=3)
    x = rgrad.tensor(np.ascontiguousarray(a.transpose(2, 1, 0))).permute(2, 1, 0)
    assert not x.is_contiguous()
    want = torch.nn.functional.pad(torch.tensor(a), (2, 1, 1, 0), mode=mode)
    assert_matches(F.pad(x, (2, 1, 1, 0), mode=mode), want)
    sliced = rgrad.tensor(a)[:, ::2, 1:]
    want = torch.nn.functional.pad(torch.tensor(a)[:, ::2, 1:], (1, 2), mode=mode)
    assert_matches(F.pad(sliced, (1, 2), mode=mode), want)
    e = sample((0, 2, 3), seed=4)
    assert_matches(F.pad(rgrad.tensor(e), (1, 1), mode=mode), torch.nn.functional.pad(torch.tensor(e), (1, 1),
                                                                                      mode=mode))


@requires_torch
def test_constant_value_casts_and_bool():
    assert_matches(F.pad(rgrad.arange(3), (1, 1), value=2.7), torch.nn.functional.pad(torch.arange(3), (1, 1),
                                                                                      value=2.7))
    b = rgrad.tensor([True, False])
    assert_matches(F.pad(b, (1, 2), value=0), torch.nn.functional.pad(torch.tensor([True, False]), (1, 2), value=0))
    assert_matches(F.pad(rgrad.tensor(1.0), ()), torch.nn.functional.pad(torch.tensor(1.0), ()))
    assert_matches(F.pad(rgrad.zeros(2, 3), (-3, 0)), torch.nn.functional.pad(torch.zeros(2, 3), (-3, 0)))
    assert_matches(F.pad(rgrad.zeros(2, 3), [1, 1], "constant", 1), torch.nn.functional.pad(torch.zeros(2, 3), [1, 1],
                                                                                             "constant", 1))


def _same_error(f):
    with pytest.raises(Exception) as want:
        f(torch)
    with pytest.raises(Exception) as got:
        f(rgrad)
    assert type(got.value).__name__ == type(want.value).__name__
    assert str(got.value) == str(want.value)


@requires_torch
@pytest.mark.parametrize("case", [
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1,)),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1, 1, 1, 1, 1, 1, 1, 1)),
    lambda L: L.nn.functional.pad(L.tensor(1.0), (1, 1)),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1, 1), mode="foo"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1,), mode="foo"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1, 1), mode="reflect", value=1.0),
    lambda L: L.nn.functional.pad(L.zeros(3), (1, 1), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(3), (1, 1), mode="circular"),
    lambda L: L.nn.functional.pad(L.zeros(2, 3), (1, 1, 1, 1), mode="replicate"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (3, 0), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (0, 3), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (0, 0, 2, 2), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 2, 3), (0, 0, 0, 0, 2, 0), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 0), (1, 1), mode="replicate"),
    lambda L: L.nn.functional.pad(L.zeros(0, 3), (1, 1), mode="reflect"),
    lambda L: L.nn.functional.pad(L.ones(1, 2, 3, dtype=L.bool), (1, 1), mode="reflect"),
    lambda L: L.nn.functional.pad(L.ones(1, 2, 3, dtype=L.bool), (1, 1, 1, 1), mode="replicate"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (4, 0), mode="circular"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (-2, -2), mode="circular"),
    lambda L: L.nn.functional.pad(L.zeros(1, 1, 4), (-2, -2), mode="reflect"),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1.0, 1)),
    lambda L: L.nn.functional.pad(L.zeros(1, 2, 3), (1, 1), mode=None),
    lambda L: L.nn.functional.pad(L.zeros(2, 3), (-4, 0)),
])
def test_errors_match_torch(case):
    _same_error(case)


@requires_torch
def test_circular_and_bool_circular():
    a = f32_on_gpu(np.arange(9.0).reshape(1, 1, 3, 3))
    assert_matches(F.pad(rgrad.tensor(a), (1, 1, 1, 1), mode="circular"),
                   torch.nn.functional.pad(torch.tensor(a), (1, 1, 1, 1), mode="circular"))
    b = np.array([[[True, False, True]]])
    assert_matches(F.pad(rgrad.tensor(b), (1, 2), mode="circular"),
                   torch.nn.functional.pad(torch.tensor(b), (1, 2), mode="circular"))


@requires_torch
@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["constant", "reflect", "replicate", "circular"]), st.integers(1, 3), st.integers(0, 1),
       st.data())
def test_random_pads_match_torch(mode, k, extra, data):
    nd = k + 1 + extra
    shape = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    pad = []
    for i in range(k):
        n = shape[nd - 1 - i]
        lo = -(n // 2)
        hi = n - 1 if mode == "reflect" else (n if mode == "circular" else 4)
        left, right = data.draw(st.integers(lo, hi)), data.draw(st.integers(lo, hi))
        if mode == "circular":
            # torch reads uninitialised memory when a wrap exceeds the cropped extent.
            assume(left <= n - max(-right, 0) and right <= n - max(-left, 0))
        pad += [left, right]
    a = sample(shape, seed=5)
    try:
        want = torch.nn.functional.pad(torch.tensor(a), pad, mode=mode)
    except Exception:
        _same_error(lambda L: L.nn.functional.pad(L.tensor(a), pad, mode=mode))
        return
    assert_matches(F.pad(rgrad.tensor(a), pad, mode=mode), want)
