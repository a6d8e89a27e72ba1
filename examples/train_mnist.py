#!/usr/bin/env python3
"""train_mnist.py — trains a tanh MLP on Fashion-MNIST with the clmlp Python package and
plots the loss curve (matplotlib when it is installed, else the history is printed).

    python examples/train_mnist.py [--data DIR] [--epochs N] [--layers 784,256,128,10]
        [--batch N] [--lr X] [--optimizer sgd|adam] [--validation F] [--patience N]
        [--backend auto|opencl|host] [--dtype f32|f64] [--max-train N]
        [--plot FILE.png] [--save FILE.clmlp]

DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
t10k-labels-idx1-ubyte, gzip-compressed (.gz) or not (default: $CLMLP_DATA, else
Debian's /usr/share/datasets/fashion-mnist); the files are read with gzip and numpy.
Ctrl-C stops training after the current step and still evaluates and plots.
Exit status: 0 on success, 1 when a clmlp call fails, 2 for bad arguments or data.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

import clmlp

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (the MNIST format), gzip-compressed or raw."""
    with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {stem}[.gz]")


def load_split(directory: Path, split: str) -> Tuple[np.ndarray, np.ndarray]:
    images = read_idx(find(directory, f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(directory, f"{split}-labels-idx1-ubyte"))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {images.shape[0]} {split} images but {labels.shape[0]} labels")
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)


def print_history(history: List[Dict[str, Any]]) -> None:
    has_val = any("val_loss" in r for r in history)
    print("epoch  train loss  train acc" + ("  val loss  val acc" if has_val else "") + "  seconds")
    for r in history:
        line = f"{r['epoch']:5d}  {r['loss']:10.4f}  {100 * r['accuracy']:8.2f}%"
        if has_val:
            line += f"  {r.get('val_loss', float('nan')):8.4f}  {100 * r.get('val_accuracy', float('nan')):6.2f}%"
        print(line + f"  {r['seconds']:7.2f}")


def plot(history: List[Dict[str, Any]], test_loss: float, path: str) -> bool:
    """The loss curves into path; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    epochs = [r["epoch"] for r in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [r["loss"] for r in history], "o-", label="training loss")
    if any("val_loss" in r for r in history):
        ax.plot(
            [r["epoch"] for r in history if "val_loss" in r],
            [r["val_loss"] for r in history if "val_loss" in r],
            "s-",
            label="validation loss",
        )
    ax.axhline(test_loss, color="gray", linestyle="--", label=f"test loss (final) {test_loss:.4f}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per sample")
    ax.set_title("clmlp on Fashion-MNIST")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default=os.environ.get("CLMLP_DATA") or DEFAULT_DATA, help="data directory")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--layers", default="784,256,128,10", help="n_0,…,n_L")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--validation", type=float, default=0.1, help="held-out fraction of the training rows (0: none)")
    p.add_argument("--patience", type=int, default=None, help="early stopping on the validation loss")
    p.add_argument("--backend", choices=["auto", "opencl", "host"], default="auto")
    p.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    p.add_argument("--loss", choices=["ce", "mse"], default="ce")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--plot", default="loss.png", help="the loss curves (PNG), when matplotlib is installed")
    p.add_argument("--save", default=None, help="write the model file here")
    args = p.parse_args(argv)

    try:
        sizes = [int(v) for v in args.layers.split(",")]
        directory = Path(args.data)
        x_train, y_train = load_split(directory, "train")
        x_test, y_test = load_split(directory, "t10k")
    except (ValueError, OSError) as e:
        print(f"train_mnist.py: {e}", file=sys.stderr)
        return 2
    if args.max_train > 0:
        x_train, y_train = x_train[: args.max_train], y_train[: args.max_train]
    # pixels/255, standardized with the training images' mean and std (as `clmlp train`)
    x_train = x_train.astype(np.float64) / 255.0
    x_test = x_test.astype(np.float64) / 255.0
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std

    try:
        net = clmlp.Net(sizes, loss=args.loss, dtype=args.dtype, backend=args.backend, seed=args.seed)
        print(f"clmlp {clmlp.version()}: net {'-'.join(map(str, net.sizes))}, {args.loss}, {args.dtype}, "
              f"on {net.backend_name}" + (f" ({net.fallback_reason})" if net.fallback_reason else ""))
        print(f"data: {directory}: {len(x_train)} training and {len(x_test)} test images, "
              f"mean {mean:.4f} std {std:.4f}")
        history = net.fit(
            x_train,
            y_train,
            epochs=args.epochs,
            batch=args.batch,
            lr=args.lr,
            momentum=args.momentum,
            optimizer=args.optimizer,
            validation=args.validation if args.validation > 0 else None,
            patience=args.patience,
            seed=args.seed,
        )
        if history.interrupted:
            print("interrupted: evaluating what was trained")
        if history.best_epoch is not None:
            print(f"kept: the model of epoch {history.best_epoch}")
        test = net.evaluate(x_test, y_test)
        if args.save:
            net.save(args.save)
    except clmlp.Error as e:
        print(f"train_mnist.py: {e.status}: {e.message}", file=sys.stderr)
        return 1
    print_history(history)
    print(f"test: accuracy {100 * test['accuracy']:.2f}%  loss {test['loss']:.4f}  n {test['n']}")
    if args.save:
        print(f"saved: {args.save}")
    if history:
        if plot(history, test["loss"], args.plot):
            print(f"plot: {args.plot}")
        else:
            print("plot: matplotlib is not installed (pip install matplotlib); the history is above")
    return 0


if __name__ == "__main__":
    sys.exit(main())
