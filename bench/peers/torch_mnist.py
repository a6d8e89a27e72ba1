#!/usr/bin/env python3
"""The reference recipe in PyTorch: 784-256-128-10 tanh net on MNIST-format data,
minibatch SGD, test accuracy per epoch. Used to compare clmlp's accuracy and speed with
what a user would pick instead.

  python3 torch_mnist.py [--data DIR] [--loss mse|ce] [--mse-reduction batch|mean]
                         [--epochs 5] [--lr 0.1] [--batch 128] [--dtype f32|f64] [--threads 2]

mse-reduction: 'batch' sums over outputs and averages over the batch (clmlp's
definition); 'mean' is nn.MSELoss()'s default, which also divides by the 10 outputs.
Run with OMP_WAIT_POLICY=passive and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (see
bench/README.md)."""
import argparse, gzip, json, os, struct, sys, time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def find(d, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    sys.exit("no %s in %s" % (stem, d))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--loss", default="ce", choices=["mse", "ce"])
    ap.add_argument("--mse-reduction", default="batch", choices=["batch", "mean"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--dtype", default="f32", choices=["f32", "f64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", default="784,256,128,10")
    ap.add_argument("--crop", type=int, default=0)
    ap.add_argument("--samples", type=int, default=0, help="train on the first N images only (0: all)")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--mean", type=float, default=0.2860)
    ap.add_argument("--std", type=float, default=0.3530)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dt = torch.float32 if a.dtype == "f32" else torch.float64

    sizes = [int(v) for v in a.sizes.split(",")]

    def load(split):
        images = read_idx(find(a.data, split + "-images-idx3-ubyte"))
        if a.crop:
            off = (images.shape[1] - a.crop) // 2
            images = images[:, off:off + a.crop, off:off + a.crop]
        x = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
        y = read_idx(find(a.data, split + "-labels-idx1-ubyte")).astype(np.int64)
        if a.samples and split == "train":
            x, y = x[:a.samples], y[:a.samples]
        return torch.tensor((x - a.mean) / a.std, dtype=dt), torch.tensor(y)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    layers = []
    for l in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[l - 1], sizes[l]))
        if l < len(sizes) - 1 or a.loss == "mse":
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers).to(dt)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr)

    def loss_fn(out, y):
        if a.loss == "ce":
            return torch.nn.functional.cross_entropy(out, y)
        t = torch.nn.functional.one_hot(y, sizes[-1]).to(dt)
        if a.mse_reduction == "mean":
            return torch.nn.functional.mse_loss(out, t)
        return ((out - t) ** 2).sum() / out.shape[0]

    n = xtr.shape[0]
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(n)
        start = time.perf_counter()
        total = 0.0
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad()
            loss = loss_fn(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        if a.no_eval:
            print(json.dumps({"peer": "torch", "epoch": epoch, "train_loss": total / n, "samples_per_s": n / seconds,
                              "seconds": seconds, "batch": a.batch, "sizes": a.sizes, "dtype": a.dtype,
                              "threads": a.threads}), flush=True)
            continue
        with torch.no_grad():
            out = net(xte)
            acc = (out.argmax(1) == yte).double().mean().item()
            test_loss = loss_fn(out, yte).item()
        print(json.dumps({"peer": "torch", "epoch": epoch, "train_loss": total / n, "test_loss": test_loss, "test_accuracy": acc,
                          "samples_per_s": n / seconds, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
