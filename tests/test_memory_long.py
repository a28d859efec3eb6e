"""Memory stays flat over long runs: 10,000 training steps on the CPU and on the GPU, autograd
graphs tied into reference cycles through Python objects, and tensors sharing numpy's memory
(`from_numpy`) created and dropped many times. A leak of one small tensor per step shows up as
megabytes here, far above the noise of the allocators."""

import gc
import os
import time
import weakref

import numpy as np
import pytest

import rgrad
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad import _C

from gpu_helpers import gpu, requires_gpu

requires_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")

MiB = 2 ** 20


def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mlp(seed, sizes=(32, 64, 10)):
    rgrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.ReLU(), nn.Linear(sizes[1], sizes[2]))


def batches(n, seed=0, width=32, classes=10, batch=16):
    rng = np.random.default_rng(seed)
    return [(rgrad.from_numpy(rng.standard_normal((batch, width), dtype=np.float32)),
             rgrad.from_numpy(rng.integers(0, classes, batch)))
            for _ in range(n)]


def run_steps(model, opt, data, start, stop, on_step=None):
    for step in range(start, stop):
        x, y = data[step % len(data)]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step, loss)
    return loss


@requires_proc
def test_cpu_training_10k_steps_rss_flat():
    model = mlp(0)
    opt = rgrad.optim.Adam(model.parameters(), lr=1e-3)
    data = batches(8)
    run_steps(model, opt, data, 0, 500)  # warm-up: allocator pools, Adam state, caches
    before = rss()
    losses = []
    loss = run_steps(model, opt, data, 500, 10_000,
                     on_step=lambda s, l: losses.append(l.item()) if s % 1000 == 0 else None)
    grown = rss() - before
    assert np.isfinite(loss.item()) and losses[-1] < losses[0]
    # one leaked activation (16x64 floats) per step would be ~40 MiB over 9,500 steps
    assert grown < 4 * MiB, f"resident memory grew by {grown / MiB:.2f} MiB over 9,500 steps"


class KeepInput(rgrad.autograd.Function):
    """Keeps its input as a plain ctx attribute besides save_for_backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.kept = x
        return x * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2


class KeepOutput(KeepInput):
    """Keeps its own output on ctx: out -> grad_fn -> ctx -> out, a cycle only the GC can free
    (torch's docs advise against it, but torch does collect it)."""

    @staticmethod
    def forward(ctx, x):
        out = KeepInput.forward(ctx, x)
        ctx.out = out
        return out


class SelfRef(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.last = None

    def forward(self, x):
        out = self.lin(x)
        self.last = out  # the module holds its own output, whose graph holds the module's weights
        out.owner = self  # and the output points back at the module
        return out


FUNCTIONS = [KeepInput, KeepOutput]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: getattr(f, "__name__", ""))
def test_custom_function_ctx_cycles_are_collected(fn):
    refs = []
    for retain in (False, True) * 5:
        x = rgrad.randn(8, 4, requires_grad=True)
        out = fn.apply(x)
        out.sum().backward(retain_graph=retain)
        refs += [weakref.ref(x), weakref.ref(out)]
        del x, out
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert not alive, f"{alive} of {len(refs)} tensors in ctx reference cycles were not collected"


def test_module_holding_its_output_is_collected():
    refs = []
    for _ in range(10):
        m = SelfRef()
        x = rgrad.randn(8, 4, requires_grad=True)
        y = m(x)
        y.sum().backward()
        refs += [weakref.ref(m), weakref.ref(y), weakref.ref(m.lin.weight)]
        del m, x, y
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert not alive, f"{alive} of {len(refs)} objects in module/output cycles were not collected"


@requires_proc
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: getattr(f, "__name__", ""))
def test_ctx_cycles_do_not_grow_rss(fn):
    def cycle():
        x = rgrad.randn(256, 256, requires_grad=True)
        fn.apply(x).sum().backward()

    def rounds(n):
        # cycles wait for a collection (torch's too: its RSS grows ~100 MiB here without one)
        for i in range(n):
            cycle()
            if i % 10 == 9:
                gc.collect()
    rounds(50)
    before = rss()
    rounds(200)
    grown = rss() - before
    # each uncollected cycle keeps two 256 KiB tensors: 100 MiB over 200 rounds
    assert grown < 8 * MiB, f"resident memory grew by {grown / MiB:.1f} MiB over 200 cyclic graphs"


# ---------------------------------------------------------------- GPU

def gpu_stats():
    gc.collect()
    _C._gpu_synchronize()
    return _C._gpu_memory_stats()


# The 10,000 steps. Measured on lavapipe (software Vulkan, 2 cores): ~4 ms per step
# whatever the net's size (the cost is per dispatched kernel), so ~40 s; RGRAD_GPU_STEPS=1000
# makes a quick local run (on a real adapter the full length takes seconds).
GPU_STEPS = int(os.environ.get("RGRAD_GPU_STEPS", "10000"))


@requires_gpu
@requires_proc
def test_gpu_training_long_loop_memory_flat():
    model = mlp(1, sizes=(16, 32, 4))
    model._apply(gpu)
    opt = rgrad.optim.Adam(model.parameters(), lr=1e-3)
    data = [(gpu(x), gpu(y)) for x, y in batches(4, seed=1, width=16, classes=4, batch=8)]
    seen = {}

    def on_step(step, loss):
        if step in (100, 1000, GPU_STEPS - 1):
            loss.item()
            seen[step] = (gpu_stats(), rss())
    start = time.monotonic()
    loss = run_steps(model, opt, data, 0, GPU_STEPS, on_step)
    took = time.monotonic() - start
    assert np.isfinite(loss.item())
    (live0, _, bufs0), rss0 = seen[100]
    (live1, _, bufs1), rss1 = seen[GPU_STEPS - 1]
    assert live1 == live0, f"GPU live bytes at step 100 and {GPU_STEPS - 1}: {live0} -> {live1} ({took:.0f} s)"
    assert bufs1 == bufs0, f"wgpu buffers at step 100 and {GPU_STEPS - 1}: {bufs0} -> {bufs1}"
    assert live0 > 0
    # host memory: command encoders, bind groups and staging buffers must not pile up either
    assert rss1 - rss0 < 16 * MiB, f"resident memory grew by {(rss1 - rss0) / MiB:.1f} MiB on the GPU loop"


# ---------------------------------------------------------------- from_numpy lifetimes

def test_from_numpy_keeps_array_alive():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    ref = weakref.ref(arr)
    t = rgrad.from_numpy(arr)
    view = t[1:, ::2]
    row = t.select(0, 2)
    tt = t.t()
    del arr
    gc.collect()
    assert ref() is not None, "from_numpy's tensor does not keep its array alive"
    np.testing.assert_array_equal(t.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4))
    del t
    gc.collect()
    # the views alone still hold the storage, and through it the array
    assert ref() is not None, "a view of a from_numpy tensor does not keep the array alive"
    np.testing.assert_array_equal(view.numpy(), [[4, 6], [8, 10]])
    np.testing.assert_array_equal(row.numpy(), [8, 9, 10, 11])
    tt.add_(1)  # writes go to the shared buffer and show in the other views
    np.testing.assert_array_equal(view.numpy(), [[5, 7], [9, 11]])
    del view, row, tt
    gc.collect()
    assert ref() is None, "the array outlived every tensor sharing its memory"


def test_from_numpy_of_numpy_view_keeps_base_alive():
    base = np.arange(20, dtype=np.int64)
    ref = weakref.ref(base)
    t = rgrad.from_numpy(base[5:15:2])
    del base
    gc.collect()
    assert ref() is not None
    np.testing.assert_array_equal(t.numpy(), [5, 7, 9, 11, 13])
    del t
    gc.collect()
    assert ref() is None


@requires_proc
def test_from_numpy_cycles_rss_flat():
    def cycle(i):
        arr = np.full((128, 128), i, dtype=np.float32)  # 64 KiB
        t = rgrad.from_numpy(arr)
        v = t[::2, 1:].t()
        del arr
        s = float((v * 2).sum())
        del t, v
        return s
    for i in range(200):
        cycle(i)
    before = rss()
    total = sum(cycle(i) for i in range(3000))
    grown = rss() - before
    assert total > 0
    # a leaked array per cycle would be ~190 MiB
    assert grown < 4 * MiB, f"resident memory grew by {grown / MiB:.1f} MiB over 3000 from_numpy cycles"
