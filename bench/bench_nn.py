"""Training-step timings of rgrad.nn/optim against torch in one run (issue 5 targets as ratios).

    python bench/bench_nn.py            # print the table
    python bench/bench_nn.py --readme   # also rewrite the nn table in README.md

The same model code runs on both libraries (``lib`` is rgrad or torch), with the same weights.
"""

import os
import sys
import timeit

import numpy as np

import rgrad

try:
    import torch
    torch.set_num_threads(2)  # the reference setting: these 2 cores
except ImportError:
    torch = None


def best(fn, number, repeat=7):
    fn()  # warm-up: allocator, lazily built state (optimizer moments)
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def tiny_net(lib):
    """The seeds' network: 5-10-15-10-5, ReLU/Sigmoid, SGD with momentum, one sample."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 10), nn.ReLU(), nn.Linear(10, 15), nn.Sigmoid(),
                          nn.Linear(15, 10), nn.ReLU(), nn.Linear(10, 5))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()
    x, y = lib.randn(1, 5), lib.randn(1, 5)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def mlp(lib):
    """MLP 784-512-512-10, batch 128, Adam, cross-entropy."""
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((128, 784), dtype=np.float32))
    y = lib.from_numpy(rng.integers(0, 10, 128))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


def conv(lib):
    """Conv2d forward+backward: batch 32 of 3x32x32, 3x3 kernels, 64 channels, padding 1."""
    lib.manual_seed(0)
    layer = lib.nn.Conv2d(3, 64, 3, padding=1)
    x = lib.from_numpy(np.random.default_rng(0).standard_normal((32, 3, 32, 32), dtype=np.float32))
    x.requires_grad_(True)

    def step():
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()
    return step


CASES = [
    ("tiny net 5-10-15-10-5, SGD momentum, 1 sample: train step", tiny_net, 2000, "<= 0.5x torch"),
    ("MLP 784-512-512-10, batch 128, Adam, cross-entropy: train step", mlp, 20, "<= 1x torch"),
    ("Conv2d 3->64, 3x3, batch 32 of 32x32: forward+backward", conv, 10, "<= 1.5x torch"),
]


def main():
    rows = ["| benchmark | rgrad | torch | ratio | target |", "|---|---|---|---|---|"]
    for name, make, number, target in CASES:
        t_rg = best(make(rgrad), number)
        t_th = best(make(torch), number) if torch is not None else None
        ratio = f"{t_rg / t_th:.2f}x torch" if t_th else "n/a"
        th = f"{t_th * 1e6:.1f} µs" if t_th else "-"
        rows.append(f"| {name} | {t_rg * 1e6:.1f} µs | {th} | {ratio} | {target} |")
        print(rows[-1], flush=True)
    versions = f"Measured on {os.cpu_count()} cores" + (f", torch {torch.__version__}." if torch else ".")
    table = "\n".join(rows) + "\n\n" + versions
    print("\n" + table)
    if "--readme" in sys.argv:
        readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
        text = open(readme).read()
        start, end = "<!-- bench-nn:start -->", "<!-- bench-nn:end -->"
        head, rest = text.split(start)
        _, tail = rest.split(end)
        open(readme, "w").write(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    main()
