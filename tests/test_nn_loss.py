"""Loss functions (rgrad.nn.functional and the loss modules) against torch: values, gradients
of every differentiable input, grad_fn names and error messages."""

import warnings

import numpy as np
import pytest

import rgrad
import rgrad.nn.functional as F
from helpers import FLOAT64_REASON, assert_matches, from_np, requires_torch, torch

pytestmark = requires_torch

REDUCTIONS = ["mean", "sum", "none"]


def rng(seed=0):
    return np.random.default_rng(seed)


def pair(a, requires_grad=False):
    """The same numpy array as an rgrad and a torch tensor."""
    r, t = from_np(rgrad, a), from_np(torch, a)
    if requires_grad:
        r.requires_grad_(True)
        t.requires_grad_(True)
    return r, t


def check(name, arrays, grad_args, kwargs=None, rtol=1e-6, atol=1e-7, grad_fn_name=True):
    """Runs F.<name> on rgrad and torch with the same inputs; compares the loss, its grad_fn name
    and the gradients of the inputs listed in `grad_args` (positions) under a random upstream grad."""
    kwargs = kwargs or {}
    pairs = [pair(a, i in grad_args) if isinstance(a, np.ndarray) else (a, a) for i, a in enumerate(arrays)]
    wrap = lambda v, k: v[k] if isinstance(v, tuple) else v  # noqa: E731
    rk = {k: wrap(v, 0) for k, v in kwargs.items()}
    tk = {k: wrap(v, 1) for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = getattr(F, name)(*[p[0] for p in pairs], **rk)
        want = getattr(torch.nn.functional, name)(*[p[1] for p in pairs], **tk)
    assert_matches(got.detach(), want, rtol=rtol, atol=atol)
    if not grad_args:
        return got
    if grad_fn_name:
        assert got.grad_fn.name() == want.grad_fn.name()
    up = rng(7).standard_normal(tuple(want.shape)).astype(arrays[0].dtype)
    got.backward(from_np(rgrad, up))
    want.backward(from_np(torch, up))
    for i in grad_args:
        assert_matches(pairs[i][0].grad, pairs[i][1].grad, rtol=rtol, atol=atol)
    return got


# ----- regression losses -------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,extra", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                        ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
                                        ("huber_loss", {}), ("huber_loss", {"delta": 0.3})])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_regression_losses(name, extra, reduction, dtype):
    g = rng(1)
    x = g.standard_normal((4, 5)).astype(dtype)
    y = g.standard_normal((4, 5)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else {}
    check(name, [x, y], (0, 1), dict(reduction=reduction, **extra), **tol)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_weight(name, reduction):
    g = rng(2)
    x, y = g.standard_normal((3, 4)), g.standard_normal((3, 4))
    w = g.random((3, 4))
    check(name, [x, y], (0, 1), dict(reduction=reduction, weight=pair(w)))
    with pytest.raises(ValueError, match="Weights and input must have the same size."):
        getattr(F, name)(from_np(rgrad, x), from_np(rgrad, y), weight=rgrad.ones(4))


def test_regression_broadcast_warns_like_torch():
    g = rng(3)
    x, y = g.standard_normal((3, 4)), g.standard_normal((4,))
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(from_np(rgrad, x), from_np(rgrad, y))
    check("mse_loss", [x, y], (0, 1))
    check("smooth_l1_loss", [x, y], (0, 1))


def test_legacy_reduction_args():
    g = rng(4)
    a, b = g.standard_normal(5), g.standard_normal(5)
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        check("mse_loss", [a, b], (0,), dict(size_average=size_average, reduce=reduce))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        F.l1_loss(from_np(rgrad, a), from_np(rgrad, b), size_average=False)


# ----- nll / cross entropy -----------------------------------------------------------------

def class_data(shape, n_classes, seed=0, ignore=None):
    g = rng(seed)
    x = g.standard_normal(shape)
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = g.integers(0, n_classes, tshape).astype(np.int64)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return x, t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 5), (2, 4, 3, 2), (2, 4, 2, 1, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 2])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_index_losses(name, shape, reduction, weighted, ignore):
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    x, t = class_data(shape, n_classes, ignore=ignore)
    kw = dict(reduction=reduction)
    if ignore is not None:
        kw["ignore_index"] = ignore
    if weighted:
        kw["weight"] = pair(rng(5).random(n_classes) + 0.1)
    check(name, [x, t], (0,), kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 5)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.1, 1.0])
def test_label_smoothing(shape, reduction, weighted, smoothing):
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    x, t = class_data(shape, n_classes, seed=1, ignore=1)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=1)
    if weighted:
        kw["weight"] = pair(rng(5).random(n_classes) + 0.1)
    check("cross_entropy", [x, t], (0,), kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 5)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_probability_targets(shape, reduction, weighted, smoothing):
    g = rng(6)
    x = g.standard_normal(shape)
    p = g.random(shape)
    p /= p.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kw["weight"] = pair(rng(5).random(n_classes) + 0.1)
    # torch names a division by a Python number DivBackward1; rgrad's core names every division DivBackward0.
    check("cross_entropy", [x, p], (0, 1), kw, grad_fn_name=reduction != "mean")


def test_cross_entropy_float32_large_logits_stay_finite():
    g = rng(8)
    x = (g.standard_normal((128, 10)) * 1e4).astype(np.float32)
    t = g.integers(0, 10, 128)
    got = check("cross_entropy", [x, t], (0,), rtol=1e-5, atol=1e-5)
    assert np.isfinite(got.item())


def test_all_targets_ignored_gives_nan_like_torch():
    x, t = class_data((3, 4), 4)
    t[:] = -100
    check("cross_entropy", [x, t], (0,))


def same_error(name, *arrays, **kwargs):
    """F.<name> raises the same exception type and message in rgrad as in torch."""
    with pytest.raises(Exception) as want:
        getattr(torch.nn.functional, name)(*[from_np(torch, a) for a in arrays], **kwargs)
    with pytest.raises(want.type) as got:
        getattr(F, name)(*[from_np(rgrad, a) for a in arrays], **kwargs)
    assert str(got.value) == str(want.value).replace("torch.Size", "rgrad.Size")


def test_class_loss_errors():
    x = np.zeros((4, 3), dtype=np.float32)
    same_error("cross_entropy", x, np.zeros(3, dtype=np.int64))
    same_error("nll_loss", x, np.array([0, 1, 3, 2]))
    same_error("cross_entropy", x, np.array([0, -1, 1, 2]))
    same_error("cross_entropy", x, np.array([0, 1, 1, 2], dtype=np.int32))
    same_error("cross_entropy", x, np.zeros((4, 3), dtype=np.int64))
    same_error("cross_entropy", x, np.array([0, 1, 1, 2]), label_smoothing=1.5)
    same_error("cross_entropy", np.zeros((2, 3, 5)), np.zeros((2, 4), dtype=np.int64))
    same_error("nll_loss", np.zeros((2, 3)), np.zeros((2, 4), dtype=np.int64))
    same_error("cross_entropy", np.zeros(()), np.zeros((), dtype=np.int64))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        F.nll_loss(from_np(rgrad, x), rgrad.tensor([0, 1, 1, 2]), weight=rgrad.ones(2))
    same_error("mse_loss", x, x, reduction="bad")
    same_error("smooth_l1_loss", x, x, beta=-1.0)
    same_error("huber_loss", x, x, delta=0.0)
    same_error("kl_div", x, x, reduction="bad")
    same_error("nll_loss", x, np.array([0, 1, 1, 2]), reduction="bad")
    same_error("binary_cross_entropy", x + 1.5, x)
    same_error("binary_cross_entropy", np.zeros(2), np.zeros(1))
    same_error("binary_cross_entropy_with_logits", np.zeros(2), np.zeros(3))
    same_error("cosine_embedding_loss", np.zeros(3), np.zeros(3), np.ones(3))


def test_cross_entropy_uint8_target():
    x, t = class_data((5, 3), 3)
    check("cross_entropy", [x, t.astype(np.uint8)], (0,))


# ----- binary losses -----------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [None, "full", "broadcast"])
def test_binary_cross_entropy(reduction, weighted):
    g = rng(9)
    x = g.random((4, 3)) * 0.98 + 0.01
    t = g.random((4, 3))
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = pair(g.random((4, 3) if weighted == "full" else (3,)))
    check("binary_cross_entropy", [x, t], (0, 1), kw)


def test_binary_cross_entropy_clamps_log_at_the_edges():
    x = np.array([0.0, 1.0, 0.5, 1e-50])
    t = np.array([1.0, 0.0, 1.0, 1.0])
    got = check("binary_cross_entropy", [x, t], (), dict(reduction="none"))
    assert np.isfinite(got.cpu().numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_binary_cross_entropy_with_logits(reduction, weighted, pos_weighted, scale):
    g = rng(10)
    x = g.standard_normal((5, 3)) * scale
    t = g.random((5, 3))
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = pair(g.random((5, 3)))
    if pos_weighted:
        kw["pos_weight"] = pair(g.random(3) * 3)
    got = check("binary_cross_entropy_with_logits", [x, t], (0, 1), kw)
    assert np.isfinite(got.detach().cpu().numpy()).all()


# ----- kl_div, cosine embedding ------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    g = rng(11)
    x = np.log(g.dirichlet(np.ones(4), 3))
    t = g.dirichlet(np.ones(4), 3)
    t[0, 1] = 0.0
    if log_target:
        t = np.log(t + 1e-3)
    check("kl_div", [x, t], (0, 1) if log_target else (0,), dict(reduction=reduction, log_target=log_target))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss(reduction, margin, batched):
    g = rng(12)
    shape = (5, 4) if batched else (4,)
    a, b = g.standard_normal(shape), g.standard_normal(shape)
    y = np.array([1, -1, 1, -1, -1]) if batched else np.array(-1)
    check("cosine_embedding_loss", [a, b, y], (0, 1), dict(margin=margin, reduction=reduction))


# ----- autograd details --------------------------------------------------------------------

@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_loss_gradcheck_float64():
    g = rng(13)
    x = rgrad.tensor(g.standard_normal((3, 4)), requires_grad=True)
    y = rgrad.tensor(g.standard_normal((3, 4)), requires_grad=True)
    p = rgrad.tensor(g.random((3, 4)) * 0.8 + 0.1, requires_grad=True)
    t = rgrad.tensor([0, 3, 1])
    fns = [lambda x, y: F.mse_loss(x, y), lambda x, y: F.smooth_l1_loss(x, y, beta=0.7),
           lambda x, y: F.huber_loss(x, y, delta=0.5), lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid()),
           lambda x, y: F.cross_entropy(x, t, label_smoothing=0.1) + 0 * y.sum()]
    for fn in fns:
        assert rgrad.autograd.gradcheck(fn, (x, y))
    assert rgrad.autograd.gradcheck(lambda p, y: F.binary_cross_entropy(p, y.sigmoid()), (p, y))


@pytest.mark.parametrize("name", ["mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy_with_logits",
                                  "binary_cross_entropy", "cross_entropy", "nll_loss"])
def test_second_order_matches_torch(name):
    g = rng(14)
    a = g.standard_normal((4, 3))
    target = {"cross_entropy": np.array([0, 2, 1, 1]), "nll_loss": np.array([0, 2, 1, 1])}.get(name, g.random((4, 3)))
    # bce takes probabilities, nll log-probabilities: feed them through a differentiable map first.
    pre = {"binary_cross_entropy": lambda x: x.sigmoid(), "nll_loss": lambda x: x.log_softmax(1)}.get(name, lambda x: x)
    x, tx = pair(a, True)
    y, ty = pair(target)
    (gx,) = rgrad.autograd.grad(getattr(F, name)(pre(x), y), x, create_graph=True)
    (tgx,) = torch.autograd.grad(getattr(torch.nn.functional, name)(pre(tx), ty), tx, create_graph=True)
    (ggx,) = rgrad.autograd.grad((gx * gx.detach().exp()).sum(), x)
    (tggx,) = torch.autograd.grad((tgx * tgx.detach().exp()).sum(), tx)
    assert_matches(ggx, tggx, rtol=1e-6, atol=1e-9)


def test_backward_twice_raises():
    x = rgrad.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, rgrad.tensor([0, 1, 2]))
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_no_graph_without_grad():
    x = rgrad.randn(3, 4)
    assert F.cross_entropy(x, rgrad.tensor([0, 1, 2])).grad_fn is None
    with rgrad.no_grad():
        assert F.mse_loss(x.requires_grad_(), x).grad_fn is None


# ----- modules -----------------------------------------------------------------------------

MODULE_CASES = [
    ("MSELoss", {}, "reg"), ("L1Loss", {}, "reg"), ("SmoothL1Loss", {"beta": 0.5}, "reg"),
    ("HuberLoss", {"delta": 0.5}, "reg"), ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 1}, "cls"),
    ("CrossEntropyLoss", {"weight": "w"}, "cls"), ("NLLLoss", {"weight": "w"}, "cls"), ("BCELoss", {"weight": "w"},
                                                                                       "prob"),
    ("BCEWithLogitsLoss", {"pos_weight": "w"}, "logit"), ("KLDivLoss", {"log_target": True}, "reg"),
]


@pytest.mark.parametrize("cls,kwargs,kind", MODULE_CASES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_modules_match_torch(cls, kwargs, kind, reduction):
    g = rng(15)
    w = g.random(4) + 0.1
    rk = {k: (from_np(rgrad, w) if v == "w" else v) for k, v in kwargs.items()}
    tk = {k: (from_np(torch, w) if v == "w" else v) for k, v in kwargs.items()}
    rm, tm = getattr(rgrad.nn, cls)(reduction=reduction, **rk), getattr(torch.nn, cls)(reduction=reduction, **tk)
    assert repr(rm) == repr(tm)
    assert sorted(rm.state_dict()) == sorted(tm.state_dict())
    x = g.standard_normal((3, 4))
    t = {"reg": g.standard_normal((3, 4)), "cls": np.array([0, 1, 3]), "prob": g.random((3, 4)),
         "logit": g.random((3, 4))}[kind]
    if kind == "prob":
        x = 1 / (1 + np.exp(-x))
    rx, tx = pair(x, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = rm(rx, from_np(rgrad, t)), tm(tx, from_np(torch, t))
    assert_matches(got.detach(), want, rtol=1e-6, atol=1e-7)
    got.sum().backward()
    want.sum().backward()
    assert_matches(rx.grad, tx.grad, rtol=1e-6, atol=1e-7)


def test_cosine_embedding_module_and_legacy_reduction():
    g = rng(16)
    a, b, y = g.standard_normal((3, 4)), g.standard_normal((3, 4)), np.array([1, -1, -1])
    rm, tm = rgrad.nn.CosineEmbeddingLoss(margin=0.2), torch.nn.CosineEmbeddingLoss(margin=0.2)
    assert_matches(rm(*(from_np(rgrad, v) for v in (a, b, y))), tm(*(from_np(torch, v) for v in (a, b, y))))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = rgrad.nn.MSELoss(size_average=False)
    assert m.reduction == "sum" and repr(m) == "MSELoss()"
    with pytest.warns(UserWarning, match="please use reduction='none' instead"):
        assert rgrad.nn.NLLLoss(reduce=False).reduction == "none"
