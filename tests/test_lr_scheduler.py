"""rgrad.optim.lr_scheduler against torch.optim.lr_scheduler: the same configuration must give
the same learning-rate (and momentum) sequence over many steps, and the same state_dict."""

import copy
import warnings

import pytest

import rgrad
from helpers import requires_torch, torch

pytestmark = requires_torch


def _optimizers(name="SGD", **kwargs):
    kwargs = kwargs or {"lr": 0.1, "momentum": 0.9}
    rg = getattr(rgrad.optim, name)([{"params": [rgrad.zeros(2, requires_grad=True)]},
                                     {"params": [rgrad.zeros(3, requires_grad=True)], "lr": 0.05}], **kwargs)
    th = getattr(torch.optim, name)([{"params": [torch.zeros(2, requires_grad=True)]},
                                     {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.05}], **kwargs)
    return rg, th


def _check_same(sched, ref, opt, topt):
    assert sched.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12, abs=1e-15)
    for g, h in zip(opt.param_groups, topt.param_groups):
        assert g["lr"] == pytest.approx(h["lr"], rel=1e-12, abs=1e-15)
        for key in ("momentum", "betas"):
            if key in h:
                assert g[key] == pytest.approx(h[key], rel=1e-12)


def _build(mod, spec, opt):
    name, kwargs = spec
    if name in ("SequentialLR", "ChainedScheduler"):
        subs = [_build(mod, s, opt) for s in kwargs.pop("schedulers")]
        if name == "ChainedScheduler":
            return mod.ChainedScheduler(subs)
        return mod.SequentialLR(opt, schedulers=subs, **kwargs)
    return getattr(mod, name)(opt, **kwargs)


SPECS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("LambdaLR", {"lr_lambda": lambda e: 0.95 ** e}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.9}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.9, "total_iters": 6}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 4}),
    ("PolynomialLR", {"total_iters": 8, "power": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.001}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "mode": "triangular2"}),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": 0.1, "step_size_up": 2, "step_size_down": 4,
                  "mode": "exp_range", "gamma": 0.9}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 26}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 2, "steps_per_epoch": 13, "anneal_strategy": "linear",
                    "three_phase": True, "pct_start": 0.25}),
    ("SequentialLR", {"schedulers": [("LinearLR", {"start_factor": 0.1, "total_iters": 4}),
                                     ("CosineAnnealingLR", {"T_max": 10})], "milestones": [4]}),
    ("ChainedScheduler", {"schedulers": [("ConstantLR", {"factor": 0.5, "total_iters": 3}),
                                         ("ExponentialLR", {"gamma": 0.9})]}),
]


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SPECS)])
def test_lr_sequence_matches_torch(spec):
    opt, topt = _optimizers()
    sched = _build(rgrad.optim.lr_scheduler, copy.deepcopy(spec), opt)
    ref = _build(torch.optim.lr_scheduler, copy.deepcopy(spec), topt)
    _check_same(sched, ref, opt, topt)
    for _ in range(25):
        opt.step()
        topt.step()
        sched.step()
        ref.step()
        _check_same(sched, ref, opt, topt)


@pytest.mark.parametrize("name,kwargs", [("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_one_cycle_cycles_momentum_or_beta1(name, kwargs):
    opt, topt = _optimizers(name, **kwargs)
    sched = rgrad.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.3, total_steps=15, base_momentum=0.8)
    ref = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.3, total_steps=15, base_momentum=0.8)
    for _ in range(14):
        opt.step()
        topt.step()
        sched.step()
        ref.step()
        _check_same(sched, ref, opt, topt)
    opt.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 16 times"):
        sched.step()


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    for kwargs in ({"patience": 2, "factor": 0.5}, {"mode": "max", "patience": 1, "cooldown": 2, "min_lr": [0.02, 0.0]},
                   {"threshold_mode": "abs", "threshold": 0.05, "patience": 0}):
        opt, topt = _optimizers()
        sched = rgrad.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        ref = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
        for m in metrics:
            sched.step(m)
            ref.step(m)
            _check_same(sched, ref, opt, topt)
        assert sched.num_bad_epochs == ref.num_bad_epochs and sched.best == ref.best


def test_state_dict_matches_torch_and_round_trips():
    opt, topt = _optimizers()
    sched = rgrad.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    ref = torch.optim.lr_scheduler.MultiStepLR(topt, milestones=[2, 4], gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
        topt.step()
        ref.step()
    assert sched.state_dict() == ref.state_dict()
    opt2, _ = _optimizers()
    for g, h in zip(opt2.param_groups, opt.param_groups):
        g["lr"], g["initial_lr"] = h["lr"], h["initial_lr"]
    sched2 = rgrad.optim.lr_scheduler.MultiStepLR(opt2, milestones=[7], gamma=0.1, last_epoch=0)
    sched2.load_state_dict(sched.state_dict())
    for _ in range(3):
        opt.step()
        opt2.step()
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_resume_requires_initial_lr_and_checks_optimizer():
    opt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        rgrad.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        rgrad.optim.lr_scheduler.StepLR(object(), step_size=2)


def test_warns_when_scheduler_steps_before_optimizer():
    opt, _ = _optimizers()
    sched = rgrad.optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2, _ = _optimizers()
    sched2 = rgrad.optim.lr_scheduler.StepLR(opt2, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt2.step()
        sched2.step()
