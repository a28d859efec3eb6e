"""nn.init against torch's formulas (gains, fans) and checked statistically (bounds, mean,
std); nn.utils gradient clipping and parameter/vector conversion against torch."""

import math

import numpy as np
import pytest

import rgrad
from helpers import assert_close, assert_matches, from_np, requires_torch, torch

pytestmark = requires_torch


def close(t, expected, **kw):
    """assert_matches on the rgrad tensor's value (detached)."""
    assert_matches(t.detach(), expected.detach() if torch is not None and isinstance(expected, torch.Tensor)
                   else expected, **kw)

init, tinit = rgrad.nn.init, (torch.nn.init if torch is not None else None)


@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                      ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain(nl, param):
    assert init.calculate_gain(nl, param) == tinit.calculate_gain(nl, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3), (6, 4, 3, 2), (2, 3, 1, 2, 2)])
def test_fans(shape):
    assert init._calculate_fan_in_and_fan_out(rgrad.empty(shape)) == \
        tinit._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fans_error():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(rgrad.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(rgrad.empty(3, 3), mode="fan_avg")


N = (400, 500)  # 200k samples: sample std within ~0.3% of the true one


def stats(t):
    v = t.detach().cpu().numpy().astype(np.float64)
    return v.min(), v.max(), v.mean(), v.std()


def test_uniform_normal_constant():
    rgrad.manual_seed(0)
    lo, hi, mean, std = stats(init.uniform_(rgrad.empty(N), -2.0, 3.0))
    assert -2 <= lo and hi <= 3 and abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.01
    lo, hi, mean, std = stats(init.normal_(rgrad.empty(N), 1.5, 0.5))
    assert abs(mean - 1.5) < 0.01 and abs(std - 0.5) < 0.005
    w = rgrad.empty(3, 4)
    assert init.constant_(w, 0.3) is w
    close(w, np.full((3, 4), 0.3, np.float32))
    close(init.ones_(w), np.ones((3, 4), np.float32))
    close(init.zeros_(w), np.zeros((3, 4), np.float32))
    close(init.eye_(rgrad.empty(3, 5)), np.eye(3, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(rgrad.empty(3))


def test_init_in_place_on_parameters_without_history():
    p = rgrad.nn.Parameter(rgrad.empty(3, 4))
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_, init.orthogonal_,
               init.trunc_normal_, init.zeros_):
        out = fn(p)
        assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad


def test_reproducible_with_manual_seed():
    rgrad.manual_seed(3)
    a = init.kaiming_normal_(rgrad.empty(5, 6)).cpu().numpy()
    rgrad.manual_seed(3)
    close(init.kaiming_normal_(rgrad.empty(5, 6)), a)
    g = rgrad.Generator().manual_seed(7)
    b = init.uniform_(rgrad.empty(4), generator=g).cpu().numpy()
    g.manual_seed(7)
    close(init.uniform_(rgrad.empty(4), generator=g), b)


@pytest.mark.parametrize("shape", [(400, 500), (100, 50, 3, 3)])
def test_xavier(shape):
    rgrad.manual_seed(0)
    fan_in, fan_out = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    gain = 1.7
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    lo, hi, mean, std = stats(init.xavier_uniform_(rgrad.empty(shape), gain=gain))
    assert -bound <= lo and hi <= bound and hi > 0.99 * bound
    assert abs(std - bound / math.sqrt(3)) < 0.01 * bound and abs(mean) < 0.01 * bound
    lo, hi, mean, std = stats(init.xavier_normal_(rgrad.empty(shape), gain=gain))
    assert abs(std - bound / math.sqrt(3)) < 0.01 * bound and abs(mean) < 0.01 * bound


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("relu", 0), ("leaky_relu", 0.1), ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming(mode, nl, a):
    rgrad.manual_seed(0)
    shape = (200, 100, 3, 3)
    fan = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))[0 if mode == "fan_in" else 1]
    std_want = tinit.calculate_gain(nl, a) / math.sqrt(fan)
    lo, hi, mean, std = stats(init.kaiming_uniform_(rgrad.empty(shape), a=a, mode=mode, nonlinearity=nl))
    bound = math.sqrt(3) * std_want
    assert -bound <= lo and hi <= bound and abs(std - std_want) < 0.01 * std_want
    lo, hi, mean, std = stats(init.kaiming_normal_(rgrad.empty(shape), a=a, mode=mode, nonlinearity=nl))
    assert abs(std - std_want) < 0.01 * std_want and abs(mean) < 0.01 * std_want


def test_kaiming_zero_element_warns():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(rgrad.empty(0, 3))


def test_trunc_normal():
    rgrad.manual_seed(0)
    lo, hi, mean, std = stats(init.trunc_normal_(rgrad.empty(N), mean=0.5, std=2.0, a=-1.0, b=3.0))
    t = torch.empty(N)
    torch.manual_seed(0)
    _, _, tmean, tstd = stats(tinit.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=3.0))
    assert -1.0 <= lo and hi <= 3.0
    assert abs(mean - tmean) < 0.01 and abs(std - tstd) < 0.01


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 2, 3), (6, 6)])
def test_orthogonal(shape):
    rgrad.manual_seed(0)
    w = init.orthogonal_(rgrad.empty(shape), gain=2.0).cpu().numpy().reshape(shape[0], -1).astype(np.float64)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    assert_close(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(rgrad.empty(3))


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((2, 3, 1, 3, 3), 1)])
def test_dirac(shape, groups):
    close(init.dirac_(rgrad.empty(shape), groups), tinit.dirac_(torch.empty(shape), groups))


def test_sparse():
    rgrad.manual_seed(0)
    w = init.sparse_(rgrad.empty(10, 300), sparsity=0.3, std=0.5).cpu().numpy()
    assert np.all((w == 0).sum(0) >= 3)
    assert abs(w[w != 0].std() - 0.5) < 0.03


# ----- nn.utils ------------------------------------------------------------------------------

def grads_pair(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 2, 2)]
    gs = [rng.standard_normal(s).astype(np.float32) * 3 for s in shapes]
    rp = [rgrad.nn.Parameter(rgrad.zeros(s)) for s in shapes]
    tp = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
    for a, b, g in zip(rp, tp, gs):
        a.grad = from_np(rgrad, g.copy())
        b.grad = from_np(torch, g.copy())
    return rp, tp


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm(norm_type, max_norm):
    rp, tp = grads_pair()
    nr = rgrad.nn.utils.clip_grad_norm_(rp, max_norm, norm_type=norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    close(nr, nt, rtol=1e-5)
    for a, b in zip(rp, tp):
        close(a.grad, b.grad, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_edge_cases():
    p = rgrad.nn.Parameter(rgrad.zeros(3))
    assert rgrad.nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0   # no grads
    p.grad = rgrad.tensor([float("inf"), 1.0, 0.0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        rgrad.nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    q = rgrad.nn.Parameter(rgrad.zeros(2))
    q.grad = rgrad.tensor([3.0, 4.0])
    assert rgrad.nn.utils.clip_grad_norm_(q, 1.0).item() == pytest.approx(5.0)   # a single tensor
    close(q.grad, np.array([0.6, 0.8], np.float32), rtol=1e-5)


def test_clip_grad_value():
    rp, tp = grads_pair(1)
    rgrad.nn.utils.clip_grad_value_(rp, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for a, b in zip(rp, tp):
        close(a.grad, b.grad)


def test_parameters_vector_round_trip():
    r, t = rgrad.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    r.load_state_dict({k: from_np(rgrad, v.detach().cpu().numpy().copy()) for k, v in t.state_dict().items()})
    vr = rgrad.nn.utils.parameters_to_vector(r.parameters())
    close(vr, torch.nn.utils.parameters_to_vector(t.parameters()))
    assert vr.grad_fn is not None     # differentiable, as torch's
    new = np.arange(8, dtype=np.float32)
    rgrad.nn.utils.vector_to_parameters(from_np(rgrad, new), r.parameters())
    torch.nn.utils.vector_to_parameters(from_np(torch, new), t.parameters())
    for (n, a), (_, b) in zip(r.named_parameters(), t.named_parameters()):
        close(a.detach(), b)
        assert a.requires_grad
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        rgrad.nn.utils.vector_to_parameters([1.0], r.parameters())


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch deprecates its weight_norm
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm(dim):
    r = rgrad.nn.utils.weight_norm(rgrad.nn.Linear(4, 3), dim=dim)
    t = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3), dim=dim)
    assert [n for n, _ in r.named_parameters()] == [n for n, _ in t.named_parameters()]
    r.load_state_dict({k: from_np(rgrad, v.detach().cpu().numpy().copy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    yr, yt = r(from_np(rgrad, x)), t(from_np(torch, x))
    close(yr, yt, rtol=1e-5, atol=1e-6)
    yr.sum().backward()
    yt.sum().backward()
    for (n, a), (_, b) in zip(r.named_parameters(), t.named_parameters()):
        close(a.grad, b.grad, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        rgrad.nn.utils.weight_norm(r, dim=dim)
    rgrad.nn.utils.remove_weight_norm(r)
    torch.nn.utils.remove_weight_norm(t)
    assert isinstance(r.weight, rgrad.nn.Parameter) and sorted(r._parameters) == ["bias", "weight"]
    close(r.weight, t.weight, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        rgrad.nn.utils.remove_weight_norm(r)


def test_skip_init():
    m = rgrad.nn.utils.skip_init(rgrad.nn.Linear, 3, 2, bias=False)
    assert m.weight.shape == (2, 3) and m.bias is None


@pytest.mark.parametrize("n_iter", [1, 3])
def test_spectral_norm(n_iter):
    r = rgrad.nn.utils.spectral_norm(rgrad.nn.Linear(5, 4), n_power_iterations=n_iter)
    t = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 4), n_power_iterations=n_iter)
    assert [n for n, _ in r.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in r.named_buffers()] == [n for n, _ in t.named_buffers()]
    r.load_state_dict({k: from_np(rgrad, v.detach().cpu().numpy().copy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    for _ in range(2):   # training mode: the power iteration updates u and v
        yr, yt = r(from_np(rgrad, x)), t(from_np(torch, x))
        close(yr, yt, rtol=1e-5, atol=1e-6)
        close(r.weight_u, t.weight_u, rtol=1e-5, atol=1e-6)
    yr.sum().backward()
    yt.sum().backward()
    for (n, a), (_, b) in zip(r.named_parameters(), t.named_parameters()):
        close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    r.eval(), t.eval()
    close(r(from_np(rgrad, x)), t(from_np(torch, x)), rtol=1e-5, atol=1e-6)
    close(r.weight_v, t.weight_v, rtol=1e-5, atol=1e-6)
    rgrad.nn.utils.remove_spectral_norm(r)
    torch.nn.utils.remove_spectral_norm(t)
    assert isinstance(r.weight, rgrad.nn.Parameter) and "weight_u" not in r._buffers
    close(r.weight, t.weight, rtol=1e-5, atol=1e-6)
    # The largest singular value of the normalised weight is 1 after enough iterations.
    m = rgrad.nn.utils.spectral_norm(rgrad.nn.Linear(6, 6), n_power_iterations=50)
    m(rgrad.zeros(1, 6))
    assert abs(np.linalg.svd(m.weight.detach().cpu().numpy(), compute_uv=False)[0] - 1) < 1e-3
