"""rgrad's main job: train a classifier on the hand-written digits that ship with the project
(examples/data/digits.csv.gz, 1797 8x8 images), written exactly as PyTorch tutorial code with
``import rgrad as torch``.

    python examples/demo.py                  # small CNN, 20 epochs, CPU
    python examples/demo.py --model mlp      # a 64-256-128-10 MLP instead
    python examples/demo.py --device gpu     # rgrad's wgpu device ('cuda' is accepted too)

It prints a progress bar with the running loss, the test accuracy after every epoch, and writes
the loss curve to ``--plot`` (a PNG; needs matplotlib, the ``demo`` extra).
"""

import argparse
import gzip
import os
import sys
import time

import numpy as np

import rgrad as torch
import rgrad.nn as nn
import rgrad.nn.functional as F
from rgrad.utils.data import DataLoader, TensorDataset, random_split

HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    """Features scaled to [0, 1] as float32 images (N, 1, 8, 8) and int64 labels."""
    with gzip.open(os.path.join(HERE, "data", "digits.csv.gz"), "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x = torch.from_numpy(raw[:, :64] / 16.0).reshape(-1, 1, 8, 8)
    y = torch.from_numpy(raw[:, 64].astype(np.int64))
    return x, y


class MLP(nn.Module):
    def __init__(self, hidden=256, classes=10, p=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(p),
            nn.Linear(hidden, hidden // 2), nn.ReLU(),
            nn.Linear(hidden // 2, classes),
        )

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 4 * 4, classes)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc(self.drop(torch.flatten(x, 1)))


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            pred = model(xb.to(device)).argmax(1)
            correct += (pred == yb.to(device)).sum().item()
            total += yb.numel()
    model.train()
    return correct / total


def progress(epoch, epochs, i, n, loss, width=30):
    if i < n and not sys.stdout.isatty():
        return  # a log file gets one line per epoch, not one per batch
    done = int(width * i / n)
    bar = "#" * done + "-" * (width - done)
    sys.stdout.write(f"\repoch {epoch:>2}/{epochs} [{bar}] {i:>3}/{n} loss {loss:.4f}")
    sys.stdout.flush()


def save_plot(losses, steps_per_epoch, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed (pip install 'rgrad[demo]'): no plot written to {path}")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(1, len(losses) + 1) / steps_per_epoch
    ax.plot(steps, losses, lw=0.8, alpha=0.5, label="batch loss")
    k = max(1, steps_per_epoch // 2)
    if len(losses) >= k:
        smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
        ax.plot(steps[k - 1:], smooth, lw=2, label=f"moving average ({k} batches)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.set_title("rgrad: digits classifier")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curve written to {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--device", default="cpu", help="cpu, gpu (also 'cuda'), or auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="demo_loss.png", help="where to write the loss curve ('' for none)")
    args = p.parse_args(argv)

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    t0 = time.time()

    x, y = load_digits()
    data = TensorDataset(x, y)
    n_test = len(data) // 5
    train_set, test_set = random_split(data, [len(data) - n_test, n_test],
                                       generator=torch.Generator().manual_seed(args.seed))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True)
    test_loader = DataLoader(test_set, batch_size=256)
    print(f"digits: {len(train_set)} train / {len(test_set)} test images of 8x8, device {device}")

    model = (CNN() if args.model == "cnn" else MLP()).to(device)
    print(model)
    print(f"{sum(p.numel() for p in model.parameters())} parameters")
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    losses = []
    n = len(train_loader)
    for epoch in range(1, args.epochs + 1):
        for i, (xb, yb) in enumerate(train_loader, 1):
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            progress(epoch, args.epochs, i, n, np.mean(losses[-n:]))
        scheduler.step()
        acc = evaluate(model, test_loader, device)
        print(f"  test accuracy {acc * 100:.1f}%  lr {scheduler.get_last_lr()[0]:.5f}")

    print(f"final test accuracy: {acc * 100:.1f}% ({time.time() - t0:.1f}s)")
    if args.plot:
        save_plot(np.array(losses), n, args.plot)
    return acc


if __name__ == "__main__":
    main()
