"""Training on the GPU against training on the CPU: the same model, initial weights, data and
optimizer give the same loss trajectory and final weights (the CPU run is the oracle, itself
checked against torch in test_training_parity.py), and a long GPU training loop keeps the
device allocator flat.

Models move with `Module._apply` over the core's `_to_device`, so that these tests do not
depend on the Python-level `Module.to('cuda')` wiring (tested at the end)."""

import gc

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad import _C
from gpu_helpers import cpu, gpu, on_gpu, requires_gpu, to_np

pytestmark = requires_gpu


def mlp():
    return nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 16), nn.Tanh(),
                         nn.Linear(16, 5))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1, stride=2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 5))


def module_to_gpu(model):
    return model._apply(gpu)


def build(arch, seed, device):
    rgrad.manual_seed(seed)
    model = arch()
    return module_to_gpu(model) if device == "gpu" else model


OPTIMIZERS = {
    "sgd": lambda p: rgrad.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    "adam": lambda p: rgrad.optim.Adam(p, lr=1e-2),
    "adamw_amsgrad": lambda p: rgrad.optim.AdamW(p, lr=1e-2, amsgrad=True),
}


def batches(arch, steps, seed=0):
    rng = np.random.default_rng(seed)
    shape = (16, 20) if arch is mlp else (16, 1, 8, 8)
    return [(rgrad.from_numpy(rng.standard_normal(shape).astype(np.float32)), rgrad.from_numpy(rng.integers(0, 5, 16)))
            for _ in range(steps)]


def train(model, opt, data, device, clip=None):
    losses = []
    move = gpu if device == "gpu" else (lambda x: x)
    for x, y in data:
        opt.zero_grad()
        loss = F.cross_entropy(model(move(x)), move(y))
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        losses.append(loss.item())
    return losses


# The CNN takes ~5 s a run on lavapipe, so it trains with SGD and Adam only.
@pytest.mark.parametrize("arch,opt_name", [(mlp, o) for o in OPTIMIZERS] + [(cnn, "sgd"), (cnn, "adam")],
                         ids=[f"mlp-{o}" for o in OPTIMIZERS] + ["cnn-sgd", "cnn-adam"])
def test_same_trajectory_as_cpu(arch, opt_name):
    data = batches(arch, 30)
    runs = {}
    for device in ("cpu", "gpu"):
        model = build(arch, 0, device)
        opt = OPTIMIZERS[opt_name](model.parameters())
        losses = train(model, opt, data, device, clip=1.0 if opt_name == "sgd" else None)
        runs[device] = (model, losses)
    (m_cpu, l_cpu), (m_gpu, l_gpu) = runs["cpu"], runs["gpu"]
    for step, (a, b) in enumerate(zip(l_gpu, l_cpu)):
        np.testing.assert_allclose(a, b, rtol=1e-4, err_msg=f"loss at step {step}")
    s_cpu, s_gpu = m_cpu.state_dict(), m_gpu.state_dict()
    assert list(s_gpu) == list(s_cpu)
    for k, v in s_cpu.items():
        assert on_gpu(s_gpu[k]), f"{k} left the GPU"
        np.testing.assert_allclose(to_np(s_gpu[k]), to_np(v), rtol=2e-3, atol=2e-4, err_msg=k)
    # eval mode (BatchNorm's running statistics) on held-out data
    m_cpu.eval(), m_gpu.eval()
    x, _ = batches(arch, 1, seed=99)[0]
    with rgrad.no_grad():
        np.testing.assert_allclose(to_np(m_gpu(gpu(x))), to_np(m_cpu(x)), rtol=2e-3, atol=2e-4)


def test_gradients_of_one_step_match():
    data = batches(mlp, 1)
    grads = {}
    for device in ("cpu", "gpu"):
        model = build(mlp, 1, device)
        x, y = data[0]
        move = gpu if device == "gpu" else (lambda v: v)
        F.cross_entropy(model(move(x)), move(y)).backward()
        grads[device] = {n: p.grad for n, p in model.named_parameters()}
    for n, g in grads["cpu"].items():
        assert on_gpu(grads["gpu"][n]), n
        np.testing.assert_allclose(to_np(grads["gpu"][n]), to_np(g), rtol=1e-4, atol=1e-6, err_msg=n)


def test_gpu_state_dict_loads_into_cpu_model():
    g = build(mlp, 2, "gpu")
    c = mlp()
    c.load_state_dict({k: cpu(v) for k, v in g.state_dict().items()})
    x = batches(mlp, 1)[0][0]
    with rgrad.no_grad():
        np.testing.assert_allclose(to_np(g(gpu(x))), to_np(c(x)), rtol=1e-5, atol=1e-6)


def _stats():
    gc.collect()
    _C._gpu_synchronize()
    return _C._gpu_memory_stats()


def test_allocator_is_flat_over_a_long_loop():
    # Every step allocates and frees the same set of activations, gradients and optimizer
    # temporaries; once the cache holds one step's worth, the live bytes and the number of wgpu
    # buffers must stop moving.
    model = build(mlp, 3, "gpu")
    opt = rgrad.optim.Adam(model.parameters(), lr=1e-3)
    data = batches(mlp, 4)
    seen = {}
    for step in range(1, 201):
        x, y = data[step % 4]
        opt.zero_grad()
        loss = F.cross_entropy(model(gpu(x)), gpu(y))
        loss.backward()
        opt.step()
        loss.item()
        if step in (20, 100, 200):
            seen[step] = _stats()
    live = [seen[s][0] for s in (20, 100, 200)]
    buffers = [seen[s][2] for s in (20, 100, 200)]
    assert live[0] == live[2], f"live bytes after steps 20/100/200: {live}"
    assert buffers[0] == buffers[2], f"wgpu buffers after steps 20/100/200: {buffers}"
    assert live[0] > 0  # the model's own parameters and optimizer state live on the GPU


def test_freeing_returns_bytes_and_empty_cache_drops_buffers():
    base = _stats()
    x = gpu(rgrad.ones(1 << 16))
    y = (x * 2).sum()
    mid = _stats()
    assert mid[0] >= base[0] + 4 * (1 << 16), (base, mid)
    del x, y
    after = _stats()
    assert after[0] == base[0], (base, after)
    _C._gpu_empty_cache()
    emptied = _stats()
    assert emptied[1] == 0 and emptied[2] <= after[2], (after, emptied)


def test_python_gpu_module():
    # rgrad.gpu (alias rgrad.cuda) reports the device and exposes the allocator statistics.
    g = rgrad.gpu
    assert g.is_available() is True and g.device_count() == 1
    g.synchronize()
    x = gpu(rgrad.ones(1000))
    assert g.memory_allocated() >= 4000
    assert g.memory_allocated() == _C._gpu_memory_stats()[0]
    if hasattr(g, "memory_reserved"):
        assert g.memory_reserved() >= g.memory_allocated()
    if hasattr(g, "empty_cache"):
        g.empty_cache()
    del x
    assert rgrad.cuda.is_available() is True


def test_module_to_cuda_and_back():
    model = mlp()
    w0 = model[0].weight.detach().clone()
    assert model.to("cuda") is model
    assert all(on_gpu(p) for p in model.parameters())
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    opt = rgrad.optim.SGD(model.parameters(), lr=0.1)
    x, y = batches(mlp, 1)[0]
    F.cross_entropy(model(x.cuda()), y.cuda()).backward()
    opt.step()
    model.cpu()
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert not np.array_equal(model[0].weight.detach().numpy(), w0.numpy())
