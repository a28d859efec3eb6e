"""GPU-device figures of issue 6, side by side with rgrad's CPU device in one run.

    python bench/bench_gpu.py            # print the table
    python bench/bench_gpu.py --readme   # also rewrite the GPU table in README.md

On Mesa's lavapipe (a software Vulkan device running on the same CPU cores) the host code is the
one a real GPU runs, so the per-op overhead is meaningful there; throughput figures are not.
"""

import os
import sys
import time

import numpy as np

import rgrad
from rgrad import _C

GPU = "gpu"


def sync():
    _C._gpu_synchronize()


def per_op_overhead(n_ops=2000):
    """Cost of one small op on the GPU device: dispatches recorded back to back, then one wait
    (as in a training step, which reads a value only at its end). Returns (wall time per op,
    the calling thread's CPU time per op): the first includes lavapipe running the 2000
    dispatches on the same two cores, the second is the host code alone (recording,
    submission, Python), what a real GPU would also pay."""
    x = rgrad.ones(16)._to_device(GPU)
    y = x
    for _ in range(50):
        y = y + 1.0
    sync()
    best_wall = best_cpu = float("inf")
    for _ in range(5):
        y = x
        t0, c0 = time.perf_counter(), time.thread_time()
        for _ in range(n_ops):
            y = y + 1.0
        sync()
        best_wall = min(best_wall, (time.perf_counter() - t0) / n_ops)
        best_cpu = min(best_cpu, (time.thread_time() - c0) / n_ops)
    assert float(y[0]) == 1.0 + n_ops
    return best_wall, best_cpu


def matmul_gflops(n, naive, reps=3):
    rng = np.random.default_rng(0)
    a = rgrad.from_numpy(rng.standard_normal((n, n), dtype=np.float32))._to_device(GPU)
    b = rgrad.from_numpy(rng.standard_normal((n, n), dtype=np.float32))._to_device(GPU)
    _C._gpu_matmul(a, b, naive)
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        _C._gpu_matmul(a, b, naive)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def timed(fn, reps=5):
    fn()
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best


def optimizer_rows(rng):
    """Adam over one 1M-element float32 parameter: the fused kernel (one dispatch) against
    torch's single-tensor step composed of elementwise kernels (about a dozen dispatches and
    temporaries), on the GPU; and the CPU's fused step."""
    from rgrad.optim.adam import _composite_adam
    rows = []
    n = 1 << 20
    hp = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=False,
              decoupled_weight_decay=True)
    times = {}
    for dev in ("cpu", "gpu"):
        p, g = (rgrad.from_numpy(rng.standard_normal(n, dtype=np.float32))._to_device(dev) for _ in range(2))
        m, v = rgrad.zeros_like(p), rgrad.zeros_like(p)
        step = rgrad.tensor(0.0)
        with rgrad.no_grad():
            times[dev, "fused"] = timed(lambda: _C._fused_adam([p], [g], [m], [v], None, [step], **hp))
            if dev == "gpu":
                times[dev, "composite"] = timed(lambda: _composite_adam([p], [g], [m], [v], None, [step], **hp))
    rows.append(f"| AdamW step, 1M parameters, fused kernel | {times['gpu', 'fused'] * 1e3:.2f} ms | "
                f"{times['cpu', 'fused'] * 1e3:.2f} ms | "
                f"{times['gpu', 'composite'] / times['gpu', 'fused']:.1f}x faster than the composed step |")
    rows.append(f"| AdamW step, 1M parameters, composed of elementwise kernels | "
                f"{times['gpu', 'composite'] * 1e3:.2f} ms | - | torch's single-tensor op order |")
    return rows


def main():
    if not _C._gpu_available():
        print("no GPU adapter: nothing to measure")
        return
    name, backend, kind = _C._gpu_info()
    rows = ["| benchmark | GPU device | rgrad CPU | note |", "|---|---|---|---|"]
    wall, host = per_op_overhead()
    rows.append(f"| host overhead per small op (`y = y + 1`, 16 elements): the calling thread's CPU time | "
                f"{host * 1e6:.1f} µs | - | target < 20 µs |")
    rows.append(f"| the same, wall time including lavapipe executing the dispatches on the same cores | "
                f"{wall * 1e6:.1f} µs | - | |")
    n = 512
    tiled, naive = matmul_gflops(n, False), matmul_gflops(n, True)
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((n, n), dtype=np.float32)
    ac = rgrad.from_numpy(a_np)
    t_cpu = timed(lambda: ac @ ac)
    rows.append(f"| matmul {n}² tiled kernel | {tiled:.2f} GFLOP/s | {2 * n ** 3 / t_cpu / 1e9:.1f} GFLOP/s | "
                f"{tiled / naive:.1f}x the naive kernel (target >= 10x) |")
    rows.append(f"| matmul {n}² naive kernel (one invocation per output) | {naive:.2f} GFLOP/s | - | baseline |")
    big = rgrad.from_numpy(rng.standard_normal((1024, 1024), dtype=np.float32))
    bg = big._to_device(GPU)
    for label, fn in [("add 1024²", lambda t: t + t), ("sum 1024²", lambda t: t.sum()),
                      ("sum dim 1, 1024²", lambda t: t.sum(1)), ("softmax rows 1024²", lambda t: t.softmax(1)),
                      ("sort rows 1024² (bitonic, on the device)", lambda t: t.sort(1)),
                      ("topk 5 of rows 1024²", lambda t: t.topk(5, 1)),
                      ("rand 1024² (Philox on the device)", lambda t: rgrad.rand(1024, 1024, device=t.device)),
                      ("nonzero of a 1024² mask (compacted on the device)", lambda t: (t > 0).nonzero())]:
        tg, tc = timed(lambda: fn(bg)), timed(lambda: fn(big))
        rows.append(f"| {label} | {tg * 1e3:.2f} ms | {tc * 1e3:.2f} ms | |")
    th = timed(lambda: rgrad.rand(1024, 1024)._to_device(GPU))
    rows.append(f"| rand 1024² drawn on the host and uploaded (the earlier path) | {th * 1e3:.2f} ms | - | |")
    rows += optimizer_rows(rng)
    for r in rows[2:]:
        print(r, flush=True)
    table = "\n".join(rows) + f"\n\nMeasured on {name} ({backend}, {kind}), {os.cpu_count()} CPU cores."
    print("\n" + table)
    if "--readme" in sys.argv:
        readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
        text = open(readme).read()
        start, end = "<!-- bench-gpu:start -->", "<!-- bench-gpu:end -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        open(readme, "w").write(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
