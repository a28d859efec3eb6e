"""Autograd overhead of rgrad against torch in one run (issue 4 targets as ratios).

    python bench/bench_autograd.py
"""

import gc
import os
import resource
import timeit

import rgrad

try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
except ImportError:
    torch = None


def best(fn, number, repeat=7):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def chain(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step():
        ((x * 2 + 1).sin() * x).sum().backward()
    return step


def mlp(lib, n=256):
    w1 = lib.randn(n, n, requires_grad=True)
    w2 = lib.randn(n, 10, requires_grad=True)
    x = lib.randn(64, n)

    def step():
        loss = ((x @ w1).relu() @ w2).softmax(1).sum()
        loss.backward()
        w1.grad = None
        w2.grad = None
    return step


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    rows = ["| benchmark | rgrad | torch | ratio | target |", "|---|---|---|---|---|"]
    for name, make, number, target in [
        ("((x*2+1).sin()*x).sum().backward(), 3 elements", chain, 2000, "<= 0.5x torch"),
        ("MLP 64x256 -> 256 -> 10 forward+backward", mlp, 50, "-"),
    ]:
        r = best(make(rgrad), number)
        t = best(make(torch), number) if torch is not None else None
        ratio = f"{r / t:.2f}x torch" if t else "n/a"
        tcell = f"{t * 1e6:.1f} µs" if t else "-"
        rows.append(f"| {name} | {r * 1e6:.1f} µs | {tcell} | {ratio} | {target} |")
    # Memory stays flat over a training loop: saved tensors are freed after each backward.
    step = mlp(rgrad)
    for _ in range(50):
        step()
    gc.collect()
    before = rss_mb()
    for _ in range(1000):
        step()
    gc.collect()
    rows.append(f"| peak RSS growth over 1000 more MLP steps | {rss_mb() - before:.1f} MB | - | - | ~0 (flat) |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
