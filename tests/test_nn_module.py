"""nn.Module, nn.Parameter and the containers against torch.nn: registration and naming,
state_dict round trips and load_state_dict errors, hooks, train/eval, conversions, reprs, and
a small network's forward and gradients with the same weights copied in."""

import copy
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest

import rgrad
from helpers import FLOAT64_REASON, ON_GPU, assert_close, assert_matches, from_np, requires_torch, strip_device, torch

pytestmark = requires_torch


def close(t, expected, **kw):
    """assert_matches on the rgrad tensor's value (detached)."""
    assert_matches(t.detach(), expected.detach() if torch is not None and isinstance(expected, torch.Tensor)
                   else expected, **kw)


def _on_device(text):
    """torch's repr of a ParameterList/Dict of CPU tensors as torch prints it for CUDA ones, under
    the GPU pass: "[torch.cuda.FloatTensor of size 2 (cuda:0)]"."""
    if not ON_GPU:
        return text
    return re.sub(r" of size ([0-9x]+)\]", r" of size \1 (gpu:0)]", text).replace("rgrad.FloatTensor",
                                                                                "rgrad.cuda.FloatTensor")


def to_rgrad(t):
    return from_np(rgrad, t.detach().cpu().numpy().copy())


def copy_weights(rmod, tmod):
    """Loads torch module `tmod`'s state into rgrad module `rmod` (strictly: same keys)."""
    rmod.load_state_dict({k: to_rgrad(v) for k, v in tmod.state_dict().items()})


def make_net(lib):
    nn = lib.nn

    class MyCoolNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin1 = nn.Linear(4, 8)
            self.act = nn.ReLU()
            self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Dropout(0.1))
            self.heads = nn.ModuleList([nn.Linear(8, 3), nn.Linear(8, 3), nn.Linear(8, 2, bias=False)])
            self.norm = nn.LayerNorm(8)
            self.bn = nn.BatchNorm1d(8)
            self.scale = nn.Parameter(lib.ones(3))
            self.register_buffer("offset", lib.zeros(3))
            self.register_buffer("tmp", lib.zeros(2), persistent=False)

        def forward(self, x):
            h = self.bn(self.norm(self.block(self.act(self.lin1(x)))))
            return (self.heads[0](h) + self.heads[1](h)) * self.scale + self.offset + self.heads[2](h).sum()

    return MyCoolNet()


def test_parameter_is_tensor():
    p = rgrad.nn.Parameter(rgrad.randn(2, 3))
    assert isinstance(p, rgrad.Tensor) and isinstance(p, rgrad.nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert not rgrad.nn.Parameter(rgrad.zeros(2), requires_grad=False).requires_grad
    # Ops take and return plain tensors; gradients reach the parameter.
    y = (p * 2 + rgrad.ones(2, 3)).sum()
    assert type(y) is rgrad.Tensor and y.grad_fn is not None
    y.backward()
    close(p.grad, np.full((2, 3), 2.0, np.float32))
    # Shares storage with the source, as torch's Parameter.
    src = rgrad.zeros(3)
    q = rgrad.nn.Parameter(src)
    src.add_(1)
    close(q.detach(), np.ones(3, np.float32))
    with pytest.raises(TypeError):
        rgrad.nn.Parameter([1.0, 2.0])


def test_parameter_repr_deepcopy_pickle():
    data = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    p, tp = rgrad.nn.Parameter(from_np(rgrad, data)), torch.nn.Parameter(from_np(torch, data))
    assert strip_device(repr(p)) == repr(tp)
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is rgrad.nn.Parameter and q.requires_grad
        close(q.detach(), data)
        assert q.data_ptr() != p.data_ptr()
    assert strip_device(repr(rgrad.nn.Parameter())) == repr(torch.nn.Parameter())


def test_registration_and_names():
    r, t = make_net(rgrad), make_net(torch)
    assert [n for n, _ in r.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in r.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in r.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in r.named_children()] == [n for n, _ in t.named_children()]
    assert list(r.state_dict().keys()) == list(t.state_dict().keys())
    assert [n for n, _ in r.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert len(list(r.parameters())) == len(list(t.parameters()))
    assert all(isinstance(p, rgrad.nn.Parameter) for p in r.parameters())
    assert r.get_submodule("block.0") is r.block[0]
    assert r.get_parameter("heads.1.bias") is r.heads[1].bias
    assert r.get_buffer("bn.running_mean") is r.bn.running_mean
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        r.get_submodule("block.nope")
    assert set(dir(r)) >= {"lin1", "scale", "offset", "forward", "training"}


def test_shared_parameters_deduplicated():
    for lib in (rgrad, torch):
        lin = lib.nn.Linear(3, 3)
        seq = lib.nn.Sequential(lin, lib.nn.ReLU(), lin)
        names = [n for n, _ in seq.named_parameters()]
        assert names == ["0.weight", "0.bias"]
        assert len([n for n, _ in seq.named_parameters(remove_duplicate=False)]) == 4


def test_setattr_reassign_and_delete():
    m = rgrad.nn.Module()
    m.w = rgrad.nn.Parameter(rgrad.zeros(2))
    assert "w" in m._parameters and "w" not in m.__dict__
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = rgrad.zeros(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.sub = rgrad.nn.Linear(2, 2)
    assert "sub" in m._modules
    m.register_buffer("buf", rgrad.ones(1))
    m.buf = rgrad.zeros(1)          # plain tensors replace a registered buffer
    assert m._buffers["buf"] is m.buf
    m.nb = rgrad.nn.Buffer(rgrad.ones(2), persistent=False)
    assert "nb" in m._buffers and "nb" not in m.state_dict()
    del m.sub, m.buf
    assert "sub" not in m._modules and "buf" not in m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub
    with pytest.raises(KeyError, match="attribute 'nb' already exists"):
        m.register_parameter("nb", None)
    with pytest.raises(KeyError):
        m.register_buffer("a.b", None)

    class Early(rgrad.nn.Module):
        def __init__(self):
            self.w = rgrad.nn.Parameter(rgrad.zeros(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_non_leaf_parameter_rejected():
    m = rgrad.nn.Module()
    w = rgrad.nn.Parameter(rgrad.zeros(2))
    with pytest.raises(TypeError, match="torch.nn.Parameter or None required"):
        m.register_parameter("x", w * 2)


def test_repr_matches_torch():
    assert repr(make_net(rgrad)) == repr(make_net(torch))
    for build in (lambda nn: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]),
                  lambda nn: nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Sequential(nn.GELU())}),
                  lambda nn: nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Softmax(dim=1))),
                  lambda nn: nn.Sequential()):
        assert repr(build(rgrad.nn)) == repr(build(torch.nn))


def test_forward_and_grads_match_torch():
    # seeded: with unseeded weights about 1 draw in 15 puts a float32 rounding difference of a
    # large-gradient layer just over the fixed atol
    rgrad.manual_seed(0)
    torch.manual_seed(0)
    r, t = make_net(rgrad), make_net(torch)
    copy_weights(r, t)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    r.eval(), t.eval()
    close(r(from_np(rgrad, x)), t(from_np(torch, x)), rtol=1e-5, atol=1e-5)
    r.train(), t.train()
    r.block[2].p = t.block[2].p = 0.0   # deterministic in training mode
    yr, yt = r(from_np(rgrad, x)), t(from_np(torch, x))
    close(yr, yt, rtol=1e-5, atol=1e-5)
    (yr * yr).sum().backward()
    (yt * yt).sum().backward()
    tgrads = dict(t.named_parameters())
    for name, p in r.named_parameters():
        close(p.grad, tgrads[name].grad, rtol=1e-4, atol=1e-4)
    for name, b in r.named_buffers():
        close(b, dict(t.named_buffers())[name], rtol=1e-5, atol=1e-6)


def test_train_eval_flags():
    r = make_net(rgrad)
    assert all(m.training for m in r.modules())
    assert r.eval() is r and not any(m.training for m in r.modules())
    r.train()
    assert all(m.training for m in r.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        r.train("yes")


def test_state_dict_round_trip():
    a, b = make_net(rgrad), make_net(rgrad)
    sd = a.state_dict()
    assert all(not v.requires_grad for v in sd.values())
    assert sd["lin1.weight"].data_ptr() == a.lin1.weight.data_ptr()
    assert a.state_dict(keep_vars=True)["lin1.weight"] is a.lin1.weight
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == [] and repr(res) == "<All keys matched successfully>"
    for k, v in b.state_dict().items():
        close(v, sd[k].cpu().numpy())
    # Copied, not aliased.
    assert b.lin1.weight.data_ptr() != a.lin1.weight.data_ptr()
    b.load_state_dict(sd, assign=True)
    assert b.lin1.weight.data_ptr() == a.lin1.weight.data_ptr() and isinstance(b.lin1.weight, rgrad.nn.Parameter)
    # Through rgrad.save/load-style pickling of the dict.
    sd2 = pickle.loads(pickle.dumps(sd))
    make_net(rgrad).load_state_dict(sd2)


def test_load_state_dict_errors_match_torch():
    def msgs(lib, sd_fn, strict=True):
        m = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
        sd = sd_fn(lib, m.state_dict())
        try:
            return m.load_state_dict(sd, strict=strict)
        except RuntimeError as e:
            return str(e).replace("torch.", "rgrad.")

    def missing_unexpected(lib, sd):
        sd = OrderedDict(sd)
        del sd["0.bias"], sd["1.running_var"]
        sd["0.extra"] = lib.zeros(1)
        sd["2.weight"] = lib.zeros(1)
        return sd

    def wrong_shape(lib, sd):
        sd = OrderedDict(sd)
        sd["0.weight"] = lib.zeros(4, 2)
        return sd

    for fn in (missing_unexpected, wrong_shape):
        got, want = msgs(rgrad, fn), msgs(torch, fn)
        assert isinstance(got, str) and got == want
        got, want = msgs(rgrad, fn, strict=False), msgs(torch, fn, strict=False)
        assert isinstance(got, str) == isinstance(want, str)
        if not isinstance(want, str):
            assert (got.missing_keys, got.unexpected_keys) == (want.missing_keys, want.unexpected_keys)
            assert repr(got) == repr(want).replace("torch.", "rgrad.")
        else:
            assert got == want
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        rgrad.nn.Linear(2, 2).load_state_dict([1, 2])


def test_forward_hooks():
    lin = rgrad.nn.Linear(3, 2)
    calls = []
    x = rgrad.randn(4, 3)

    def pre(mod, args):
        calls.append(("pre", mod))
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append(("post", args[0].abs().sum().item()))
        return out + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    y = lin(x)
    assert calls == [("pre", lin), ("post", 0.0)]
    close(y, (lin.bias.detach() + 1).expand(4, 2).cpu().numpy())
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    close(lin(x), (x @ lin.weight.t() + lin.bias).detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    assert len(calls) == 2

    def kw_pre(mod, args, kwargs):
        return args, {**kwargs}

    def kw_post(mod, args, kwargs, out):
        calls.append("kw")

    order = []
    with lin.register_forward_pre_hook(kw_pre, with_kwargs=True), \
            lin.register_forward_hook(kw_post, with_kwargs=True), \
            lin.register_forward_hook(lambda *a: order.append(2)), \
            lin.register_forward_hook(lambda *a: order.append(1), prepend=True):
        lin(x)
    assert calls[-1] == "kw" and order == [1, 2]
    lin(x)
    assert order == [1, 2] and not lin._forward_hooks and not lin._forward_pre_hooks


def test_zero_grad_requires_grad_apply():
    m = rgrad.nn.Sequential(rgrad.nn.Linear(2, 2), rgrad.nn.Linear(2, 1))
    m(rgrad.randn(3, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m and not any(p.requires_grad for p in m.parameters())
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "Linear", "Sequential"]


@pytest.mark.cpu_only(reason=FLOAT64_REASON)
def test_conversions():
    m = make_net(rgrad)
    assert m.float() is m and m.to("cpu") is m and m.cpu() is m
    w = m.lin1.weight
    assert m.to(rgrad.float32).lin1.weight is w          # no-op keeps identity
    m.double()
    assert m.lin1.weight.dtype == rgrad.float64 and isinstance(m.lin1.weight, rgrad.nn.Parameter)
    assert m.lin1.weight.requires_grad and m.bn.running_mean.dtype == rgrad.float64
    assert m.bn.num_batches_tracked.dtype == rgrad.int64       # non-float buffers keep their dtype
    close(m.lin1.weight.detach().float(), w.detach().cpu().numpy())
    y = m(rgrad.randn(3, 4, dtype=rgrad.float64))
    assert y.dtype == rgrad.float64
    m.to(dtype=rgrad.float32)
    assert m.lin1.weight.dtype == rgrad.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(rgrad.int64)


def test_sequential_api():
    nn = rgrad.nn
    a, b, c = nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    x = rgrad.randn(4, 2)
    close(s(x), c(b(a(x))).detach().cpu().numpy())
    s.append(nn.Tanh())
    assert len(s) == 4 and list(s._modules) == ["0", "1", "2", "3"]
    s.insert(1, nn.Identity())
    assert isinstance(s[1], nn.Identity) and s[2] is b
    del s[1]
    assert list(s._modules) == ["0", "1", "2", "3"] and s[1] is b
    s.extend([nn.Sigmoid()])
    assert isinstance(s[-1], nn.Sigmoid)
    s[0] = nn.Linear(2, 2)
    assert s[0] is not a
    assert len(s + nn.Sequential(nn.ReLU())) == 6
    assert s.pop(0) is not a and len(s) == 4
    od = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert od.fc is a and list(od._modules) == ["fc", "act"]


def test_module_list_and_dict():
    nn = rgrad.nn
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert isinstance(ml[0], nn.Linear) and list(ml._modules) == [str(i) for i in range(5)]
    with pytest.raises(TypeError, match="should be called with an iterable"):
        ml.extend(5)
    with pytest.raises(NotImplementedError):
        ml(rgrad.zeros(1))
    md = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.ReLU()})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert [k for k, _ in md.items()] == ["b", "a", "c"]
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]
    md.update([("d", nn.Identity())])
    assert list(md) == ["b", "c", "d"]


def test_parameter_list_and_dict():
    for lib in (rgrad, torch):
        nn = lib.nn
        pl = nn.ParameterList([nn.Parameter(lib.ones(2)), lib.zeros(3)])
        assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
        pl.append(lib.ones(1, 2))
        assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
        pd = nn.ParameterDict({"b": lib.ones(2), "a": nn.Parameter(lib.zeros(1))})
        assert list(pd.keys()) == ["a", "b"]     # plain dicts are taken in sorted order, as torch
        pd["c"] = lib.ones(3)
        assert isinstance(pd["c"], nn.Parameter) and len(pd) == 3 and "c" in pd
    r = rgrad.nn.ParameterList([rgrad.ones(2, 3)])
    t = torch.nn.ParameterList([torch.ones(2, 3)])
    assert repr(r) == _on_device(repr(t).replace("torch.", "rgrad."))
    r = rgrad.nn.ParameterDict({"w": rgrad.ones(2)})
    t = torch.nn.ParameterDict({"w": torch.ones(2)})
    assert repr(r) == _on_device(repr(t).replace("torch.", "rgrad."))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        rgrad.nn.ParameterList()(1)


def test_deepcopy_and_pickle_module():
    m = make_net(rgrad)
    plain = rgrad.nn.Sequential(rgrad.nn.Linear(2, 3), rgrad.nn.BatchNorm1d(3))   # picklable classes
    for m, m2 in ((m, copy.deepcopy(m)), (plain, pickle.loads(pickle.dumps(plain)))):
        assert repr(m2) == repr(m)
        for (n1, p1), (n2, p2) in zip(m.named_parameters(), m2.named_parameters()):
            assert n1 == n2 and isinstance(p2, rgrad.nn.Parameter) and p2.requires_grad
            assert p2.data_ptr() != p1.data_ptr()
            close(p2.detach(), p1.detach().cpu().numpy())


def test_forward_unimplemented():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        rgrad.nn.Module()(1)


def test_full_backward_hooks_match_torch():
    def run(lib):
        lin = lib.nn.Linear(3, 2)
        with lib.no_grad():
            lin.weight.copy_(lib.arange(6.0).reshape(2, 3) / 7)
            lin.bias.fill_(0.1)
        log = []
        lin.register_full_backward_pre_hook(lambda m, go: log.append(("pre", [g.tolist() for g in go])))
        h = lin.register_full_backward_hook(
            lambda m, gi, go: log.append(("bw", [g.tolist() for g in gi], [g.tolist() for g in go])))
        x = lib.ones(2, 3, requires_grad=True)
        (lin(x) * 2).sum().backward()
        h.remove()
        lin.register_full_backward_hook(lambda m, gi, go: None if gi[0] is None else (gi[0] * 3,))
        x2 = lib.ones(1, 3, requires_grad=True)
        lin(x2).sum().backward()
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            lin(lib.ones(1, 3)).sum().backward()
        return log, x2.grad.cpu().numpy()

    (got, gx), (want, wx) = run(rgrad), run(torch)
    assert_close(gx, wx, rtol=1e-6)
    assert [e[0] for e in got] == [e[0] for e in want] == ["pre", "bw", "pre", "pre"]
    for a, b in zip(got, want):
        for x, y in zip(a[1:], b[1:]):
            assert_close(np.array(x), np.array(y), rtol=1e-6)


def test_global_forward_hook():
    seen = []
    h = rgrad.nn.modules.module.register_module_forward_hook(lambda m, a, o: seen.append(type(m).__name__))
    try:
        rgrad.nn.Sequential(rgrad.nn.Linear(2, 2), rgrad.nn.ReLU())(rgrad.zeros(1, 2))
    finally:
        h.remove()
    rgrad.nn.ReLU()(rgrad.zeros(1))
    assert seen == ["Linear", "ReLU", "Sequential"]


def test_conversion_keeps_tied_weights():
    for lib in (rgrad, torch):
        enc, dec = lib.nn.Embedding(5, 3), lib.nn.Linear(3, 5, bias=False)
        dec.weight = enc.weight
        dt = getattr(lib, "float16" if ON_GPU else "float64")  # (float64 cannot live on the GPU)
        m = lib.nn.Sequential(enc, dec).to(dt)
        assert m[1].weight is m[0].weight and m[0].weight.dtype == dt
        assert len(list(m.parameters())) == 1


def test_state_dict_hooks():
    m = rgrad.nn.Linear(2, 2)
    seen = []
    m.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: seen.append(("pre", mod, prefix)))
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(("post", keys.missing_keys)))
    m._register_state_dict_hook(lambda mod, sd, prefix, meta: seen.append(("sd", sorted(sd))))
    sd = m.state_dict()
    m.load_state_dict(sd)
    assert seen == [("sd", ["bias", "weight"]), ("pre", m, ""), ("post", [])]
