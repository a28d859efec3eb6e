"""rgrad.optim against torch.optim: the same initial parameters and the same gradient sequence
must give the same trajectories (to float rounding), plus the Optimizer API (param groups,
state_dict, repr, errors, hooks) and Lookahead against a reference written with torch."""

import copy

import numpy as np
import pytest

import rgrad
from helpers import FLOAT64_REASON, ON_GPU, requires_torch, torch

pytestmark = requires_torch

SHAPES = [(3, 4), (5,), (2, 3, 2), (4,)]
STEPS = 20
TOL = {"float32": dict(rtol=3e-5, atol=3e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _pair(shapes, dtype, seed=0, noncontiguous=False):
    """The same leaf parameters in rgrad and torch."""
    rng = np.random.default_rng(seed)
    rg, th = [], []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        if noncontiguous and len(s) == 2:
            base = rgrad.tensor(a.T.copy())
            p = base.t()
            p.requires_grad_(True)
            rg.append(p)
            assert not p.is_contiguous()
        else:
            rg.append(rgrad.tensor(a, requires_grad=True))
        th.append(torch.tensor(a, requires_grad=True))
    return rg, th


def _groups(params, group_kwargs):
    """First two params in group 0 (defaults), the rest in group 1 with overrides."""
    return [{"params": params[:2]}, {"params": params[2:], **group_kwargs}]


def _set_grads(rg, th, rng, dtype, skip=()):
    for i, (p, q) in enumerate(zip(rg, th)):
        if i in skip:
            continue
        g = rng.standard_normal(tuple(q.shape)).astype(dtype)
        p.grad = rgrad.tensor(g)
        q.grad = torch.tensor(g)


def _assert_params(rg, th, dtype):
    for p, q in zip(rg, th):
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().cpu().numpy(), **TOL[dtype])


def _run(name, kwargs, group_kwargs, dtype, steps=STEPS, noncontiguous=False):
    rg, th = _pair(SHAPES, dtype, noncontiguous=noncontiguous)
    opt = getattr(rgrad.optim, name)(_groups(rg, group_kwargs), **kwargs)
    ref = getattr(torch.optim, name)(_groups(th, group_kwargs), **kwargs)
    rng = np.random.default_rng(1)
    for step in range(steps):
        # The last parameter gets no gradient on odd steps: it must be skipped, as in torch.
        _set_grads(rg, th, rng, dtype, skip=(3,) if step % 2 else ())
        if step % 2:
            rg[3].grad, th[3].grad = None, None
        opt.step()
        ref.step()
        _assert_params(rg, th, dtype)
    return opt, ref, rg, th


CASES = [
    ("SGD", {"lr": 0.1}, {"lr": 0.05}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"momentum": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, {"dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, {"lr": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}, {"weight_decay": 0.2}),
    ("Adam", {"lr": 0.01}, {"lr": 0.02}),
    ("Adam", {"lr": 0.01, "amsgrad": True}, {"betas": (0.5, 0.9)}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, {"amsgrad": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.99), "eps": 1e-6}, {"weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01}, {"weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "maximize": True}, {"lr": 0.005}),
    ("RMSprop", {"lr": 0.01}, {"alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}, {"centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True}, {"eps": 1e-4}),
    ("Adagrad", {"lr": 0.1}, {"lr": 0.05}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1},
     {"maximize": True}),
    ("Adamax", {"lr": 0.01}, {"betas": (0.8, 0.99)}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, {"eps": 1e-3}),
    ("NAdam", {"lr": 0.01}, {"momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}, {"decoupled_weight_decay": True}),
    ("NAdam", {"lr": 0.01, "maximize": True, "weight_decay": 0.01, "decoupled_weight_decay": True}, {}),
    ("RAdam", {"lr": 0.01}, {"betas": (0.8, 0.99)}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}, {"decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01, "maximize": True}, {"weight_decay": 0.05}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs,group_kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs, group_kwargs, dtype):
    opt, ref, rg, th = _run(name, kwargs, group_kwargs, dtype)
    # State has the same keys and values as torch's.
    for p, q in zip(rg, th):
        assert set(opt.state[p]) == set(ref.state[q])
        for key, value in ref.state[q].items():
            np.testing.assert_allclose(np.asarray(opt.state[p][key].detach().cpu().numpy(), dtype=np.float64),
                                       value.detach().double().cpu().numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                                         ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
                                         ("AdamW", {"lr": 0.01}),
                                         ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
                                         ("Adagrad", {"lr": 0.1, "lr_decay": 0.01})])
def test_noncontiguous_params_take_the_composite_path(name, kwargs):
    _run(name, kwargs, {}, "float32", steps=6, noncontiguous=True)


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_mixed_dtype_groups():
    rg32, th32 = _pair([(3,), (2, 2)], "float32")
    rg64, th64 = _pair([(4,)], "float64", seed=3)
    opt = rgrad.optim.Adam([{"params": rg32}, {"params": rg64, "lr": 0.1}], lr=0.01)
    ref = torch.optim.Adam([{"params": th32}, {"params": th64, "lr": 0.1}], lr=0.01)
    rng = np.random.default_rng(5)
    for _ in range(5):
        _set_grads(rg32, th32, rng, "float32")
        _set_grads(rg64, th64, rng, "float64")
        opt.step()
        ref.step()
    _assert_params(rg32, th32, "float32")
    _assert_params(rg64, th64, "float64")


def test_step_is_in_place_without_autograd_and_bumps_versions():
    for cls in (rgrad.optim.SGD, rgrad.optim.Adam, rgrad.optim.RMSprop, rgrad.optim.Adagrad, rgrad.optim.NAdam):
        p = rgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
        (p * p).sum().backward()
        opt = cls([p], lr=0.1)
        before, ptr = p._version, p.data_ptr()
        opt.step()
        assert p._version > before
        assert p.data_ptr() == ptr
        assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_step_closure_returns_loss_and_runs_with_grad():
    p = rgrad.tensor([1.0, -2.0], requires_grad=True)
    q = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = rgrad.optim.SGD([p], lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([q], lr=0.1, momentum=0.9)

    def closure(x, o):
        def f():
            o.zero_grad()
            loss = (x * x * x).sum()
            loss.backward()
            return loss
        return f

    with rgrad.no_grad():
        loss = opt.step(closure(p, opt))
    ref_loss = ref.step(closure(q, ref))
    assert loss.item() == pytest.approx(ref_loss.item())
    np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().cpu().numpy(), rtol=1e-6)


def test_zero_grad():
    p = rgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = rgrad.optim.SGD([p], lr=0.1)
    p.grad = rgrad.tensor([3.0, 4.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.cpu().numpy(), np.zeros(2, np.float32))
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"amsgrad": True}),
                                         ("AdamW", {}), ("RMSprop", {"centered": True}), ("Adagrad", {}),
                                         ("Adamax", {}), ("NAdam", {}), ("RAdam", {})])
def test_repr_and_param_groups_match_torch(name, kwargs):
    rg, th = _pair(SHAPES, "float32")
    opt = getattr(rgrad.optim, name)(_groups(rg, {"lr": 0.5}), **kwargs)
    ref = getattr(torch.optim, name)(_groups(th, {"lr": 0.5}), **kwargs)
    assert repr(opt) == repr(ref)
    assert opt.defaults == ref.defaults
    for g, h in zip(opt.param_groups, ref.param_groups):
        assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in h.items() if k != "params"}


def _structure(sd):
    """A state_dict with tensors replaced by (shape, dtype name, values)."""
    def conv(v):
        if isinstance(v, rgrad.Tensor) or isinstance(v, torch.Tensor):
            return (tuple(v.shape), str(v.dtype).replace("torch.", "").replace("rgrad.", ""),
                    np.round(v.detach().double().cpu().numpy() if isinstance(v, torch.Tensor)
                             else v.detach().cpu().numpy().astype(np.float64), 4).tolist())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(sd)


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"amsgrad": True}),
                                         ("RMSprop", {"momentum": 0.9}), ("NAdam", {}), ("Adagrad", {})])
def test_state_dict_format_and_round_trip(name, kwargs):
    opt, ref, rg, th = _run(name, kwargs, {"lr": 0.02}, "float32", steps=5)
    assert _structure(opt.state_dict()) == _structure(ref.state_dict())

    # A fresh optimizer loaded from the state dict continues exactly like the original.
    rg2 = [p.detach().clone().requires_grad_(True) for p in rg]
    opt2 = getattr(rgrad.optim, name)(_groups(rg2, {"lr": 123.0}), **kwargs)
    sd = copy.deepcopy(opt.state_dict())
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.02
    assert opt2.param_groups[1]["params"][0] is rg2[2]
    rng = np.random.default_rng(9)
    for _ in range(4):
        g = [rng.standard_normal(tuple(p.shape)).astype("float32") for p in rg]
        for p, p2, q, a in zip(rg, rg2, th, g):
            p.grad, p2.grad, q.grad = rgrad.tensor(a), rgrad.tensor(a), torch.tensor(a)
        opt.step()
        opt2.step()
        ref.step()
    _assert_params(rg2, th, "float32")
    for p, p2 in zip(rg, rg2):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), p2.detach().cpu().numpy())


def test_load_state_dict_errors_match_torch():
    rg, th = _pair(SHAPES, "float32")
    opt = rgrad.optim.SGD(_groups(rg, {}), lr=0.1)
    ref = torch.optim.SGD(_groups(th, {}), lr=0.1)
    one_group = {"state": {}, "param_groups": [dict(ref.state_dict()["param_groups"][0])]}
    for bad in (one_group,
                {"state": {}, "param_groups": [dict(g, params=[0]) for g in ref.state_dict()["param_groups"]]}):
        with pytest.raises(ValueError) as theirs:
            ref.load_state_dict(copy.deepcopy(bad))
        with pytest.raises(ValueError, match=str(theirs.value)):
            opt.load_state_dict(copy.deepcopy(bad))


INVALID = [
    ("SGD", {"lr": -1}), ("SGD", {"lr": 0.1, "momentum": -0.5}), ("SGD", {"lr": 0.1, "weight_decay": -1e-3}),
    ("SGD", {"lr": 0.1, "nesterov": True}), ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("Adam", {"lr": -0.01}), ("Adam", {"eps": -1.0}), ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -1}), ("AdamW", {"betas": (0.9, 1.5)}),
    ("RMSprop", {"alpha": -0.1}), ("RMSprop", {"momentum": -1}), ("RMSprop", {"eps": -1}),
    ("Adagrad", {"lr_decay": -1}), ("Adagrad", {"initial_accumulator_value": -1}), ("Adagrad", {"eps": -1}),
    ("Adamax", {"betas": (0.9, 1.0)}), ("NAdam", {"momentum_decay": -1}), ("RAdam", {"weight_decay": -1}),
]


@pytest.mark.parametrize("name,kwargs", INVALID)
def test_invalid_hyperparameters_match_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(rgrad.optim, name)([rgrad.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_param_group_errors_match_torch():
    def both(fn_rg, fn_th, exc):
        with pytest.raises(exc) as theirs:
            fn_th()
        with pytest.raises(exc) as ours:
            fn_rg()
        want = str(theirs.value)
        if ON_GPU:  # torch names a CUDA tensor's type torch.cuda.FloatTensor
            want = want.replace("torch.FloatTensor", "torch.cuda.FloatTensor")
        assert str(ours.value) == want.replace("torch.", "rgrad.")

    a, b = rgrad.zeros(2, requires_grad=True), rgrad.zeros(3, requires_grad=True)
    x, y = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    both(lambda: rgrad.optim.SGD([], lr=0.1), lambda: torch.optim.SGD([], lr=0.1), ValueError)
    both(lambda: rgrad.optim.SGD(a, lr=0.1), lambda: torch.optim.SGD(x, lr=0.1), TypeError)
    both(lambda: rgrad.optim.SGD([a, 5], lr=0.1), lambda: torch.optim.SGD([x, 5], lr=0.1), TypeError)
    both(lambda: rgrad.optim.SGD([a * 2], lr=0.1), lambda: torch.optim.SGD([x * 2], lr=0.1), ValueError)
    both(lambda: rgrad.optim.SGD([{"params": [a]}, {"params": [a, b]}], lr=0.1),
         lambda: torch.optim.SGD([{"params": [x]}, {"params": [x, y]}], lr=0.1), ValueError)
    opt, ref = rgrad.optim.SGD([a], lr=0.1), torch.optim.SGD([x], lr=0.1)
    both(lambda: opt.add_param_group({"params": {b}}), lambda: ref.add_param_group({"params": {y}}), TypeError)
    both(lambda: opt.add_param_group({"params": [a]}), lambda: ref.add_param_group({"params": [x]}), ValueError)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        rgrad.optim.SGD([b, b], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5, "momentum": 0.9})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["dampening"] == 0


def test_named_params_and_nn_parameter():
    p = rgrad.nn.Parameter(rgrad.ones(3)) if hasattr(rgrad.nn, "Parameter") else rgrad.ones(3, requires_grad=True)
    opt = rgrad.optim.SGD([("w", p)], lr=0.5)
    assert opt.param_groups[0]["param_names"] == ["w"]
    p.grad = rgrad.ones(3)
    opt.step()
    np.testing.assert_allclose(p.detach().cpu().numpy(), np.full(3, 0.5, np.float32))


def test_step_hooks():
    p = rgrad.zeros(2, requires_grad=True)
    opt = rgrad.optim.SGD([p], lr=1.0)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.step()
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]


def _torch_lookahead(params, inner, k, alpha, steps, grads):
    """Lookahead written out with torch: slow weights start at the initial parameters."""
    slow = [p.detach().clone() for p in params]
    for t in range(steps):
        for p, g in zip(params, grads[t]):
            p.grad = torch.tensor(g)
        inner.step()
        if (t + 1) % k == 0:
            with torch.no_grad():
                for p, s in zip(params, slow):
                    s.add_((p - s) * alpha)
                    p.copy_(s)
    return slow


@pytest.mark.parametrize("inner,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.05})])
def test_lookahead_matches_reference(inner, kwargs):
    rg, th = _pair(SHAPES[:3], "float32")
    k, alpha, steps = 4, 0.6, 13
    rng = np.random.default_rng(2)
    grads = [[rng.standard_normal(tuple(q.shape)).astype("float32") for q in th] for _ in range(steps)]
    opt = rgrad.optim.Lookahead(getattr(rgrad.optim, inner)(rg, **kwargs), k=k, alpha=alpha)
    slow = _torch_lookahead(th, getattr(torch.optim, inner)(th, **kwargs), k, alpha, steps, grads)
    for t in range(steps):
        for p, g in zip(rg, grads[t]):
            p.grad = rgrad.tensor(g)
        opt.step()
    _assert_params(rg, th, "float32")
    sd = opt.state_dict()
    for i, s in enumerate(slow):
        np.testing.assert_allclose(sd["state"][i]["lookahead_slow_buff"].cpu().numpy(), s.cpu().numpy(), rtol=3e-5, atol=3e-6)
    assert sd["param_groups"][0]["lookahead_step"] == steps


def test_lookahead_state_dict_round_trip_and_scheduler():
    rg, _ = _pair(SHAPES[:2], "float32")
    opt = rgrad.optim.Lookahead(rgrad.optim.SGD(rg, lr=0.1, momentum=0.9), k=3, alpha=0.5)
    rng = np.random.default_rng(4)
    grads = [[rng.standard_normal(tuple(p.shape)).astype("float32") for p in rg] for _ in range(8)]
    for t in range(4):
        for p, g in zip(rg, grads[t]):
            p.grad = rgrad.tensor(g)
        opt.step()
    rg2 = [p.detach().clone().requires_grad_(True) for p in rg]
    opt2 = rgrad.optim.Lookahead(rgrad.optim.SGD(rg2, lr=0.1, momentum=0.9), k=3, alpha=0.5)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for t in range(4, 8):
        for p, p2, g in zip(rg, rg2, grads[t]):
            p.grad, p2.grad = rgrad.tensor(g), rgrad.tensor(g)
        opt.step()
        opt2.step()
    for p, p2 in zip(rg, rg2):
        np.testing.assert_array_equal(p.detach().cpu().numpy(), p2.detach().cpu().numpy())
    sched = rgrad.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize("name,kwargs", [("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.2}),
                                         ("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_group_added_after_construction_matches_torch(name, kwargs):
    rg, th = _pair(SHAPES, "float32")
    opt = getattr(rgrad.optim, name)(rg[:2], **kwargs)
    ref = getattr(torch.optim, name)(th[:2], **kwargs)
    opt.add_param_group({"params": rg[2:], "lr": 0.03})
    ref.add_param_group({"params": th[2:], "lr": 0.03})
    rng = np.random.default_rng(8)
    for _ in range(5):
        _set_grads(rg, th, rng, "float32")
        opt.step()
        ref.step()
    _assert_params(rg, th, "float32")
