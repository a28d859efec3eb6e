"""Run under valgrind by .ci/valgrind.sh: the paths where rgrad's Rust core shares memory with
Python objects (from_numpy buffers, views of them, autograd graphs freed mid-loop), kept small
because valgrind slows everything ~50x."""

import gc

import numpy as np

import rgrad
import rgrad.nn as nn


def from_numpy_lifetimes():
    for i in range(20):
        arr = np.arange(24, dtype=np.float32).reshape(4, 6) + i
        t = rgrad.from_numpy(arr)
        v = t[1:, ::2].transpose(0, 1)
        del arr
        gc.collect()
        # the storage must still be numpy's buffer, alive through the tensor and its view
        assert float(v.sum()) == float(np.arange(24, dtype=np.float32).reshape(4, 6)[1:, ::2].sum() + 9 * i)
        t.add_(1)
        assert float(t[0, 0]) == i + 1
        del t
        gc.collect()
        assert v.contiguous().numpy().shape == (3, 3)


def training(steps=30):
    rgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = rgrad.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    x = rgrad.from_numpy(rng.standard_normal((4, 8), dtype=np.float32))
    y = rgrad.from_numpy(rng.integers(0, 3, 4))
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    assert np.isfinite(loss.item())


def failing_ops():
    # error paths free their partial results too
    t = rgrad.ones(3, 4)
    for bad in (lambda: t.add_(rgrad.ones(5)), lambda: t[7], lambda: rgrad.zeros(-1),
                lambda: t.view(5), lambda: rgrad.cat([t, rgrad.ones(2, 5)])):
        try:
            bad()
        except (RuntimeError, IndexError, ValueError, TypeError):
            pass
        else:
            raise AssertionError("expected an error")


if __name__ == "__main__":
    from_numpy_lifetimes()
    training()
    failing_ops()
    gc.collect()
    print("valgrind workload ok")
