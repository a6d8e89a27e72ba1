#!/usr/bin/env python3
"""Writes data/optim_reference.txt: the weights PyTorch's torch.optim.SGD and
torch.optim.Adam reach in K full-batch steps on the batch-mean loss, an independent
reference for tests/test_optim_torch.c (clmlp_train_epoch with batch = count, and
clmlp_forward + clmlp_backward + clmlp_update with grad_scale 1/count).
Not run by CI (torch is heavy); regenerate with Debian's python3-torch (1.13):
    /usr/bin/python3 tests/make_optim_reference.py

The nets are nn.Linear layers with tanh: for MSE tanh on every layer and the loss
    mean over the batch of sum over outputs of (a - y)^2
(((a - y) ** 2).sum() / count: not nn.MSELoss's default, which also divides by the
outputs); for CE tanh on the hidden layers, a linear last layer and
nn.functional.cross_entropy with its default batch mean, on integer labels (clmlp's
softmax-CE with one-hot {0,1} targets, clmlp_dataset_from_labels) or on soft target
distributions (clmlp_dataset_from_arrays). Every case runs in float64 and in float32;
a float32 case's initial weights, inputs and targets are the float64 ones rounded to
float32 and written as such, so both sides start from the same numbers.

Each case:
    case NAME LOSS TARGET OPT DTYPE COUNT STEPS n_0 ... n_L
        LOSS mse | ce, TARGET values | labels, OPT sgd | adam, DTYPE f64 | f32
    hyper LR MOMENTUM WEIGHT_DECAY BETA1 BETA2 EPS
    W l / b l (l = 1..L), x, then y (TARGET values, COUNT x n_L) or labels (COUNT)
    then for s = 1..STEPS: `step s`, `loss` (the batch-mean loss before that step's
    update) and W l / b l after the step.
Each label line is followed by one line of numbers (row-major, %.17g: exact)."""
import math
import os

import torch

STEPS = 6
SGD = dict(lr=0.1, momentum=0.9, weight_decay=0.01)
SGD_PLAIN = dict(lr=0.1, momentum=0.0, weight_decay=0.0)
ADAM = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
# eps of the size of the gradients, so that where it enters (sqrt(v_hat) + eps) shows
# in float32 too
ADAM_EPS = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-3, weight_decay=0.01)

# net, loss, targets, sizes, count (every net with every optimizer of OPTIMIZERS)
NETS = [
    ("a", "mse", "values", [5, 7, 4], 10),
    ("a", "ce", "labels", [5, 7, 4], 10),
    ("b", "mse", "values", [6, 8, 5, 3], 12),
    ("b", "ce", "labels", [6, 8, 5, 3], 12),
    ("b", "ce", "values", [6, 8, 5, 3], 12),  # soft targets
]
OPTIMIZERS = [("sgd", SGD), ("adam", ADAM)]
EXTRA = [
    ("a", "ce", "labels", [5, 7, 4], 10, "sgd", SGD_PLAIN, "plain"),
    ("a", "ce", "labels", [5, 7, 4], 10, "adam", ADAM_EPS, "eps"),
]


def values(n, seed, scale):
    # deterministic and smooth; math.sin is glibc's sin
    return [scale * math.sin(seed + 0.7 * i + 0.013 * i * i) for i in range(n)]


def block(out, name, tensor):
    out.write(name + "\n" + " ".join("%.17g" % v for v in tensor.detach().reshape(-1).tolist()) + "\n")


def make_case(out, net_name, loss_kind, target_kind, sizes, count, opt_name, hp, dtype, suffix=""):
    L = len(sizes) - 1
    dname = "f64" if dtype == torch.float64 else "f32"
    name = "%s_%s_%s_%s%s_%s" % (net_name, loss_kind, target_kind, opt_name, suffix, dname)
    out.write("case %s %s %s %s %s %d %d %s\n" % (name, loss_kind, target_kind, opt_name, dname, count, STEPS,
                                                  " ".join(map(str, sizes))))
    lr = hp["lr"]
    if opt_name == "sgd":
        out.write("hyper %.17g %.17g %.17g 0.9 0.999 1e-08\n" % (lr, hp["momentum"], hp["weight_decay"]))
    else:
        out.write("hyper %.17g 0 %.17g %.17g %.17g %.17g\n" % (lr, hp["weight_decay"], hp["betas"][0],
                                                                hp["betas"][1], hp["eps"]))
    layers = []
    for l in range(1, L + 1):
        fan_in = sizes[l - 1]
        lin = torch.nn.Linear(fan_in, sizes[l]).to(dtype)
        with torch.no_grad():
            W = torch.tensor(values(sizes[l] * fan_in, 1.0 + l, 1.5 / math.sqrt(fan_in)), dtype=torch.float64)
            b = torch.tensor(values(sizes[l], 2.0 + l, 0.5), dtype=torch.float64)
            lin.weight.copy_(W.reshape(sizes[l], fan_in).to(dtype))
            lin.bias.copy_(b.to(dtype))
        layers.append(lin)
        if loss_kind == "mse" or l < L:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for l, lin in enumerate(linears, 1):
        block(out, "W %d" % l, lin.weight)
        block(out, "b %d" % l, lin.bias)

    x = torch.tensor(values(count * sizes[0], 0.3, 1.2), dtype=torch.float64).reshape(count, sizes[0]).to(dtype)
    block(out, "x", x)
    n_out = sizes[L]
    if target_kind == "labels":
        labels = torch.tensor([(7 * i + 2) % n_out for i in range(count)], dtype=torch.long)
        out.write("labels\n" + " ".join(str(v) for v in labels.tolist()) + "\n")
        target = labels
    elif loss_kind == "mse":
        target = torch.tensor(values(count * n_out, 0.9, 0.9), dtype=torch.float64).reshape(count, n_out).to(dtype)
        block(out, "y", target)
    else:  # soft targets: rows of a softmax, rounded to dtype
        logits = torch.tensor(values(count * n_out, 1.7, 2.0), dtype=torch.float64).reshape(count, n_out)
        target = torch.softmax(logits, dim=1).to(dtype)
        block(out, "y", target)

    if opt_name == "sgd":
        opt = torch.optim.SGD(net.parameters(), **hp)
    else:
        opt = torch.optim.Adam(net.parameters(), **hp)
    for s in range(1, STEPS + 1):
        opt.zero_grad()
        a = net(x)
        if loss_kind == "mse":
            loss = ((a - target) ** 2).sum() / count
        else:
            loss = torch.nn.functional.cross_entropy(a, target)
        loss.backward()
        opt.step()
        out.write("step %d\n" % s)
        block(out, "loss", loss.reshape(1))
        for l, lin in enumerate(linears, 1):
            block(out, "W %d" % l, lin.weight)
            block(out, "b %d" % l, lin.bias)


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "optim_reference.txt")
    with open(path, "w") as out:
        out.write("# generated by tests/make_optim_reference.py with torch %s: %d full-batch steps\n"
                  % (torch.__version__, STEPS))
        for dtype in (torch.float64, torch.float32):
            for net_name, loss_kind, target_kind, sizes, count in NETS:
                for opt_name, hp in OPTIMIZERS:
                    make_case(out, net_name, loss_kind, target_kind, sizes, count, opt_name, hp, dtype)
            for net_name, loss_kind, target_kind, sizes, count, opt_name, hp, suffix in EXTRA:
                make_case(out, net_name, loss_kind, target_kind, sizes, count, opt_name, hp, dtype, "_" + suffix)


if __name__ == "__main__":
    main()
