"""Side-by-side timings of rgrad against numpy and torch in one run (issue targets as ratios).

    python bench/bench_core.py            # print the table
    python bench/bench_core.py --readme   # also rewrite the table at the end of README.md
"""

import os
import sys
import timeit

import numpy as np

import rgrad

try:
    import torch
    torch.set_num_threads(2)  # the reference setting
except ImportError:
    torch = None


def best(fn, number, repeat=7):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def row(name, target, times, ratio_of):
    """ratio_of: the reference (or tuple of references) rgrad's time is divided by."""
    rg = times.get("rgrad")
    refs = (ratio_of,) if isinstance(ratio_of, str) else ratio_of
    ratio = ", ".join(f"{rg / times[r]:.2f}x {r}" for r in refs if rg and times.get(r)) or "n/a"
    cells = " | ".join(f"{times[k] * 1e6:.1f} µs" if k in times else "-" for k in ("rgrad", "numpy", "torch"))
    return f"| {name} | {cells} | {ratio} | {target} |"


def main():
    rows = []
    # 1. Python-to-Rust overhead: a + b on 3-element tensors.
    a, b = rgrad.tensor([1.0, 2.0, 3.0]), rgrad.tensor([4.0, 5.0, 6.0])
    na, nb = a.numpy().copy(), b.numpy().copy()
    t = {"rgrad": best(lambda: a + b, 20000), "numpy": best(lambda: na + nb, 20000)}
    if torch is not None:
        ta, tb = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, 6.0])
        t["torch"] = best(lambda: ta + tb, 20000)
    rows.append(row("a + b, 3 elements", "<= 0.5x torch", t, "torch"))

    # 2. from_numpy / numpy() are O(1).
    for n in (10, 10_000_000):
        arr = np.ones(n, np.float32)
        tt = rgrad.from_numpy(arr)
        t = {"rgrad": best(lambda: rgrad.from_numpy(arr), 2000)}
        if torch is not None:
            t["torch"] = best(lambda: torch.from_numpy(arr), 2000)
        rows.append(row(f"from_numpy, {n:,} floats", "O(1)", t, "torch"))
        t = {"rgrad": best(lambda: tt.numpy(), 2000)}
        if torch is not None:
            t2 = torch.from_numpy(arr)
            t["torch"] = best(lambda: t2.numpy(), 2000)
        rows.append(row(f"numpy(), {n:,} floats", "O(1)", t, "torch"))

    # 3. Strided-to-contiguous copy of a transposed 4096x4096 float32.
    x = np.random.default_rng(0).random((4096, 4096), dtype=np.float32)
    xt = rgrad.from_numpy(x).t()
    t = {"rgrad": best(lambda: xt.contiguous(), 3, 5), "numpy": best(lambda: np.ascontiguousarray(x.T), 3, 5)}
    if torch is not None:
        tx = torch.from_numpy(x).t()
        t["torch"] = best(lambda: tx.contiguous(), 3, 5)
    rows.append(row("transposed 4096² float32 -> contiguous", "<= 1.5x numpy", t, "numpy"))

    # 4. Elementwise add on 4M float32.
    p = np.random.default_rng(1).random(4_000_000, dtype=np.float32)
    q = np.random.default_rng(2).random(4_000_000, dtype=np.float32)
    rp, rq = rgrad.from_numpy(p), rgrad.from_numpy(q)
    t = {"rgrad": best(lambda: rp + rq, 20, 5), "numpy": best(lambda: p + q, 20, 5)}
    if torch is not None:
        tp, tq = torch.from_numpy(p), torch.from_numpy(q)
        t["torch"] = best(lambda: tp + tq, 20, 5)
    rows.append(row("add, 4M float32", "(issue 3) >= numpy and torch", t, ("numpy", "torch")))
    row_np = np.random.default_rng(3).random(1000, dtype=np.float32)
    p2, rr = p.reshape(4000, 1000), rgrad.from_numpy(row_np)
    rp2 = rgrad.from_numpy(p2)
    if torch is not None:
        tp2, trow = torch.from_numpy(p2), torch.from_numpy(row_np)
    cases = [
        ("mul, 4M float32", lambda: rp * rq, lambda: p * q, (lambda: tp * tq) if torch else None),
        ("exp, 4M float32", lambda: rp.exp(), lambda: np.exp(p), (lambda: tp.exp()) if torch else None),
        ("sigmoid, 4M float32", lambda: rp.sigmoid(), lambda: 1 / (1 + np.exp(-p)),
         (lambda: tp.sigmoid()) if torch else None),
        ("broadcast add of a row, 4000x1000", lambda: rp2 + rr, lambda: p2 + row_np,
         (lambda: tp2 + trow) if torch else None),
    ]
    for name, fr, fn, ft in cases:
        t = {"rgrad": best(fr, 10, 5), "numpy": best(fn, 10, 5)}
        if ft is not None:
            t["torch"] = best(ft, 10, 5)
        rows.append(row(name, "(issue 3) >= numpy and torch", t, ("numpy", "torch")))

    # 5. Reductions and softmax (issue 3: at least torch's speed).
    r4m = rgrad.from_numpy(p)
    m1k = np.random.default_rng(4).random((1024, 1024), dtype=np.float32)
    sm = np.random.default_rng(5).standard_normal((4096, 1024), dtype=np.float32)
    rm1k, rsm = rgrad.from_numpy(m1k), rgrad.from_numpy(sm)

    def np_softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    cases = [
        ("sum, 4M float32", lambda: r4m.sum(), lambda: p.sum(), (lambda: tp.sum()) if torch else None, 20),
        ("sum over dim 1, 1024x1024 float32", lambda: rm1k.sum(1), lambda: m1k.sum(1),
         (lambda: tm1k.sum(1)) if torch else None, 50),
        ("softmax over rows, 4096x1024 float32", lambda: rgrad.softmax(rsm, 1), lambda: np_softmax(sm),
         (lambda: torch.softmax(tsm, 1)) if torch else None, 5),
    ]
    if torch is not None:
        tm1k, tsm = torch.from_numpy(m1k), torch.from_numpy(sm)
    for name, fr, fn, ft, number in cases:
        t = {"rgrad": best(fr, number, 5), "numpy": best(fn, number, 5)}
        if ft is not None:
            t["torch"] = best(ft, number, 5)
        rows.append(row(name, "(issue 3) >= torch", t, "torch" if torch else "numpy"))

    header = ["| benchmark | rgrad | numpy | torch | ratio | target |", "|---|---|---|---|---|---|"]
    table = "\n".join(header + rows)
    machine = f"{os.cpu_count()} cores, numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else "")
    print(table)
    print(f"\n({machine})")
    if "--readme" in sys.argv:
        path = os.path.join(os.path.dirname(__file__), "..", "README.md")
        text = open(path).read()
        start, end = "<!-- bench:start -->", "<!-- bench:end -->"
        block = f"{start}\n{table}\n\nMeasured on {machine}.\n{end}"
        if start in text:
            text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        open(path, "w").write(text)


if __name__ == "__main__":
    main()
