"""In-place random fills and multinomial: sample moments against the distributions' analytic
moments (the oracle), reproducibility under manual_seed, and torch's errors."""

import math

import numpy as np
import pytest

import rgrad
from helpers import WIDE_FLOAT, requires_torch, torch

N = 200_000


def sample(method, *args, dtype=getattr(rgrad, WIDE_FLOAT), **kw):
    rgrad.manual_seed(1)
    return getattr(rgrad.empty(N, dtype=dtype), method)(*args, **kw).cpu().double().numpy()


# (method, args, analytic mean, analytic variance)
CASES = [
    ("uniform_", (2.0, 5.0), 3.5, 9 / 12),
    ("normal_", (1.0, 2.0), 1.0, 4.0),
    ("exponential_", (2.0,), 0.5, 0.25),
    ("log_normal_", (0.0, 0.5), math.exp(0.125), (math.exp(0.25) - 1) * math.exp(0.25)),
    ("geometric_", (0.25,), 4.0, 0.75 / 0.0625),
    ("bernoulli_", (0.3,), 0.3, 0.21),
    ("random_", (3, 7), 4.5, (4 ** 2 - 1) / 12),
]


@pytest.mark.parametrize("method,args,mean,var", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [rgrad.float32, rgrad.float64])
def test_moments(method, args, mean, var, dtype):
    x = sample(method, *args, dtype=dtype)
    # 6 standard errors: a wrong transform is off by far more, a right one fails ~never
    assert abs(x.mean() - mean) < 6 * math.sqrt(var / N)
    assert abs(x.var() - var) < 0.05 * var


def test_support_and_reproducibility():
    assert set(np.unique(sample("random_", 3, 7))) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(sample("bernoulli_", 0.5))) == {0.0, 1.0}
    u = sample("uniform_", -1.0, 1.0)
    assert u.min() >= -1 and u.max() < 1
    np.testing.assert_array_equal(sample("normal_"), sample("normal_"))
    g = rgrad.Generator().manual_seed(7)
    a = rgrad.empty(10).uniform_(generator=g)
    b = rgrad.empty(10).uniform_(generator=rgrad.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_cauchy_median():
    x = sample("cauchy_", 3.0, 2.0)
    assert abs(np.median(x) - 3.0) < 0.05
    # the quartiles of Cauchy(m, s) are m -+ s
    np.testing.assert_allclose(np.percentile(x, [25, 75]), [1.0, 5.0], atol=0.06)


def test_bernoulli_tensor_p():
    p = rgrad.tensor([0.0, 1.0, 0.5]).expand(N, 3)
    rgrad.manual_seed(0)
    x = rgrad.empty(N, 3).bernoulli_(p).cpu().numpy()
    np.testing.assert_allclose(x.mean(0), [0.0, 1.0, 0.5], atol=0.01)


def test_fill_respects_autograd():
    w = rgrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.uniform_()
    with rgrad.no_grad():
        w.normal_()
    assert w.requires_grad and w.is_leaf


def test_multinomial_frequencies():
    p = rgrad.tensor([[0.0, 10.0, 3.0, 7.0], [1.0, 1.0, 1.0, 1.0]])
    rgrad.manual_seed(0)
    draws = rgrad.multinomial(p, 20_000, replacement=True).cpu().numpy()
    for row, probs in zip(draws, p.cpu().numpy()):
        freq = np.bincount(row, minlength=4) / row.size
        np.testing.assert_allclose(freq, probs / probs.sum(), atol=0.015)


def test_multinomial_without_replacement():
    p = rgrad.tensor([0.0, 10.0, 3.0, 0.0, 1.0])
    rgrad.manual_seed(0)
    for _ in range(20):
        d = rgrad.multinomial(p, 3).cpu().numpy()
        assert sorted(d) == [1, 2, 4]
    # the first draw follows the probabilities: P(first = 1) = 10/14
    rgrad.manual_seed(1)
    firsts = rgrad.multinomial(p.expand(20_000, 5), 2)[:, 0].cpu().numpy()
    assert abs((firsts == 1).mean() - 10 / 14) < 0.015
    assert p.multinomial(2).shape == (2,)
    # as torch: once the positive categories are used up, zero-probability ones are drawn
    assert sorted(rgrad.multinomial(rgrad.tensor([0.0, 1.0, 1.0]), 3).tolist()) == [0, 1, 2]


@requires_torch
@pytest.mark.parametrize("call", [
    lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1),
    lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 3),
    lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    lambda lib: lib.empty(3).uniform_(2.0, 1.0),
    lambda lib: lib.empty(3).normal_(0.0, -1.0),
    lambda lib: lib.empty(3).exponential_(-1.0),
    lambda lib: lib.empty(3).geometric_(1.5),
    lambda lib: lib.empty(3).bernoulli_(1.5),
    lambda lib: lib.empty(3).random_(5, 2),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)):
        call(rgrad)
