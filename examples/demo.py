"""rgrad's main job until the nn demo lands: a short tensor workout on data that ships with
the project (examples/data/iris.csv), fitting a least-squares linear classifier with tensor
ops only, and reporting its training accuracy."""

import os
import time

import numpy as np

import rgrad as torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load_iris():
    raw = np.genfromtxt(os.path.join(HERE, "data", "iris.csv"), delimiter=",", skip_header=1, dtype=str)
    x = torch.tensor(raw[:, :4].astype(np.float32))
    names = sorted(set(raw[:, 4].tolist()))
    y = torch.tensor([names.index(n) for n in raw[:, 4]])
    return x, y, names


def main():
    t0 = time.time()
    x, y, names = load_iris()
    print(f"iris: {x.shape[0]} samples, {x.shape[1]} features, classes {names}")
    # Standardise with tensor ops on views.
    mean = torch.tensor(x.numpy().mean(0))
    std = torch.tensor(x.numpy().std(0))
    xs = (x - mean) / std
    ones = torch.ones(x.shape[0], 1)
    design = torch.tensor(np.concatenate([xs.numpy(), ones.numpy()], 1))
    targets = torch.zeros(x.shape[0], len(names))
    targets[torch.arange(x.shape[0]), y] = 1.0  # advanced-index assignment
    # Normal equations solved with numpy on rgrad's zero-copy views (linalg lands with issue 3).
    w = np.linalg.lstsq(design.numpy(), targets.numpy(), rcond=None)[0]
    scores = torch.from_numpy(design.numpy() @ w)
    pred = torch.tensor(scores.numpy().argmax(1))
    acc = (pred == y).numpy().mean()
    print("first rows of standardised features:")
    print(xs[:3])
    print(f"least-squares classifier training accuracy: {acc * 100:.1f}% ({time.time() - t0:.2f}s)")


if __name__ == "__main__":
    main()
