"""Matrix-product throughput of rgrad and torch side by side in one run (GFLOP/s, higher is
better). Targets from the CPU op library issue: float32 square matmul at least torch's speed
(aim 1.2x), transposed operands within 1.1x of the contiguous case, batched 64x128x128 at least
torch's speed.

    python bench/bench_matmul.py
"""

import os
import timeit

import numpy as np

import rgrad

try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
except ImportError:
    torch = None


def gflops(fn, flops, repeat=7):
    fn()
    number = max(1, int(0.2 / max(1e-6, min(timeit.repeat(fn, number=1, repeat=2)))))
    return flops / (min(timeit.repeat(fn, number=number, repeat=repeat)) / number) / 1e9


def case(name, a, b, transpose_a=False, transpose_b=False):
    """a @ b with the given operands stored transposed (a view, no copy) when asked."""
    def prep(mod, x, tr):
        t = mod.from_numpy(np.ascontiguousarray(np.swapaxes(x, -1, -2) if tr else x))
        return t.transpose(-1, -2) if tr else t

    flops = 2.0 * np.prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1]
    ra, rb = prep(rgrad, a, transpose_a), prep(rgrad, b, transpose_b)
    out = {"rgrad": gflops(lambda: ra @ rb, flops)}
    if torch is not None:
        ta, tb = prep(torch, a, transpose_a), prep(torch, b, transpose_b)
        out["torch"] = gflops(lambda: ta @ tb, flops)
    ratio = f"{out['rgrad'] / out['torch']:.2f}x" if "torch" in out else "n/a"
    print(f"| {name} | {out['rgrad']:.1f} | {out.get('torch', float('nan')):.1f} | {ratio} |")
    return out


def main():
    rng = np.random.default_rng(0)
    print("| float32 product | rgrad GFLOP/s | torch GFLOP/s | rgrad / torch |")
    print("| --- | --- | --- | --- |")
    for n in (1024, 2048):
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        base = case(f"{n}x{n} @ {n}x{n}", a, b)
        t = case(f"{n}: a.T @ b (a stored transposed)", a, b, transpose_a=True)
        case(f"{n}: a @ b.T (b stored transposed)", a, b, transpose_b=True)
        print(f"|   transposed / contiguous (rgrad) | {t['rgrad'] / base['rgrad']:.2f} | | |")
    a = rng.random((64, 128, 128), dtype=np.float32)
    b = rng.random((64, 128, 128), dtype=np.float32)
    case("batched 64 x (128x128 @ 128x128)", a, b)
    a = rng.random((256, 32, 32), dtype=np.float32)
    b = rng.random((256, 32, 32), dtype=np.float32)
    case("batched 256 x (32x32 @ 32x32)", a, b)
    a = rng.random((16, 16), dtype=np.float32)
    case("tiny 16x16 @ 16x16", a, a)


if __name__ == "__main__":
    main()
