"""Autograd semantics against torch: gradcheck/gradgradcheck (finite differences), second
derivatives, .grad accumulation and lifetime, retain_grad/retain_graph, errors with torch's
messages, grad modes, detach, requires_grad propagation, grad_fn names and graph structure,
reprs, hooks, autograd.grad options, custom Functions, autograd.functional, threads, and the
release of saved state. Per-op gradients are in test_autograd_ops.py."""

import gc
import re
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import rgrad
from helpers import (FLOAT64_REASON, ON_GPU, WIDE_FLOAT, assert_close, assert_matches, from_np, requires_torch,
                     strip_device, torch)

LIBS = (rgrad, torch)


def rnd(shape, seed=0, lo=None, hi=None):
    rng = np.random.default_rng(seed)
    if lo is not None:
        return rng.uniform(lo, hi, shape)
    return rng.standard_normal(shape)


def pair(a, requires_grad=True):
    """The same float64 data as an rgrad and a torch leaf."""
    return (from_np(rgrad, np.array(a, dtype=np.float64)).requires_grad_(requires_grad),
            from_np(torch, np.array(a, dtype=np.float64)).requires_grad_(requires_grad))


def as_torch(text):
    """rgrad names its own types rgrad.Size, rgrad.float64, rgrad.return_types...; compare
    them with torch's under torch's module name."""
    return text.replace("rgrad.", "torch.")


def same_error(fn, exc=None):
    """fn(lib) raises the same exception type and message on rgrad and torch."""
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(Exception) as got:
        fn(rgrad)
    assert type(got.value).__name__ == type(want.value).__name__, (got.value, want.value)
    assert as_torch(str(got.value)) == str(want.value), (str(got.value), str(want.value))
    if exc is not None:
        assert isinstance(got.value, exc)


# ----- gradcheck --------------------------------------------------------------------------

def _gc_inputs(*shapes, lo=None, hi=None):
    return [from_np(rgrad, rnd(s, i, lo, hi)).requires_grad_() for i, s in enumerate(shapes)]


GRADCHECK = {
    "sin": (lambda x: x.sin(), [(3, 4)], None),
    "exp_log": (lambda x: (x.exp() + 1).log(), [(3, 4)], None),
    "sqrt": (lambda x: x.sqrt(), [(5,)], (0.5, 2.0)),
    "mul_bcast": (lambda x, y: x * y, [(3, 1), (4,)], None),
    "div_bcast": (lambda x, y: x / y, [(2, 3), (3,)], (0.5, 2.0)),
    "pow": (lambda x, y: x ** y, [(3,), (3,)], (0.5, 2.0)),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)], None),
    "bmm_bcast": (lambda a, b: rgrad.matmul(a, b), [(2, 1, 2, 3), (3, 3, 2)], None),
    "softmax": (lambda x: rgrad.softmax(x, 1), [(3, 4)], None),
    "log_softmax": (lambda x: rgrad.log_softmax(x, 0), [(3, 4)], None),
    "norm": (lambda x: x.norm(dim=1), [(3, 4)], None),
    "var": (lambda x: x.var(0), [(3, 4)], None),
    "prod": (lambda x: x.prod(1), [(3, 4)], None),
    "logsumexp": (lambda x: x.logsumexp(1), [(3, 4)], None),
    "cumprod": (lambda x: x.cumprod(0), [(4, 2)], None),
    "index": (lambda x: x[[0, 2, 2], 1:], [(3, 4)], None),
    "gather": (lambda x: x.gather(1, rgrad.tensor([[0, 0], [3, 1], [2, 2]])), [(3, 4)], None),
    "cat_views": (lambda x, y: rgrad.cat([x.t(), y[:, :2]], 1), [(3, 4), (4, 3)], None),
    "where": (lambda x, y: rgrad.where(x > 0, x * y, y.exp()), [(3, 4), (3, 4)], None),
    "einsum": (lambda a, b: rgrad.einsum("bij,bjk->bik", a, b), [(2, 2, 3), (2, 3, 2)], None),
    "tanh_chain": (lambda x: x.tanh().sigmoid().atan(), [(6,)], None),
    "max_dim": (lambda x: x.max(1).values, [(3, 4)], None),
    "sort": (lambda x: x.sort(1).values, [(3, 4)], None),
    "multi_output": (lambda x: (x.sin(), x.cos().sum()), [(3,)], None),
}


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name):
    fn, shapes, rng = GRADCHECK[name]
    lo, hi = rng if rng else (None, None)
    assert rgrad.autograd.gradcheck(fn, _gc_inputs(*shapes, lo=lo, hi=hi), eps=1e-6, atol=1e-5)


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_gradcheck_single_tensor_and_non_tensor_args():
    x = from_np(rgrad, rnd((3,))).requires_grad_()
    assert rgrad.autograd.gradcheck(lambda t: t.exp(), x)
    assert rgrad.autograd.gradcheck(lambda t, k: t * k, (x, 3.0))
    # inputs that do not require grad are held fixed
    y = from_np(rgrad, rnd((3,), 1))
    assert rgrad.autograd.gradcheck(lambda a, b: a * b.exp(), (x, y))


class _WrongSin(rgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos() * 1.01   # 1% wrong


class _RightSin(rgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.cos()


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_gradcheck_catches_wrong_backward():
    x = from_np(rgrad, rnd((4,))).requires_grad_()
    assert rgrad.autograd.gradcheck(_RightSin.apply, (x,))
    assert rgrad.autograd.gradcheck(_WrongSin.apply, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        rgrad.autograd.gradcheck(_WrongSin.apply, (x,))
    assert issubclass(rgrad.autograd.gradcheck.__globals__["GradcheckError"], RuntimeError)


def test_gradcheck_requires_an_input_needing_grad():
    x = from_np(rgrad, rnd((3,)))
    with pytest.raises(ValueError) as got:
        rgrad.autograd.gradcheck(lambda t: t.exp(), (x,))
    with pytest.raises(ValueError) as want:
        torch.autograd.gradcheck(lambda t: t.exp(), (torch.from_numpy(rnd((3,))),))
    assert str(got.value) == str(want.value)


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_gradcheck_does_not_modify_inputs():
    a = rnd((3, 4))
    x = from_np(rgrad, a.copy()).requires_grad_()
    rgrad.autograd.gradcheck(lambda t: t.exp().sum(), (x,))
    np.testing.assert_array_equal(x.detach().cpu().numpy(), a)
    assert x.grad is None


GRADGRAD = {
    "sin": (lambda x: x.sin(), [(3,)]),
    "mul": (lambda x, y: x * y * x, [(3,), (3,)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 2)]),
    "softmax": (lambda x: rgrad.softmax(x, 1), [(2, 3)]),
    "tanh_exp": (lambda x: (x.tanh() * x.exp()).sum(), [(4,)]),
    "norm": (lambda x: x.norm(), [(4,)]),
    "div": (lambda x, y: x / (y * y + 1), [(3,), (3,)]),
}


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
@pytest.mark.parametrize("name", list(GRADGRAD))
def test_gradgradcheck(name):
    fn, shapes = GRADGRAD[name]
    assert rgrad.autograd.gradgradcheck(fn, _gc_inputs(*shapes))


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_gradgradcheck_catches_wrong_double_backward():
    # first derivative right, second wrong: backward uses a detached (constant) cos
    class SinConstGrad(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.detach().cos()

    x = from_np(rgrad, rnd((3,))).requires_grad_()
    assert rgrad.autograd.gradcheck(SinConstGrad.apply, (x,))
    assert rgrad.autograd.gradgradcheck(SinConstGrad.apply, (x,), raise_exception=False) is False


# ----- second derivatives vs torch ------------------------------------------------------

UNARY2 = [("exp", None), ("log", (0.5, 2)), ("sqrt", (0.5, 2)), ("rsqrt", (0.5, 2)), ("sin", None), ("cos", None),
          ("tan", (-1, 1)), ("tanh", None), ("sigmoid", None), ("atan", None), ("asin", (-0.9, 0.9)),
          ("acos", (-0.9, 0.9)), ("sinh", None), ("cosh", None), ("asinh", None), ("acosh", (1.2, 3)),
          ("atanh", (-0.9, 0.9)), ("erf", None), ("erfc", None), ("erfinv", (-0.9, 0.9)), ("reciprocal", (0.5, 2)),
          ("square", None), ("abs", (0.3, 2)), ("exp2", None), ("expm1", None), ("log1p", (0.5, 2)),
          ("log2", (0.5, 2)), ("log10", (0.5, 2)), ("relu", None), ("neg", None)]


def _np(t):
    if t is None:
        return None
    return t.detach().numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().cpu().numpy()


def _second_derivative(lib, fn, arrays, seed=7):
    """First gradients (with create_graph) and the vector-Hessian products of them; a first
    gradient that does not depend on the inputs (linear ops) contributes zeros."""
    xs = [from_np(lib, a.copy()).requires_grad_() for a in arrays]
    y = fn(lib, *xs)
    go = from_np(lib, rnd(tuple(y.shape), seed))
    gs = lib.autograd.grad(y, xs, go, create_graph=True)
    vs = [from_np(lib, rnd(tuple(g.shape), seed + 1 + i)) for i, g in enumerate(gs)]
    pairs = [(g, v) for g, v in zip(gs, vs) if g.requires_grad]
    d2 = [None] * len(xs)
    if pairs:
        d2 = lib.autograd.grad([g for g, _ in pairs], xs, [v for _, v in pairs], allow_unused=True)
    d2 = [np.zeros(x.shape) if d is None else _np(d) for d, x in zip(d2, xs)]
    return [_np(g) for g in gs], d2


def check_second(fn, arrays, rtol=1e-9, atol=1e-11):
    (g, d2), (tg, td2) = (_second_derivative(lib, fn, arrays) for lib in LIBS)
    for a, b in zip(g, tg):
        assert_close(a, b, rtol=rtol, atol=atol, chain=True)
    for a, b in zip(d2, td2):
        assert_close(a, b, rtol=rtol, atol=atol, chain=True)


@requires_torch
@pytest.mark.parametrize("name,rng", UNARY2, ids=[u[0] for u in UNARY2])
def test_second_derivative_unary(name, rng):
    a = rnd((3, 4), 1, *(rng or (None, None)))
    if name == "relu":
        a = np.where(np.abs(a) < 0.1, 0.5, a)
    check_second(lambda lib, x: getattr(lib, name)(x), [a])


BINARY2 = {
    "mul": lambda lib, x, y: x * y,
    "div": lambda lib, x, y: x / y,
    "pow": lambda lib, x, y: x ** y,
    "pow_scalar": lambda lib, x, y: x ** 3 + 2 ** y,
    "atan2": lambda lib, x, y: lib.atan2(x, y),
    "add_sub": lambda lib, x, y: (x + y) * (x - 2 * y),
    "maximum": lambda lib, x, y: lib.maximum(x, y) * x,
    "bcast_mul": lambda lib, x, y: x * y[:1],
    "matmul": lambda lib, x, y: x @ y.t(),
    "mm_chain": lambda lib, x, y: (x @ y.t()).tanh() @ x,
    "softmax": lambda lib, x, y: lib.softmax(x * y, 1),
    "log_softmax": lambda lib, x, y: lib.log_softmax(x @ y.t(), 0),
    "sum_mean": lambda lib, x, y: (x * y).sum(1) * (x.mean(0, keepdim=True) * y).mean(),
    "norm": lambda lib, x, y: x.norm(dim=1) * y.norm(),
    "var": lambda lib, x, y: (x * y).var(1),
    "prod": lambda lib, x, y: (x + y).prod(1),
    "cumsum_cumprod": lambda lib, x, y: x.cumsum(1) * y.cumprod(0),
    "logsumexp": lambda lib, x, y: (x * y).logsumexp(1),
    "index_views": lambda lib, x, y: x[[0, 2]].t() * y[1:].t().exp(),
    "where_gather": lambda lib, x, y: lib.where(x > 0, x * x, y.sin()).gather(1, lib.tensor([[0], [2], [3]])),
    "einsum": lambda lib, x, y: lib.einsum("ij,kj->ik", x, y * y),
}


@requires_torch
@pytest.mark.parametrize("name", list(BINARY2))
def test_second_derivative_binary(name):
    a, b = rnd((3, 4), 2, 0.5, 2.0), rnd((3, 4), 3, 0.5, 2.0)
    if name in ("maximum", "where_gather"):
        b = rnd((3, 4), 3)
        a = rnd((3, 4), 2)
    check_second(BINARY2[name], [a, b])


@requires_torch
def test_third_derivative_and_hessian_of_matmul_loss():
    def loss(lib, w, x):
        return ((x @ w).tanh() ** 2).sum()

    res = []
    for lib in LIBS:
        w = from_np(lib, rnd((3, 2), 4)).requires_grad_()
        x = from_np(lib, rnd((4, 3), 5))
        (g,) = lib.autograd.grad(loss(lib, w, x), w, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), w, create_graph=True)
        (g3,) = lib.autograd.grad((g2 * g2).sum(), w)
        res.append((g, g2, g3))
    for a, b in zip(*res):
        assert_close(a.detach().cpu().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-10, chain=True)


@requires_torch
def test_backward_create_graph_accumulates_differentiable_grad():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,), 6)).requires_grad_()
        y = (x ** 3).sum()
        y.backward(create_graph=True)
        assert x.grad.requires_grad and x.grad.grad_fn is not None
        g = x.grad
        x.grad = None
        (g * g).sum().backward()
        res.append((g.detach().cpu().numpy().copy(), x.grad.cpu().numpy().copy()))
    assert_close(res[0][0], res[1][0], rtol=1e-12)
    assert_close(res[0][1], res[1][1], rtol=1e-12)


# ----- .grad accumulation and lifetime -----------------------------------------------------

@requires_torch
def test_grad_accumulates_across_backward_calls():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (x * x).sum().backward()
        (x * 3).sum().backward()
        assert x.grad.tolist() == [5.0, 7.0, 9.0]
        g = x.grad
        (x * 1).sum().backward()
        # torch accumulates in place: the same tensor object is updated
        assert x.grad.tolist() == [6.0, 8.0, 9.0 + 1.0]
        assert g.tolist() == x.grad.tolist()


def test_grad_set_none_and_zero():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    x.grad = None
    assert x.grad is None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0]
    (x * 4).sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]


def test_grad_setter_validation():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    x.grad = rgrad.tensor([5.0, 6.0])
    assert x.grad.tolist() == [5.0, 6.0]
    (x * 1).sum().backward()
    assert x.grad.tolist() == [6.0, 7.0]
    for bad in (rgrad.ones(3, dtype=rgrad.float32), rgrad.ones(2, dtype=rgrad.int64), [1.0, 2.0]):
        with pytest.raises((RuntimeError, TypeError)):
            x.grad = bad


@requires_torch
def test_grad_setter_errors_match_torch():
    def f(lib, g):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.grad = g(lib)

    same_error(lambda lib: f(lib, lambda l: l.ones(3)))
    same_error(lambda lib: f(lib, lambda l: l.ones(2, dtype=l.int64)))


@requires_torch
def test_grad_has_leaf_shape_and_dtype_for_noncontiguous_leaf():
    for lib in LIBS:
        x = from_np(lib, rnd((4, 3))).t().detach().requires_grad_()
        (x * 2).sum().backward()
        assert tuple(x.grad.shape) == (3, 4)
        assert x.grad.dtype == getattr(lib, WIDE_FLOAT)
        assert not x.grad.requires_grad


@requires_torch
def test_nonleaf_grad_is_none_with_warning():
    msgs = []
    for lib in LIBS:
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.sum().backward()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert y.grad is None
        assert len(w) == 1 and issubclass(w[0].category, UserWarning)
        msgs.append(str(w[0].message).split(" (Triggered internally")[0])
    assert msgs[0] == msgs[1]
    # no warning for a leaf, or for a non-leaf that retains its grad
    x = rgrad.ones(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is None
        assert y.grad is None
        y.sum().backward()
        assert y.grad.tolist() == [1.0, 1.0, 1.0]


@requires_torch
def test_retain_grad():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = x.exp()
        z = y * y
        assert not y.retains_grad and not x.retains_grad
        y.retain_grad()
        y.retain_grad()   # idempotent
        assert y.retains_grad
        x.retain_grad()   # no-op on a leaf
        assert not x.retains_grad
        z.sum().backward(retain_graph=True)
        g1 = y.grad.cpu().numpy().copy()
        z.sum().backward()
        res.append((g1, y.grad.cpu().numpy().copy(), x.grad.cpu().numpy().copy()))
    for a, b in zip(*res):
        assert_close(a, b, rtol=1e-12)


@requires_torch
def test_retain_grad_nonrequiring_tensor_error():
    same_error(lambda lib: lib.ones(2).retain_grad())


@requires_torch
def test_retain_graph_allows_second_backward():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = (x.sin() * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        res.append(x.grad.cpu().numpy().copy())
    assert_close(res[0], res[1], rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("expr", [
    lambda x: (x * x).sum(), lambda x: x.exp().sum(), lambda x: (x @ x.t()).sum() if x.dim() > 1 else x.dot(x),
    lambda x: x.sin().sum(), lambda x: (x / (x + 3)).sum(), lambda x: x.softmax(0).max(),
])
def test_backward_twice_error(expr):
    def f(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = expr(x)
        y.backward()
        y.backward()

    same_error(f, RuntimeError)


@requires_torch
@pytest.mark.parametrize("expr", [lambda x: (x * 2).sum(), lambda x: (x + x).sum(), lambda x: x.sum(),
                                  lambda x: x.view(3, 1).expand(3, 2).sum(), lambda x: x.neg().sum()])
def test_backward_twice_matches_torch_for_graphs_without_saved_tensors(expr):
    outcome = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = expr(x)
        y.backward()
        try:
            y.backward()
            outcome.append(("ok", x.grad.tolist()))
        except RuntimeError as e:
            outcome.append(("error", str(e)))
    assert outcome[0] == outcome[1]


@requires_torch
def test_autograd_grad_twice_error():
    def f(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.exp() * x).sum()
        lib.autograd.grad(y, x)
        lib.autograd.grad(y, x)

    same_error(f, RuntimeError)


@requires_torch
def test_saved_tensors_access_after_free_error():
    def f(lib):
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * g * x

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = Sq.apply(x)
        y.sum().backward()
        y.grad_fn.saved_tensors

    same_error(f, RuntimeError)


# ----- errors with torch's messages -------------------------------------------------------

ERRORS = {
    "nonscalar_backward": lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(),
    "nonscalar_grad": lambda lib: lib.autograd.grad(lib.ones(3, requires_grad=True) * 2, []),
    "int_requires_grad_ctor": lambda lib: lib.tensor([1, 2], requires_grad=True),
    "int_requires_grad_": lambda lib: lib.tensor([1, 2]).requires_grad_(),
    "int_requires_grad_attr": lambda lib: setattr(lib.tensor([1, 2]), "requires_grad", True),
    "bool_requires_grad": lambda lib: lib.ones(2, dtype=lib.bool, requires_grad=True),
    "int_zeros_requires_grad": lambda lib: lib.zeros(2, dtype=lib.int32, requires_grad=True),
    "leaf_inplace": lambda lib: lib.ones(3, requires_grad=True).add_(1),
    "leaf_inplace_mul": lambda lib: lib.ones(3, requires_grad=True).mul_(2),
    "leaf_setitem": lambda lib: lib.ones(3, requires_grad=True).__setitem__(0, 5.0),
    "leaf_zero_": lambda lib: lib.ones(3, requires_grad=True).zero_(),
    "leaf_iadd": lambda lib: lib.ones(3, requires_grad=True).__iadd__(1.0),
    "leaf_view_inplace": lambda lib: lib.ones(3, requires_grad=True)[0].add_(1),
    "leaf_view_t_inplace": lambda lib: lib.ones(2, 3, requires_grad=True).t().mul_(1),
    "leaf_view_setitem": lambda lib: lib.ones(2, 3, requires_grad=True)[1].__setitem__(0, 1.0),
    "nonleaf_requires_grad_false": lambda lib: setattr(lib.ones(3, requires_grad=True) * 2, "requires_grad", False),
    "nonleaf_requires_grad_false_": lambda lib: (lib.ones(3, requires_grad=True) * 2).requires_grad_(False),
    "no_grad_fn": lambda lib: lib.ones(2).sum().backward(),
    "no_grad_fn_grad": lambda lib: lib.autograd.grad(lib.ones(2).sum(), lib.ones(2, requires_grad=True)),
    "input_no_requires_grad": lambda lib: lib.autograd.grad((lib.ones(2, requires_grad=True) * 2).sum(), lib.ones(2)),
    "hook_on_no_grad": lambda lib: lib.ones(2).register_hook(lambda g: g),
    "grad_shape_mismatch": lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(lib.ones(2)),
    "grad_outputs_count": lambda lib: lib.autograd.grad([lib.ones(3, requires_grad=True) * 2],
                                                        [lib.ones(3, requires_grad=True)], [lib.ones(3), lib.ones(3)]),
    "backward_empty_inputs": lambda lib: (lib.ones(3, requires_grad=True) * 2).sum().backward(inputs=[]),
    "numpy_requires_grad": lambda lib: lib.ones(3, requires_grad=True).numpy(),
    "unused_input": lambda lib: (lambda x, z: lib.autograd.grad((x * 2).sum(), [x, z]))(
        lib.ones(3, requires_grad=True), lib.ones(2, requires_grad=True)),
    "materialize_without_allow_unused": lambda lib: (lambda x, z: lib.autograd.grad(
        (x * 2).sum(), [x, z], materialize_grads=True, allow_unused=False))(
        lib.ones(3, requires_grad=True), lib.ones(2, requires_grad=True)),
    "set_grad_enabled_type": lambda lib: lib.set_grad_enabled(1),
    "detach_view_requires_grad": lambda lib: setattr(lib.ones(2, 2, requires_grad=True)[0], "requires_grad", False),
    "int_grad_integer_output": lambda lib: (lib.ones(2, requires_grad=True) * 2).long().sum().backward(),
}


@requires_torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_error_messages(name):
    same_error(ERRORS[name])


@requires_torch
@pytest.mark.parametrize("case", ["exp", "sigmoid", "mul_saved_other", "pow", "tanh", "view_of_saved",
                                  "matmul", "setitem_saved"])
def test_modified_saved_tensor_error(case):
    def f(lib):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        if case == "exp":
            y = x.exp()
            z = y
            y.add_(1)
        elif case == "sigmoid":
            y = x.sigmoid()
            z = y * 1
            y.mul_(2)
        elif case == "mul_saved_other":
            a = x * 1
            z = x * a
            a.add_(1)
        elif case == "pow":
            a = x + 1
            z = a ** 2
            a.sub_(1)
        elif case == "tanh":
            y = x.tanh()
            z = y
            y.zero_()
        elif case == "view_of_saved":
            a = x * 1
            z = a.sin()
            a[0].mul_(2)       # modifying through a view bumps the base's version
        elif case == "matmul":
            a = x * 1
            z = a @ a
            a.t().add_(1)
        else:
            a = x * 1
            z = a * a
            a[0, 0] = 5.0
        z.sum().backward()

    with pytest.raises(RuntimeError) as got:
        f(rgrad)
    with pytest.raises(RuntimeError) as want:
        f(torch)
    assert "modified by an inplace operation" in str(want.value)
    assert "modified by an inplace operation" in str(got.value), str(got.value)
    # the version numbers torch reports are part of the message
    assert re.search(r"is at version \d+; expected version \d+ instead", str(got.value))
    assert re.findall(r"version (\d+)", str(got.value)) == re.findall(r"version (\d+)", str(want.value))


@requires_torch
def test_inplace_not_touching_saved_tensor_is_fine():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = x * 2          # mul by a scalar saves nothing from y
        z = y + 1
        y.add_(1)          # z's backward does not need y
        (z.sum() + y.sum()).backward()
        res.append(x.grad.cpu().numpy().copy())
    np.testing.assert_array_equal(res[0], res[1])


@requires_torch
def test_version_counter():
    for lib in LIBS:
        x = lib.ones(3)
        v0 = x._version
        x.add_(1)
        x[0] = 2.0
        x.mul_(2)
        assert x._version == v0 + 3
        v = x[1:]
        v.zero_()
        assert x._version == v0 + 4 and v._version == x._version
        d = x.detach()
        d.add_(1)
        assert x._version == d._version == v0 + 5


# ----- grad modes ---------------------------------------------------------------------------

def test_no_grad_context_and_decorator():
    x = rgrad.ones(3, requires_grad=True)
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        assert not rgrad.is_grad_enabled()
        y = x * 2
        with rgrad.enable_grad():
            assert rgrad.is_grad_enabled()
            w = x * 2
        assert not rgrad.is_grad_enabled()
    assert rgrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert w.requires_grad and w.grad_fn is not None

    @rgrad.no_grad()
    def f(t):
        assert not rgrad.is_grad_enabled()
        return t * 2

    @rgrad.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        assert g(x).requires_grad
        assert not rgrad.is_grad_enabled()


def test_no_grad_bare_decorator():
    # torch also accepts @no_grad without parentheses
    @rgrad.no_grad
    def f(t):
        return t * 2

    x = rgrad.ones(2, requires_grad=True)
    assert not f(x).requires_grad
    assert rgrad.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with rgrad.no_grad():
            raise ValueError
    assert rgrad.is_grad_enabled()

    @rgrad.no_grad()
    def f():
        raise KeyError

    with pytest.raises(KeyError):
        f()
    assert rgrad.is_grad_enabled()


def test_set_grad_enabled_forms():
    x = rgrad.ones(2, requires_grad=True)
    with rgrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert rgrad.is_grad_enabled()
    with rgrad.no_grad():
        with rgrad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not rgrad.is_grad_enabled()
    # as a plain function call it sets the mode until changed again
    rgrad.set_grad_enabled(False)
    try:
        assert not rgrad.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        rgrad.set_grad_enabled(True)
    assert rgrad.is_grad_enabled()
    assert rgrad.autograd.set_grad_enabled is rgrad.set_grad_enabled or \
        rgrad.autograd.set_grad_enabled.__name__ == "set_grad_enabled"


def test_set_grad_enabled_decorator_restores_mode():
    # torch: decorating with set_grad_enabled(False) must not leave grad mode off
    try:
        @rgrad.set_grad_enabled(False)
        def f(t):
            return t * 2

        assert rgrad.is_grad_enabled()
        x = rgrad.ones(2, requires_grad=True)
        assert not f(x).requires_grad
        assert rgrad.is_grad_enabled()
    finally:
        rgrad.set_grad_enabled(True)


@requires_torch
def test_set_grad_enabled_decorator_torch_reference():
    @torch.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert torch.is_grad_enabled()
    assert not f(torch.ones(2, requires_grad=True)).requires_grad


def test_no_grad_decorator_on_generator():
    # torch runs each step of a decorated generator under the grad mode
    @rgrad.no_grad()
    def gen(t):
        for _ in range(2):
            yield rgrad.is_grad_enabled(), (t * 2).requires_grad

    x = rgrad.ones(2, requires_grad=True)
    try:
        assert list(gen(x)) == [(False, False), (False, False)]
    finally:
        rgrad.set_grad_enabled(True)


def test_inference_mode():
    x = rgrad.ones(2, requires_grad=True)
    with rgrad.inference_mode():
        assert not rgrad.is_grad_enabled()
        assert rgrad.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert rgrad.is_grad_enabled() and not rgrad.is_inference_mode_enabled()
    with rgrad.inference_mode(False):
        assert rgrad.is_grad_enabled()
        assert (x * 2).requires_grad

    @rgrad.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert rgrad.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(rgrad.is_grad_enabled())
        x = rgrad.ones(2, requires_grad=True)
        seen.append((x * 2).requires_grad)

    with rgrad.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not rgrad.is_grad_enabled()
    assert seen == [True, True]


def test_backward_inside_no_grad():
    # backward works under no_grad (the graph was recorded before)
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with rgrad.no_grad():
        y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_requires_grad_creation_inside_no_grad():
    with rgrad.no_grad():
        x = rgrad.ones(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf


# ----- detach / requires_grad propagation --------------------------------------------------

def test_detach():
    x = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert y.requires_grad
    # detach shares storage
    d[0] = 10.0
    assert y[0].item() == 10.0
    dx = x.detach()
    assert dx.data_ptr() == x.data_ptr()
    # detach_ turns a non-leaf into a leaf in place
    z = x * 3
    r = z.detach_()
    assert r is z
    assert z.is_leaf and not z.requires_grad and z.grad_fn is None
    # the result of detach can require grad again, independently
    e = y.detach().requires_grad_()
    (e * 2).sum().backward()
    assert e.grad.tolist() == [2.0, 2.0, 2.0]
    assert x.grad is None


@requires_torch
def test_detach_of_view_error_matches_torch():
    def f(lib):
        x = lib.ones(2, 2, requires_grad=True)
        v = x[0]
        v.detach_()

    outcome = []
    for lib in LIBS:
        try:
            f(lib)
            outcome.append("ok")
        except RuntimeError as e:
            outcome.append(str(e))
    assert outcome[0] == outcome[1]


def test_requires_grad_propagation():
    a = rgrad.ones(2, requires_grad=True)
    b = rgrad.ones(2)
    assert (a + b).requires_grad and (b + a).requires_grad
    assert not (b + b).requires_grad
    assert (a * 2).requires_grad and not (a * 2).is_leaf
    assert not (a > 0).requires_grad
    assert not a.argmax().requires_grad
    assert rgrad.cat([a, b]).requires_grad
    assert rgrad.stack([b, b]).requires_grad is False
    assert rgrad.where(b > 0, a, b).requires_grad
    v, i = a.max(0)
    assert v.requires_grad and not i.requires_grad
    s = a.sort()
    assert s.values.requires_grad and not s.indices.requires_grad
    assert a[0].requires_grad
    assert a.clone().requires_grad
    assert a.detach().clone().requires_grad is False
    assert not a.new_ones(2).requires_grad
    assert not rgrad.ones_like(a).requires_grad
    assert rgrad.zeros_like(a, requires_grad=True).requires_grad
    assert b.requires_grad_() is b and b.requires_grad and b.is_leaf
    b.requires_grad = False
    assert not b.requires_grad


@requires_torch
def test_requires_grad_default_and_leafness_match_torch():
    cases = [
        lambda lib: lib.ones(2, requires_grad=True),
        lambda lib: lib.ones(2, requires_grad=True) * 2,
        lambda lib: lib.ones(2, requires_grad=True)[0],
        lambda lib: lib.ones(2, requires_grad=True).detach(),
        lambda lib: lib.ones(2),
        lambda lib: lib.ones(2) * 2,
        lambda lib: lib.ones(2, requires_grad=True).to(lib.float16 if ON_GPU else lib.float64),
        lambda lib: lib.ones(2, requires_grad=True).float(),
        lambda lib: lib.ones(2, requires_grad=True).long(),
        lambda lib: lib.ones(2, requires_grad=True).sum().item() * lib.ones(1),
    ]
    for c in cases:
        r, t = c(rgrad), c(torch)
        assert (r.requires_grad, r.is_leaf, r.grad_fn is None) == (t.requires_grad, t.is_leaf, t.grad_fn is None)


# ----- grad_fn names and graph structure -----------------------------------------------------

def _x(lib):
    return lib.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], requires_grad=True)


GRAD_FN = {
    "x+y": lambda lib, x: x + x.detach(),
    "x+1": lambda lib, x: x + 1,
    "1+x": lambda lib, x: 1 + x,
    "x-y": lambda lib, x: x - x.detach(),
    "x-1": lambda lib, x: x - 1,
    "1-x": lambda lib, x: 1 - x,
    "x*y": lambda lib, x: x * x,
    "x*2": lambda lib, x: x * 2,
    "x/y": lambda lib, x: x / x,
    "x/2": lambda lib, x: x / 2,
    "2/x": lambda lib, x: 2 / x,
    "x**2": lambda lib, x: x ** 2,
    "x**y": lambda lib, x: x ** x,
    "2**x": lambda lib, x: 2 ** x,
    "-x": lambda lib, x: -x,
    "exp": lambda lib, x: x.exp(),
    "log": lambda lib, x: x.abs().log(),
    "sin": lambda lib, x: x.sin(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "relu": lambda lib, x: x.relu(),
    "abs": lambda lib, x: x.abs(),
    "sqrt": lambda lib, x: x.abs().sqrt(),
    "maximum": lambda lib, x: lib.maximum(x, x * 2),
    "atan2": lambda lib, x: lib.atan2(x, x),
    "clamp": lambda lib, x: x.clamp(-1, 1),
    "clamp_min": lambda lib, x: x.clamp(min=0),
    "sum": lambda lib, x: x.sum(),
    "sum_dim": lambda lib, x: x.sum(0),
    "mean": lambda lib, x: x.mean(),
    "mean_dim": lambda lib, x: x.mean(1),
    "prod": lambda lib, x: x.prod(),
    "prod_dim": lambda lib, x: x.prod(1),
    "amax": lambda lib, x: x.amax(1),
    "max": lambda lib, x: x.max(),
    "max_dim": lambda lib, x: x.max(1).values,
    "min_dim": lambda lib, x: x.min(0)[0],
    "var": lambda lib, x: x.var(),
    "std": lambda lib, x: x.std(1),
    "norm": lambda lib, x: x.norm(),
    "norm_dim": lambda lib, x: x.norm(dim=1),
    "logsumexp": lambda lib, x: x.logsumexp(1),
    "cumsum": lambda lib, x: x.cumsum(1),
    "cumprod": lambda lib, x: x.cumprod(1),
    "softmax": lambda lib, x: x.softmax(1),
    "log_softmax": lambda lib, x: x.log_softmax(1),
    "sort": lambda lib, x: x.sort(1).values,
    "topk": lambda lib, x: x.topk(2).values,
    "median": lambda lib, x: x.median(),
    "view": lambda lib, x: x.view(3, 2),
    "reshape": lambda lib, x: x.reshape(-1),
    "reshape_copy": lambda lib, x: x.t().reshape(-1),
    "flatten": lambda lib, x: x.flatten(),
    "t": lambda lib, x: x.t(),
    "transpose": lambda lib, x: x.transpose(0, 1),
    "permute": lambda lib, x: x.permute(1, 0),
    "expand": lambda lib, x: x[:1].expand(3, 3),
    "squeeze": lambda lib, x: x[:1].squeeze(0),
    "unsqueeze": lambda lib, x: x.unsqueeze(0),
    "select": lambda lib, x: x[0],
    "slice": lambda lib, x: x[:, 1:],
    "index": lambda lib, x: x[[0, 1, 1]],
    "mask": lambda lib, x: x[x > 0],
    "narrow": lambda lib, x: x.narrow(1, 0, 2),
    "diagonal": lambda lib, x: x.diagonal(),
    "as_strided": lambda lib, x: x.as_strided((2,), (1,)),
    "split": lambda lib, x: x.split(1)[0],
    "unbind": lambda lib, x: x.unbind(1)[0],
    "clone": lambda lib, x: x.clone(),
    "contiguous_T": lambda lib, x: x.t().contiguous(),
    "to_float": lambda lib, x: x.float(),
    "cat": lambda lib, x: lib.cat([x, x]),
    "stack": lambda lib, x: lib.stack([x, x]),
    "where": lambda lib, x: lib.where(x > 0, x, x * 2),
    "masked_fill": lambda lib, x: x.masked_fill(x > 0, 0.0),
    "gather": lambda lib, x: x.gather(1, lib.tensor([[0], [1]])),
    "scatter": lambda lib, x: x.scatter(1, lib.tensor([[0], [1]]), 0.0),
    "scatter_add": lambda lib, x: x.scatter_add(1, lib.tensor([[0], [1]]), x[:, :1]),
    "mm": lambda lib, x: x @ x.t(),
    "mv": lambda lib, x: x @ x[0],
    "dot": lambda lib, x: x[0] @ x[1],
    "bmm": lambda lib, x: x.unsqueeze(0) @ x.t().unsqueeze(0),
    "matmul_nd": lambda lib, x: x.unsqueeze(0).expand(2, 2, 3) @ x.t(),
    "addmm": lambda lib, x: lib.addmm(x[:, :2], x, x.t()),
    "add_inplace": lambda lib, x: (x * 1).add_(1),
    "mul_inplace": lambda lib, x: (x * 1).mul_(x),
    "exp_inplace": lambda lib, x: (x * 1).exp_(),
    "setitem": lambda lib, x: (lambda y: (y.__setitem__(0, 1.0), y)[1])(x * 1),
    "view_inplace_base": lambda lib, x: (lambda y: (y[0].mul_(2), y)[1])(x * 1),
    "copy_": lambda lib, x: (x * 1).copy_(x.t().t()),
    "detach_requires": lambda lib, x: x.detach().requires_grad_() * 1,
    "einsum": lambda lib, x: lib.einsum("ij,ij->i", x, x),
    "outer": lambda lib, x: lib.outer(x[0], x[1]),
    "rsub": lambda lib, x: lib.rsub(x, 1),
    "pow_tensor_scalar_base": lambda lib, x: lib.pow(2.0, x),
    "floor": lambda lib, x: x.floor(),
    "sign": lambda lib, x: x.sign(),
}


@requires_torch
@pytest.mark.parametrize("name", list(GRAD_FN))
def test_grad_fn_names(name):
    r, t = GRAD_FN[name](rgrad, _x(rgrad)), GRAD_FN[name](torch, _x(torch))
    if t.grad_fn is None:
        assert r.grad_fn is None
        return
    assert r.grad_fn is not None
    assert r.grad_fn.name() == type(t.grad_fn).__name__


def node_name(fn):
    """torch's node class name (what rgrad's name() returns); torch's own name() qualifies
    a few C++ nodes (torch::autograd::AccumulateGrad)."""
    return fn.name() if type(fn).__name__ == "Node" else type(fn).__name__


def _structure(fn, depth=3):
    """(name, [children...]) down to AccumulateGrad, as nested tuples, following next_functions."""
    if fn is None:
        return None
    name = node_name(fn)
    if depth == 0:
        return (name,)
    return (name, tuple((_structure(n, depth - 1), i) for n, i in fn.next_functions))


@requires_torch
@pytest.mark.parametrize("expr", [
    lambda lib, x, y: x * y,
    lambda lib, x, y: x * 2,
    lambda lib, x, y: (x * y).sum(),
    lambda lib, x, y: (x * y.detach()).exp(),
    lambda lib, x, y: x + y,
    lambda lib, x, y: (x @ y.t()).sum(1),
    lambda lib, x, y: lib.cat([x, y.detach(), x]),
    lambda lib, x, y: x.t()[0],
    lambda lib, x, y: x.max(1).values,
    lambda lib, x, y: lib.where(x > 0, x, y),
    lambda lib, x, y: (x * 1).add_(y),
], ids=["mul", "mul_scalar", "sum", "detached", "add", "mm_sum", "cat", "views", "max", "where", "inplace"])
def test_next_functions_structure(expr):
    def leaves(lib):
        return (lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True),
                lib.tensor([[0.5, -1.0], [2.0, 1.5]], requires_grad=True))

    r = expr(rgrad, *leaves(rgrad))
    t = expr(torch, *leaves(torch))
    assert _structure(r.grad_fn) == _structure(t.grad_fn)


def test_accumulate_grad_variable():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = rgrad.tensor([3.0, 4.0], requires_grad=True)
    z = x * y
    (ax, i0), (ay, i1) = z.grad_fn.next_functions
    assert ax.name() == "AccumulateGrad" and ay.name() == "AccumulateGrad"
    assert (i0, i1) == (0, 0)
    assert ax.next_functions == ()
    assert ax.variable.data_ptr() == x.data_ptr()
    assert ay.variable.data_ptr() == y.data_ptr()
    # the variable is the leaf itself: gradients written through it show up on x
    ax.variable.grad = rgrad.tensor([7.0, 7.0])
    assert x.grad.tolist() == [7.0, 7.0]
    # the same leaf used twice shares one AccumulateGrad node
    w = x * x
    a, b = w.grad_fn.next_functions
    assert a[0] == b[0]
    assert (x + 1).grad_fn.next_functions[0][0] == a[0]
    # a non-AccumulateGrad node has no .variable
    with pytest.raises(AttributeError):
        z.grad_fn.variable


@requires_torch
def test_accumulate_grad_variable_is_identity():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    z = x * 2
    assert z.grad_fn.next_functions[0][0].variable is x


def test_grad_fn_object_identity_and_repr():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    assert y.grad_fn == y.grad_fn
    assert hash(y.grad_fn) == hash(y.grad_fn)
    assert re.fullmatch(r"<ExpBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    z = y * 2
    assert z.grad_fn.next_functions[0][0] == y.grad_fn
    assert x.grad_fn is None


@requires_torch
@pytest.mark.parametrize("expr", [
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) * 2).sum(),
    lambda lib: lib.tensor(3.0, requires_grad=True),
    pytest.param(lambda lib: lib.tensor([[1.0, 2.0]], dtype=lib.float64, requires_grad=True).t(),
                 marks=pytest.mark.cpu_only(reason=FLOAT64_REASON)),
    pytest.param(lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True).exp(),
                 marks=pytest.mark.cpu_only(reason=FLOAT64_REASON)),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).detach(),
    lambda lib: lib.zeros(0, 3, requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).max(0),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).float(),
    lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float16, requires_grad=True) + 1,
], ids=["leaf", "mul", "sum", "0d", "t_f64", "exp_f64", "detach", "empty", "max", "float_noop", "f16"])
def test_repr_with_grad(expr):
    # torch's tensors here are on the CPU: the GPU pass compares all but rgrad's device= suffix
    assert as_torch(strip_device(repr(expr(rgrad)))) == repr(expr(torch))
    assert as_torch(strip_device(str(expr(rgrad)))) == str(expr(torch))


# ----- hooks --------------------------------------------------------------------------------

def test_hook_modifies_leaf_grad_and_remove():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    calls = []

    def hook(g):
        calls.append(g.tolist())
        return g * 10

    h = x.register_hook(hook)
    (x * 3).sum().backward()
    assert calls == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert len(calls) == 1
    h.remove()   # removing twice is harmless


def test_hook_on_intermediate_propagates_modified_grad():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.clone()))    # returns None: grad unchanged
    y.register_hook(lambda g: g + 1)                      # hooks run in registration order
    y.register_hook(lambda g: seen.append(g.clone()))
    (y * y).sum().backward()
    assert seen[0].tolist() == [4.0, 8.0]
    assert seen[1].tolist() == [5.0, 9.0]
    assert x.grad.tolist() == [10.0, 18.0]


@requires_torch
def test_hooks_match_torch_with_retain_grad():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = x.exp()
        y.retain_grad()
        y.register_hook(lambda g: g * 2)
        z = (y * x).sum()
        z.backward()
        res.append((y.grad.cpu().numpy().copy(), x.grad.cpu().numpy().copy()))
    for a, b in zip(*res):
        assert_close(a, b, rtol=1e-12)


@requires_torch
def test_hook_called_once_with_total_grad_of_reused_tensor():
    res = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        calls = []
        y.register_hook(lambda g: calls.append(g.tolist()))
        (y * 2 + y * 3 + y.sin()).sum().backward()
        res.append(calls)
    assert res[0] == res[1]


def test_hook_with_autograd_grad():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 0.5)
    (g,) = rgrad.autograd.grad(y.sum(), x)
    assert g.tolist() == [1.0, 1.0]
    assert x.grad is None


def test_hook_exception_propagates():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)

    def bad(g):
        raise ValueError("boom in hook")

    x.register_hook(bad)
    with pytest.raises(ValueError, match="boom in hook"):
        (x * 2).sum().backward()


def test_hook_returning_wrong_shape():
    x = rgrad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: rgrad.ones(3))
    with pytest.raises(RuntimeError):
        (x * 2).sum().backward()


# ----- autograd.grad / backward options -----------------------------------------------------

@requires_torch
def test_autograd_grad_allow_unused_and_materialize():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = lib.tensor([3.0], requires_grad=True)
        y = (x * x).sum()
        gx, gz = lib.autograd.grad(y, [x, z], retain_graph=True, allow_unused=True)
        assert gx.tolist() == [2.0, 4.0] and gz is None
        gx, gz = lib.autograd.grad(y, [x, z], materialize_grads=True)
        assert gz.tolist() == [0.0] and gz.dtype == lib.float32
        assert x.grad is None and z.grad is None


@requires_torch
def test_autograd_grad_multiple_outputs_and_grad_outputs():
    res = []
    for lib in LIBS:
        a = from_np(lib, rnd((2, 3))).requires_grad_()
        b = from_np(lib, rnd((3,), 1)).requires_grad_()
        o1 = a * b
        o2 = (a.exp() @ b)
        g = lib.autograd.grad([o1, o2], [a, b], [from_np(lib, rnd((2, 3), 2)), from_np(lib, rnd((2,), 3))],
                              retain_graph=True)
        # None for a scalar output's grad_output means ones
        h = lib.autograd.grad([o1.sum(), o2], (b,), [None, lib.ones(2, dtype=getattr(lib, WIDE_FLOAT))])
        res.append([t.cpu().numpy().copy() for t in g + h])
    for x, y in zip(*res):
        assert_close(x, y, rtol=1e-12)


@requires_torch
def test_autograd_grad_wrt_intermediate_and_tuple_result():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        z = (y * y).sum()
        r = lib.autograd.grad(z, y)
        assert isinstance(r, tuple) and len(r) == 1
        assert r[0].tolist() == [6.0, 12.0]


@requires_torch
def test_backward_with_inputs():
    res = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        y = (x * w).sum()
        y.backward(inputs=[w], retain_graph=True)
        first = (x.grad, w.grad.tolist())
        y.backward(inputs=x)
        res.append((first[0] is None, first[1], x.grad.tolist(), w.grad.tolist()))
    assert res[0] == res[1]


@requires_torch
def test_backward_with_inputs_intermediate():
    res = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        y = (h * h).sum()
        y.backward(inputs=[h])
        res.append((x.grad is None, h.grad.tolist()))
    assert res[0] == res[1]


@requires_torch
def test_backward_gradient_argument():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((2, 3))).requires_grad_()
        y = x.sin() * 2
        y.backward(from_np(lib, rnd((2, 3), 1)))
        res.append(x.grad.cpu().numpy().copy())
    assert_close(res[0], res[1], rtol=1e-12)


@requires_torch
def test_autograd_backward_function_multiple_roots():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3,))).requires_grad_()
        a, b = x.exp(), (x * x).sum()
        lib.autograd.backward([a, b], [from_np(lib, rnd((3,), 1)), None])
        res.append(x.grad.cpu().numpy().copy())
    assert_close(res[0], res[1], rtol=1e-12)


@requires_torch
def test_backward_non_float_scalar_gradient_conversion():
    # a Python number as the gradient of a 0-d output
    res = []
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        try:
            y.backward(lib.tensor(2.0))
            res.append(x.grad.tolist())
        except Exception as e:
            res.append(type(e).__name__)
    assert res[0] == res[1]


@requires_torch
def test_grad_of_leaf_itself():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(x, x, lib.tensor([3.0, 4.0]))
        assert g.tolist() == [3.0, 4.0]


@requires_torch
def test_grad_through_detached_branch_is_zero_not_none():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.detach() * 3).sum() + (x * 0).sum()
        (g,) = lib.autograd.grad(y, x)
        assert g.tolist() == [0.0, 0.0]


@requires_torch
def test_float32_gradients():
    res = []
    for lib in LIBS:
        x = from_np(lib, rnd((3, 4)).astype(np.float32)).requires_grad_()
        w = from_np(lib, rnd((4, 2), 1).astype(np.float32)).requires_grad_()
        lib.log_softmax(x @ w, 1).sum().backward()
        assert x.grad.dtype == lib.float32
        res.append((x.grad.cpu().numpy().copy(), w.grad.cpu().numpy().copy()))
    for a, b in zip(*res):
        assert_close(a, b, rtol=1e-5, atol=1e-6)


# ----- custom Function ----------------------------------------------------------------------

def _make_functions(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulScale(lib.autograd.Function):
        """Non-tensor args: backward returns None for them."""

        @staticmethod
        def forward(ctx, x, y, scale, flag=True):
            ctx.save_for_backward(x, y)
            ctx.scale = scale
            ctx.flags = ctx.needs_input_grad
            return x * y * scale if flag else x

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            gx = g * y * ctx.scale if ctx.needs_input_grad[0] else None
            gy = g * x * ctx.scale if ctx.needs_input_grad[1] else None
            return gx, gy, None, None

    class SinCos(lib.autograd.Function):
        """Two outputs."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()

    return Exp, MulScale, SinCos


@requires_torch
def test_custom_function_basic():
    res = []
    for lib in LIBS:
        Exp, MulScale, SinCos = _make_functions(lib)
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = Exp.apply(x)
        assert y.requires_grad and not y.is_leaf
        assert node_name(y.grad_fn) == "ExpBackward" == y.grad_fn.name()
        assert node_name(y.grad_fn.next_functions[0][0]) == "AccumulateGrad"
        (y * 2).sum().backward()
        res.append(x.grad.cpu().numpy().copy())
    assert_close(res[0], res[1], rtol=1e-12)


@requires_torch
def test_custom_function_non_tensor_args_and_needs_input_grad():
    res = []
    for lib in LIBS:
        _, MulScale, _ = _make_functions(lib)
        x = from_np(lib, rnd((3,))).requires_grad_()
        y = from_np(lib, rnd((3,), 1))                # does not require grad
        out = MulScale.apply(x, y, 2.5, True)
        ctx = out.grad_fn._ctx if lib is rgrad else out.grad_fn
        assert ctx.flags == (True, False, False, False)
        out.sum().backward()
        assert y.grad is None
        res.append(x.grad.cpu().numpy().copy())
        # both require grad
        y.requires_grad_()
        x.grad = None
        MulScale.apply(x, y, -1.0).sum().backward()
        res.append(np.concatenate([x.grad.cpu().numpy(), y.grad.cpu().numpy()]))
    for a, b in zip(res[:2], res[2:]):
        assert_close(a, b, rtol=1e-12)


@requires_torch
def test_custom_function_needs_input_grad_matches_torch():
    flags = []
    for lib in LIBS:
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b, k, c):
                flags.append(ctx.needs_input_grad)
                return a * b * k + c

            @staticmethod
            def backward(ctx, g):
                return g, g, None, g

        F.apply(lib.ones(2, requires_grad=True), lib.ones(2), 3, lib.ones(2, requires_grad=True))
    assert flags[0] == flags[1]


@requires_torch
def test_custom_function_multiple_outputs():
    res = []
    for lib in LIBS:
        _, _, SinCos = _make_functions(lib)
        x = from_np(lib, rnd((4,))).requires_grad_()
        s, c = SinCos.apply(x)
        assert s.grad_fn == c.grad_fn
        (s * 2 + c * 3).sum().backward()
        g1 = x.grad.cpu().numpy().copy()
        x.grad = None
        s, c = SinCos.apply(x)
        s.sum().backward()       # the unused output's gradient arrives as zeros (materialize_grads)
        res.append((g1, x.grad.cpu().numpy().copy()))
    for a, b in zip(*res):
        assert_close(a, b, rtol=1e-12)


def test_custom_function_unused_output_grad_is_zeros_tensor():
    seen = []

    class Two(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            seen.append((ga, gb))
            return ga * 2 + gb * 3

    x = rgrad.ones(2, requires_grad=True)
    a, b = Two.apply(x)
    a.sum().backward()
    ga, gb = seen[0]
    assert isinstance(gb, rgrad.Tensor) and gb.tolist() == [0.0, 0.0]
    assert x.grad.tolist() == [2.0, 2.0]


@requires_torch
def test_custom_function_under_no_grad_and_without_grad_inputs():
    for lib in LIBS:
        Exp, _, _ = _make_functions(lib)
        x = lib.ones(2, requires_grad=True)
        with lib.no_grad():
            y = Exp.apply(x)
        assert not y.requires_grad and y.grad_fn is None
        z = Exp.apply(lib.ones(2))
        assert not z.requires_grad and z.grad_fn is None


@requires_torch
def test_custom_function_wrong_number_of_grads():
    def f(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g

        Bad.apply(lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)).sum().backward()

    same_error(f)


@requires_torch
def test_custom_function_grad_shape_mismatch_error():
    def f(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g[:1]

        Bad.apply(lib.ones(2, requires_grad=True)).sum().backward()

    same_error(f)


@requires_torch
def test_custom_function_mark_non_differentiable():
    for lib in LIBS:
        class ArgSortVals(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                v, i = x.sort()
                ctx.mark_non_differentiable(i)
                ctx.save_for_backward(i)
                return v, i

            @staticmethod
            def backward(ctx, gv, gi):
                (i,) = ctx.saved_tensors
                return lib.zeros_like(gv).scatter(0, i, gv)

        x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
        v, i = ArgSortVals.apply(x)
        assert v.requires_grad and not i.requires_grad
        (v * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        assert x.grad.tolist() == [3.0, 1.0, 2.0]


@requires_torch
def test_custom_function_returning_input_and_double_backward():
    res = []
    for lib in LIBS:
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 3 * g * x * x      # differentiable: double backward works

        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g

        x = from_np(lib, rnd((3,))).requires_grad_()
        y = Ident.apply(x)
        assert y.requires_grad and not y.is_leaf
        (g,) = lib.autograd.grad(Cube.apply(y).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x)
        res.append((g.detach().cpu().numpy().copy(), g2.cpu().numpy().copy()))
    for a, b in zip(*res):
        assert_close(a, b, rtol=1e-12)


def test_custom_function_ctx_released_after_backward():
    class Sq(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = rgrad.ones(2, requires_grad=True)
    y = Sq.apply(x)
    ctx = y.grad_fn._ctx
    assert len(ctx.saved_tensors) == 1
    y.sum().backward(retain_graph=True)
    assert len(ctx.saved_tensors) == 1
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        ctx.saved_tensors
    assert x.grad.tolist() == [4.0, 4.0]


def test_custom_function_saved_input_modified_error():
    class Sq(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = rgrad.ones(2, requires_grad=True)
    a = x * 1
    y = Sq.apply(a)
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ----- autograd.functional ------------------------------------------------------------------

def _f_vec(lib):
    return lambda x: (x.sin() * x.sum()).exp()


def _f_two(lib):
    return lambda x, y: (x.unsqueeze(1) * y.tanh()).sum(0)


def _f_scalar(lib):
    return lambda x: (x.exp() * x.sin()).sum() + (x @ x) ** 2


def _f_scalar2(lib):
    return lambda x, y: (x.unsqueeze(1) * y.sin()).sum() * x.prod()


def _cmp_nested(a, b, rtol=1e-10):
    if isinstance(b, torch.Tensor):
        assert isinstance(a, rgrad.Tensor)
        assert_matches(a, b, rtol=rtol, atol=1e-11)
        return
    assert isinstance(a, tuple) and len(a) == len(b), (type(a), a, b)
    for x, y in zip(a, b):
        _cmp_nested(x, y, rtol)


@requires_torch
@pytest.mark.parametrize("case", ["one_one", "two_inputs", "tuple_out", "tuple_in_single"])
def test_jacobian(case):
    a, b = rnd((3,), 1) * 0.5, rnd((3, 2), 2)

    def run(lib):
        x, y = from_np(lib, a.copy()), from_np(lib, b.copy())
        if case == "one_one":
            return lib.autograd.functional.jacobian(_f_vec(lib), x)
        if case == "two_inputs":
            return lib.autograd.functional.jacobian(_f_two(lib), (x, y))
        if case == "tuple_out":
            return lib.autograd.functional.jacobian(lambda t: (t.exp(), t.sum()), x)
        return lib.autograd.functional.jacobian(lambda t: t * 2, (x,))

    _cmp_nested(run(rgrad), run(torch))


@requires_torch
def test_jacobian_create_graph_and_unused_input():
    a = rnd((3,), 1)
    res = []
    for lib in LIBS:
        x = from_np(lib, a.copy()).requires_grad_()
        z = from_np(lib, a.copy())
        j = lib.autograd.functional.jacobian(lambda t: t ** 3, x, create_graph=True)
        assert j.requires_grad
        (g,) = lib.autograd.grad(j.sum(), x)
        ju = lib.autograd.functional.jacobian(lambda t, u: t * 2, (x, z))
        res.append((j.detach(), g, ju))
    _cmp_nested(tuple(res[0]), tuple(res[1]))


@requires_torch
@pytest.mark.parametrize("case", ["one", "two"])
def test_hessian(case):
    a, b = rnd((3,), 1) * 0.5, rnd((3, 2), 2)

    def run(lib):
        x, y = from_np(lib, a.copy()), from_np(lib, b.copy())
        if case == "one":
            return lib.autograd.functional.hessian(_f_scalar(lib), x)
        return lib.autograd.functional.hessian(_f_scalar2(lib), (x, y))

    _cmp_nested(run(rgrad), run(torch))


@requires_torch
def test_vjp_jvp_vhp_hvp():
    a, v, w = rnd((3,), 1) * 0.5, rnd((3,), 2), rnd((3,), 3)
    out = []
    for lib in LIBS:
        x = from_np(lib, a.copy())
        F = lib.autograd.functional
        out.append((
            F.vjp(_f_vec(lib), x, from_np(lib, v.copy())),
            F.jvp(_f_vec(lib), x, from_np(lib, w.copy())),
            F.vhp(_f_scalar(lib), x, from_np(lib, v.copy())),
            F.hvp(_f_scalar(lib), x, from_np(lib, w.copy())),
            F.vjp(lambda t: t.sum() * 2, x),
        ))
    _cmp_nested(out[0], out[1])


@requires_torch
def test_functional_does_not_touch_inputs():
    x = from_np(rgrad, rnd((3,)))
    rgrad.autograd.functional.jacobian(lambda t: t.exp(), x)
    assert not x.requires_grad and x.grad is None


# ----- threads ------------------------------------------------------------------------------

def test_backward_in_two_threads_on_separate_graphs():
    n = 40
    errors = []
    results = {}
    barrier = threading.Barrier(2)

    def work(tid):
        try:
            rng = np.random.default_rng(tid)
            barrier.wait()
            for k in range(n):
                a = rng.standard_normal((8, 8))
                w = from_np(rgrad, a).requires_grad_()
                x = from_np(rgrad, np.eye(8) * (tid + 1))
                loss = ((w @ x).tanh() ** 2).sum()
                loss.backward()
                want = 2 * np.tanh(a * (tid + 1)) * (1 - np.tanh(a * (tid + 1)) ** 2) * (tid + 1)
                assert_close(w.grad.cpu().numpy(), want, rtol=1e-10, atol=1e-12)
                results[tid] = k + 1
        except Exception as e:  # surfaced in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == {0: n, 1: n}


def test_backward_in_threads_on_shared_leaf_accumulates():
    w = rgrad.ones(16, dtype=getattr(rgrad, WIDE_FLOAT), requires_grad=True)
    n = 50

    def work():
        for _ in range(n):
            (w * 2).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert w.grad.tolist() == [2.0 * 2 * n] * 16


def test_custom_function_backward_in_threads():
    class Sq(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    errors = []

    def work(seed):
        try:
            for k in range(30):
                x = rgrad.full((5,), float(seed + k), dtype=rgrad.float64, requires_grad=True)
                Sq.apply(x).sum().backward()
                assert x.grad.tolist() == [2.0 * (seed + k)] * 5
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


# ----- release of saved state ---------------------------------------------------------------

class _Sentinel:
    pass


def _tracked_function(refs):
    class Tracked(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = _Sentinel()
            ctx.sentinel = s
            refs.append(weakref.ref(s))
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return Tracked


def test_graph_freed_when_output_dropped():
    refs = []
    Tracked = _tracked_function(refs)
    x = rgrad.ones(3, requires_grad=True)
    y = Tracked.apply(x)
    assert refs[0]() is not None
    del y
    gc.collect()
    assert refs[0]() is None


def test_training_loop_does_not_keep_graphs_alive():
    refs = []
    Tracked = _tracked_function(refs)
    w = rgrad.ones(4, dtype=getattr(rgrad, WIDE_FLOAT), requires_grad=True)
    x = from_np(rgrad, rnd((4,)))
    for _ in range(1000):
        y = (Tracked.apply(w) * x).sum()
        y.backward()
        w.grad = None
    del y
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert alive == 0, f"{alive} of {len(refs)} graphs still alive"


def test_hook_closure_released_with_tensor():
    s = _Sentinel()
    ref = weakref.ref(s)
    x = rgrad.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g, s=s: g)
    del s
    assert ref() is not None
    del y
    gc.collect()
    assert ref() is None


def test_removed_hook_closure_released():
    s = _Sentinel()
    ref = weakref.ref(s)
    x = rgrad.ones(2, requires_grad=True)
    h = x.register_hook(lambda g, s=s: g)
    del s
    h.remove()
    gc.collect()
    assert ref() is None


def test_saved_tensor_refcount_drops_after_backward():
    # the Python-side ctx drops its saved tensors once backward frees the graph
    class Sq(rgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = rgrad.ones(2, requires_grad=True)
    a = x * 1
    before = sys.getrefcount(a)
    y = Sq.apply(a)
    assert sys.getrefcount(a) == before + 1     # held by ctx._saved
    y.sum().backward()
    gc.collect()
    assert sys.getrefcount(a) == before


# ----- requires_grad= on creation functions ---------------------------------------------------

CREATION = {
    "tensor": lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    "ones": lambda lib: lib.ones(2, 3, requires_grad=True),
    "zeros": lambda lib: lib.zeros((2,), dtype=getattr(lib, WIDE_FLOAT), requires_grad=True),
    "full": lambda lib: lib.full((2,), 3.0, requires_grad=True),
    "empty": lambda lib: lib.empty(2, requires_grad=True),
    "eye": lambda lib: lib.eye(3, requires_grad=True),
    "arange": lambda lib: lib.arange(0.0, 3.0, requires_grad=True),
    "linspace": lambda lib: lib.linspace(0, 1, 5, requires_grad=True),
    "rand": lambda lib: lib.rand(3, requires_grad=True),
    "randn": lambda lib: lib.randn(3, dtype=getattr(lib, WIDE_FLOAT), requires_grad=True),
    "ones_like": lambda lib: lib.ones_like(lib.zeros(2), requires_grad=True),
    "zeros_like": lambda lib: lib.zeros_like(lib.zeros(2, dtype=getattr(lib, WIDE_FLOAT)), requires_grad=True),
    "full_like": lambda lib: lib.full_like(lib.zeros(2), 7.0, requires_grad=True),
    "new_ones": lambda lib: lib.zeros(2).new_ones(3, requires_grad=True),
    "new_tensor": lambda lib: lib.zeros(2).new_tensor([1.0], requires_grad=True),
}


@requires_torch
@pytest.mark.parametrize("name", list(CREATION))
def test_creation_requires_grad(name):
    r, t = CREATION[name](rgrad), CREATION[name](torch)
    assert (r.requires_grad, r.is_leaf, r.grad_fn is None, str(r.dtype).split(".")[-1]) == \
        (t.requires_grad, t.is_leaf, t.grad_fn is None, str(t.dtype).split(".")[-1])
    (r * 2).sum().backward()
    assert r.grad is not None and r.grad.shape == r.shape


@requires_torch
@pytest.mark.parametrize("name", ["arange_int", "ones_int", "full_int"])
def test_creation_integer_requires_grad_error(name):
    fn = {"arange_int": lambda lib: lib.arange(3, requires_grad=True),
          "ones_int": lambda lib: lib.ones(2, dtype=lib.int64, requires_grad=True),
          "full_int": lambda lib: lib.full((2,), 3, requires_grad=True)}[name]
    same_error(fn)


@requires_torch
def test_data_attribute():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.data
        assert not d.requires_grad and d.is_leaf
        d.mul_(3)                        # not seen by autograd, changes x
        assert x.tolist() == [3.0, 6.0]
        y = x * x
        x.data.add_(1)                   # no version-counter error afterwards, as in torch
        y.sum().backward()
        assert x.grad.tolist() == [8.0, 14.0]
