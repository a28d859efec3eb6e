"""nn layers, activations and their functional forms against torch with the same weights
copied in: forward values, input gradients and parameter gradients; running statistics;
dropout statistics; argument validation with torch's exception types."""

import math

import numpy as np
import pytest

import rgrad
from helpers import FLOAT64_REASON, assert_close, assert_matches, from_np, requires_torch, torch

pytestmark = requires_torch


def close(t, expected, **kw):
    """assert_matches on the rgrad tensor's value (detached)."""
    assert_matches(t.detach(), expected.detach() if torch is not None and isinstance(expected, torch.Tensor)
                   else expected, **kw)


def rnd(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def copy_weights(rmod, tmod):
    rmod.load_state_dict({k: from_np(rgrad, v.detach().cpu().numpy().copy()) for k, v in tmod.state_dict().items()})


def check_pair(rfn, tfn, *inputs, rtol=1e-5, atol=1e-5, params=(), grad=True):
    """Runs rfn/tfn on the same float inputs; compares outputs, input grads and parameter grads
    (params: pairs of (rgrad, torch) tensors) under a random upstream gradient."""
    rin = [from_np(rgrad, x.copy()).requires_grad_(grad) for x in inputs]
    tin = [from_np(torch, x.copy()).requires_grad_(grad) for x in inputs]
    yr, yt = rfn(*rin), tfn(*tin)
    close(yr, yt, rtol=rtol, atol=atol)
    if not grad:
        return yr, yt
    assert yr.grad_fn is not None
    g = rnd(tuple(yt.shape), seed=99)
    yr.backward(from_np(rgrad, g))
    yt.backward(from_np(torch, g))
    for a, b in list(zip(rin, tin)) + list(params):
        close(a.grad, b.grad, rtol=rtol * 10, atol=atol * 10)
    return yr, yt


def check_module(rmod, tmod, *inputs, **kw):
    copy_weights(rmod, tmod)
    params = [(p, dict(tmod.named_parameters())[n]) for n, p in rmod.named_parameters()]
    out = check_pair(rmod, tmod, *inputs, params=params, **kw)
    assert repr(rmod) == repr(tmod)
    return out


# ----- linear layers -------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,), (0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    check_module(rgrad.nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), rnd(shape))


def test_linear_init_bounds_and_functional():
    rgrad.manual_seed(0)
    m = rgrad.nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    w, b = m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    # Reproducible under manual_seed.
    rgrad.manual_seed(0)
    close(rgrad.nn.Linear(50, 40).weight.detach(), w)
    x, wt, bt = rnd((3, 5)), rnd((2, 5), 1), rnd((2,), 2)
    check_pair(rgrad.nn.functional.linear, torch.nn.functional.linear, x, wt, bt)
    check_pair(rgrad.nn.functional.linear, torch.nn.functional.linear, x, wt)
    with pytest.raises(RuntimeError):
        rgrad.nn.Linear(4, 3)(rgrad.zeros(2, 5))


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_linear_dtypes():
    m = rgrad.nn.Linear(3, 2, dtype=rgrad.float64)
    assert m.weight.dtype == rgrad.float64
    assert m(rgrad.randn(4, 3, dtype=rgrad.float64)).dtype == rgrad.float64


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(bias):
    check_module(rgrad.nn.Bilinear(3, 4, 5, bias=bias), torch.nn.Bilinear(3, 4, 5, bias=bias),
                 rnd((6, 3)), rnd((6, 4), 1), rtol=1e-4, atol=1e-5)
    check_module(rgrad.nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2), rnd((2, 6, 3)), rnd((2, 6, 4), 1),
                 rtol=1e-4, atol=1e-5)


def test_identity_flatten_unflatten():
    x = rgrad.randn(2, 3)
    assert rgrad.nn.Identity(3, k=1)(x) is x and repr(rgrad.nn.Identity(3)) == repr(torch.nn.Identity(3))
    check_module(rgrad.nn.Flatten(), torch.nn.Flatten(), rnd((2, 3, 4, 5)))
    check_module(rgrad.nn.Flatten(0, 2), torch.nn.Flatten(0, 2), rnd((2, 3, 4, 5)))
    check_module(rgrad.nn.Unflatten(1, (2, 6)), torch.nn.Unflatten(1, (2, 6)), rnd((3, 12)))
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        rgrad.nn.Unflatten(1, (2, 2.0))


# ----- embedding -----------------------------------------------------------------------------

def test_embedding():
    idx = np.array([[1, 2, 0], [4, 3, 1]], np.int64)
    for kw in ({}, {"padding_idx": 1}, {"padding_idx": -1}, {"scale_grad_by_freq": True, "padding_idx": 2}):
        r, t = rgrad.nn.Embedding(5, 3, **kw), torch.nn.Embedding(5, 3, **kw)
        copy_weights(r, t)
        assert repr(r) == repr(t)
        yr, yt = r(from_np(rgrad, idx)), t(from_np(torch, idx))
        close(yr, yt)
        g = rnd(tuple(yt.shape), 5)
        yr.backward(from_np(rgrad, g))
        yt.backward(from_np(torch, g))
        close(r.weight.grad, t.weight.grad, rtol=1e-6, atol=1e-6)
    rgrad.manual_seed(0)
    e = rgrad.nn.Embedding(1000, 20, padding_idx=3)
    w = e.weight.detach().cpu().numpy()
    assert np.all(w[3] == 0) and abs(w.std() - 1) < 0.03 and abs(w.mean()) < 0.03
    pre = from_np(rgrad, rnd((4, 2)))
    f = rgrad.nn.Embedding.from_pretrained(pre)
    assert not f.weight.requires_grad and repr(f) == "Embedding(4, 2)"
    close(f(rgrad.tensor([3, 0])), pre.cpu().numpy()[[3, 0]])
    assert rgrad.nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        rgrad.nn.Embedding(3, 2, padding_idx=3)


def test_embedding_max_norm():
    w = rnd((6, 4)) * 3
    idx = np.array([0, 2, 2, 5], np.int64)
    r = rgrad.nn.Embedding.from_pretrained(from_np(rgrad, w.copy()), max_norm=1.5)
    t = torch.nn.Embedding.from_pretrained(from_np(torch, w.copy()), max_norm=1.5)
    close(r(from_np(rgrad, idx)), t(from_np(torch, idx)), rtol=1e-5, atol=1e-6)
    close(r.weight.detach(), t.weight.detach(), rtol=1e-5, atol=1e-6)


def test_one_hot():
    F, TF = rgrad.nn.functional, torch.nn.functional
    x = np.array([[0, 3], [2, 1]], np.int64)
    close(F.one_hot(from_np(rgrad, x)), TF.one_hot(from_np(torch, x)))
    close(F.one_hot(from_np(rgrad, x), 6), TF.one_hot(from_np(torch, x), 6))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(from_np(rgrad, x), 3)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(rgrad.tensor([1.0]))


# ----- dropout -------------------------------------------------------------------------------

def test_dropout():
    rgrad.manual_seed(0)
    x = rgrad.ones(200, 500, requires_grad=True)
    d = rgrad.nn.Dropout(0.3)
    assert repr(d) == repr(torch.nn.Dropout(0.3))
    y = d(x)
    v = y.detach().cpu().numpy()
    kept = v != 0
    assert abs(kept.mean() - 0.7) < 0.01
    assert_close(v[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    assert_close(x.grad.cpu().numpy(), v, rtol=1e-6)   # grad is the same mask, scaled
    d.eval()
    assert d(x) is x
    assert rgrad.nn.functional.dropout(x, 0.5, training=False) is x
    assert rgrad.nn.functional.dropout(x, 1.0).abs().sum().item() == 0
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            rgrad.nn.Dropout(bad)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            rgrad.nn.functional.dropout(x, bad)
    z = rgrad.ones(10, 10)
    rgrad.nn.functional.dropout(z, 0.5, inplace=True)
    assert set(np.unique(z.cpu().numpy())) <= {0.0, 2.0}


def test_channel_dropout():
    rgrad.manual_seed(1)
    x = rgrad.ones(100, 30, 4, 5)
    y = rgrad.nn.Dropout2d(0.5)(x).cpu().numpy()
    per_channel = y.reshape(100, 30, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))          # whole channels dropped
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05
    y1 = rgrad.nn.Dropout1d(0.5)(rgrad.ones(8, 20, 7)).cpu().numpy()
    assert np.all(y1.min(-1) == y1.max(-1))
    assert rgrad.nn.Dropout2d(0.5).eval()(x) is x


# ----- activations ---------------------------------------------------------------------------

ACTIVATIONS = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {}),
    ("ELU", {"alpha": 0.5}), ("SELU", {}), ("CELU", {"alpha": 1.5}), ("GELU", {}), ("GELU", {"approximate": "tanh"}),
    ("SiLU", {}), ("Mish", {}), ("Sigmoid", {}), ("Tanh", {}), ("Softplus", {}),
    ("Softplus", {"beta": 2.0, "threshold": 3.0}),
    ("Hardtanh", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Hardsigmoid", {}), ("Hardswish", {}),
    ("LogSigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}), ("Threshold", {"threshold": 0.1, "value": -2.0}),
    ("GLU", {}), ("GLU", {"dim": 0}), ("Softmax", {"dim": 1}), ("Softmax", {"dim": -1}), ("LogSoftmax", {"dim": 1}),
    ("Softmin", {"dim": 0}), ("PReLU", {}), ("PReLU", {"num_parameters": 4, "init": 0.1}), ("Hardshrink", {}),
    ("Softshrink", {"lambd": 0.3}), ("RReLU", {}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=[f"{n}{kw}" for n, kw in ACTIVATIONS])
def test_activation_modules(name, kw):
    x = rnd((6, 4, 2)) * 3
    x[np.abs(x) < 1e-3] = 0.5   # keep away from the kinks
    r, t = getattr(rgrad.nn, name)(**kw), getattr(torch.nn, name)(**kw)
    if name == "RReLU":
        r.eval(), t.eval()
    check_module(r, t, x, rtol=1e-5, atol=1e-6)


FUNCTIONS = [
    ("relu", {}), ("relu6", {}), ("elu", {"alpha": 2.0}), ("selu", {}), ("celu", {}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {"beta": 0.5}), ("logsigmoid", {}),
    ("softsign", {}), ("tanhshrink", {}), ("hardsigmoid", {}), ("hardswish", {}), ("hardtanh", {"max_val": 0.5}),
    ("leaky_relu", {"negative_slope": 0.1}), ("threshold", {"threshold": 0.0, "value": 1.0}), ("glu", {"dim": 1}),
    ("softmax", {"dim": 0}), ("log_softmax", {"dim": 1}), ("softmin", {"dim": 1}),
    ("softmax", {"dim": 1, "dtype": "float64"}), ("log_softmax", {"dim": 0, "dtype": "float64"}),
    ("sigmoid", {}), ("tanh", {}), ("normalize", {}), ("normalize", {"p": 1.0, "dim": 0}),
    ("hardshrink", {"lambd": 0.2}), ("softshrink", {}),
]


@pytest.mark.parametrize("name,kw", FUNCTIONS, ids=[f"{n}{kw}" for n, kw in FUNCTIONS])
def test_functional_activations(name, kw):
    x = rnd((5, 4)) * 2
    rkw, tkw = dict(kw), dict(kw)
    if "dtype" in kw:
        rkw["dtype"], tkw["dtype"] = getattr(rgrad, kw["dtype"]), getattr(torch, kw["dtype"])
    check_pair(lambda a: getattr(rgrad.nn.functional, name)(a, **rkw),
               lambda a: getattr(torch.nn.functional, name)(a, **tkw), x, rtol=1e-5, atol=1e-6)


def test_activations_at_extremes():
    # Saturated inputs: finite values and gradients (no inf * 0 through where).
    x = np.array([-200.0, -30.0, -1.0, 0.5, 30.0, 200.0], np.float32)
    for name in ("elu", "selu", "celu", "softplus", "logsigmoid", "mish", "silu", "gelu", "sigmoid"):
        check_pair(getattr(rgrad.nn.functional, name), getattr(torch.nn.functional, name), x,
                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "hardtanh", "silu",
                                  "hardsigmoid", "hardswish", "mish"])
def test_inplace_activations(name):
    x = rnd((3, 4))
    r, t = from_np(rgrad, x.copy()), from_np(torch, x.copy())
    yr = getattr(rgrad.nn.functional, name)(r, inplace=True)
    getattr(torch.nn.functional, name)(t, inplace=True)
    assert yr is r
    close(r, t, rtol=1e-5, atol=1e-6)
    # In place on a non-leaf inside a graph: gradients still match.
    check_pair(lambda a: getattr(rgrad.nn.functional, name)(a * 1.5, inplace=True),
               lambda a: getattr(torch.nn.functional, name)(a * 1.5, inplace=True), x, rtol=1e-5, atol=1e-6)


def test_activation_errors_and_defaults():
    F = rgrad.nn.functional
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(rgrad.zeros(2), approximate="fast")
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(rgrad.zeros(2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(from_np(rgrad, rnd((2, 3))))
    close(y, torch.softmax(from_np(torch, rnd((2, 3))), 1), rtol=1e-6)
    rgrad.manual_seed(0)
    x = -rgrad.ones(1000)
    y = F.rrelu(x, 0.1, 0.3, training=True).cpu().numpy()
    assert -0.3 <= y.min() and y.max() <= -0.1 and abs(y.mean() + 0.2) < 0.01


def test_distances():
    F, TF = rgrad.nn.functional, torch.nn.functional
    a, b = rnd((4, 5)), rnd((4, 5), 1)
    check_pair(F.cosine_similarity, TF.cosine_similarity, a, b, rtol=1e-5, atol=1e-6)
    check_pair(lambda x, y: F.cosine_similarity(x, y, dim=0), lambda x, y: TF.cosine_similarity(x, y, dim=0),
               a, b, rtol=1e-5, atol=1e-6)
    check_pair(F.pairwise_distance, TF.pairwise_distance, a, b, rtol=1e-5, atol=1e-6)
    check_pair(lambda x, y: F.pairwise_distance(x, y, p=1.0, keepdim=True),
               lambda x, y: TF.pairwise_distance(x, y, p=1.0, keepdim=True), a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_bilinear_functional_gradcheck():
    F = rgrad.nn.functional
    x1 = rgrad.randn(3, 2, dtype=rgrad.float64, requires_grad=True)
    x2 = rgrad.randn(3, 4, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(5, 2, 4, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(5, dtype=rgrad.float64, requires_grad=True)
    assert rgrad.autograd.gradcheck(F.bilinear, (x1, x2, w, b))


# ----- normalisation -------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-3}])
def test_layer_norm(kw):
    r, t = rgrad.nn.LayerNorm((3, 4), **kw), torch.nn.LayerNorm((3, 4), **kw)
    for p in t.parameters():
        torch.nn.init.normal_(p)
    check_module(r, t, rnd((2, 5, 3, 4)), rtol=1e-4, atol=1e-5)
    check_module(rgrad.nn.LayerNorm(4), torch.nn.LayerNorm(4), rnd((6, 4)), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3, 4\], expected input with shape \[\*, 3, 4\]"):
        r(rgrad.zeros(2, 4, 3))


@pytest.mark.parametrize("groups,affine", [(1, True), (2, True), (6, False), (3, True)])
def test_group_norm(groups, affine):
    r, t = rgrad.nn.GroupNorm(groups, 6, affine=affine), torch.nn.GroupNorm(groups, 6, affine=affine)
    for p in t.parameters():
        torch.nn.init.normal_(p)
    check_module(r, t, rnd((4, 6, 3, 2)), rtol=1e-4, atol=1e-5)
    check_module(r, t, rnd((4, 6)) if groups < 6 else rnd((4, 6, 2)), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        rgrad.nn.GroupNorm(4, 6)


def test_rms_norm():
    for kw in ({}, {"eps": 1e-3}, {"elementwise_affine": False}):
        r, t = rgrad.nn.RMSNorm([4], **kw), torch.nn.RMSNorm([4], **kw)
        for p in t.parameters():
            torch.nn.init.normal_(p)
        check_module(r, t, rnd((3, 2, 4)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (8, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 2, 5)), ("BatchNorm3d", (2, 3, 2, 2, 3))])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                {"momentum": 0.5, "eps": 1e-3}])
def test_batch_norm(cls, shape, kw):
    r, t = getattr(rgrad.nn, cls)(3, **kw), getattr(torch.nn, cls)(3, **kw)
    for p in t.parameters():
        torch.nn.init.normal_(p)
    copy_weights(r, t)
    assert repr(r) == repr(t)
    for step in range(3):
        check_module(r, t, rnd(shape, seed=step) * (step + 1) + step, rtol=1e-4, atol=1e-5)
        for name, b in t.named_buffers():
            close(dict(r.named_buffers())[name], b, rtol=1e-5, atol=1e-6)
        for p in list(r.parameters()) + list(t.parameters()):
            p.grad = None
    r.eval(), t.eval()
    check_module(r, t, rnd(shape, seed=7), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected"):
        r(rgrad.zeros(*([2] * (len(shape) + 2))))


def test_batch_norm_errors_and_functional():
    bn = rgrad.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn(rgrad.zeros(1, 3))
    bn.eval()
    bn(rgrad.zeros(1, 3))
    x = rnd((6, 3, 4))
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    r_rm, r_rv, t_rm, t_rv = (from_np(rgrad, rm.copy()), from_np(rgrad, rv.copy()),
                              from_np(torch, rm.copy()), from_np(torch, rv.copy()))
    check_pair(lambda a: rgrad.nn.functional.batch_norm(a, r_rm, r_rv, training=True, momentum=0.3),
               lambda a: torch.nn.functional.batch_norm(a, t_rm, t_rv, training=True, momentum=0.3), x,
               rtol=1e-4, atol=1e-5)
    close(r_rm, t_rm, rtol=1e-5, atol=1e-6)
    close(r_rv, t_rv, rtol=1e-5, atol=1e-6)


def test_batch_norm_state_dict():
    r, t = rgrad.nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    assert list(r.state_dict()) == list(t.state_dict())
    sd = r.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""]["version"] = 1  # an old checkpoint without num_batches_tracked loads strictly
    r.load_state_dict(sd)


@pytest.mark.cpu_only(reason=FLOAT64_REASON + " (finite-difference gradcheck needs float64)")
def test_norm_functionals_gradcheck():
    F = rgrad.nn.functional
    x = rgrad.randn(4, 2, 3, dtype=rgrad.float64, requires_grad=True)
    w = rgrad.randn(2, dtype=rgrad.float64, requires_grad=True)
    b = rgrad.randn(2, dtype=rgrad.float64, requires_grad=True)
    assert rgrad.autograd.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    assert rgrad.autograd.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert rgrad.autograd.gradcheck(lambda x: F.layer_norm(x, (2, 3)), (x,))


def test_instance_norm_functional():
    x = rnd((3, 4, 5))
    check_pair(rgrad.nn.functional.instance_norm, torch.nn.functional.instance_norm, x, rtol=1e-4, atol=1e-5)


def test_distance_modules():
    from rgrad.nn.modules import distance
    a, b = rnd((4, 5)), rnd((4, 5), 1)
    check_module(distance.PairwiseDistance(p=3.0, keepdim=True), torch.nn.PairwiseDistance(p=3.0, keepdim=True),
                 a, b, rtol=1e-5, atol=1e-6)
    check_module(distance.CosineSimilarity(dim=0), torch.nn.CosineSimilarity(dim=0), a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("pad", [None, 2])
def test_embedding_bag(mode, pad):
    flat = np.array([1, 2, 4, 5, 4, 3, 2, 9, 2, 0], np.int64)
    offsets = np.array([0, 4, 4, 7], np.int64)      # includes an empty bag
    cases = [((flat, offsets), {}), ((flat, np.append(offsets, 10)), {"include_last_offset": True}),
             ((flat.reshape(2, 5),), {})]
    for args, kw in cases:
        r = rgrad.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=pad, **kw)
        t = torch.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=pad, **kw)
        copy_weights(r, t)
        assert repr(r) == repr(t)
        yr = r(*[from_np(rgrad, a) for a in args])
        yt = t(*[from_np(torch, a) for a in args])
        close(yr, yt, rtol=1e-5, atol=1e-6)
        g = rnd(tuple(yt.shape), 3)
        yr.backward(from_np(rgrad, g))
        yt.backward(from_np(torch, g))
        close(r.weight.grad, t.weight.grad, rtol=1e-5, atol=1e-6)


def test_embedding_bag_per_sample_weights_and_errors():
    F, TF = rgrad.nn.functional, torch.nn.functional
    w, idx, off = rnd((6, 4)), np.array([0, 5, 3, 3, 1], np.int64), np.array([0, 2], np.int64)
    psw = rnd((5,), 1)
    check_pair(lambda w_, p_: F.embedding_bag(from_np(rgrad, idx), w_, from_np(rgrad, off), mode="sum",
                                              per_sample_weights=p_),
               lambda w_, p_: TF.embedding_bag(from_np(torch, idx), w_, from_np(torch, off), mode="sum",
                                               per_sample_weights=p_), w, psw, rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(from_np(rgrad, idx), from_np(rgrad, w), from_np(rgrad, off),
                        per_sample_weights=from_np(rgrad, psw))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(from_np(rgrad, idx), from_np(rgrad, w))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        rgrad.nn.EmbeddingBag(3, 2, mode="min")(rgrad.zeros(1, 2, dtype=rgrad.int64))


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (4, 3, 6)), ("InstanceNorm1d", (3, 6)),
                                       ("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"track_running_stats": True, "momentum": 0.3}])
def test_instance_norm(cls, shape, kw):
    r, t = getattr(rgrad.nn, cls)(3, **kw), getattr(torch.nn, cls)(3, **kw)
    for p in t.parameters():
        torch.nn.init.normal_(p)
    copy_weights(r, t)
    for step in range(2):
        check_module(r, t, rnd(shape, seed=step) * 2 + step, rtol=1e-4, atol=1e-5)
        for name, b in t.named_buffers():
            close(dict(r.named_buffers())[name], b, rtol=1e-5, atol=1e-6)
    r.eval(), t.eval()
    check_module(r, t, rnd(shape, seed=5), rtol=1e-4, atol=1e-5)
