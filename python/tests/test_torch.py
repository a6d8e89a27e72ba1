"""The binding against PyTorch autograd and torch.optim (Debian's python3-torch);
skipped when torch is not importable."""

from __future__ import annotations

import numpy as np
import pytest

import clmlp

torch = pytest.importorskip("torch")

SIZES = [6, 8, 5, 4]


def torch_net(net: clmlp.Net):
    mods = []
    for l in range(1, net.layers + 1):
        W, b = net.get_layer(l)
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if l < net.layers or net.loss == "mse":
            mods.append(torch.nn.Tanh())
    return torch.nn.Sequential(*mods)


def torch_loss(model, x, y, labels, loss: str):
    out = model(torch.from_numpy(x))
    if loss == "mse":
        return ((out - torch.from_numpy(y)) ** 2).sum()
    return torch.nn.functional.cross_entropy(out, torch.from_numpy(labels), reduction="sum")


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], n)
    return x, labels


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_gradients_match_autograd(backend: str, loss: str) -> None:
    net = clmlp.Net(SIZES, loss=loss, dtype="f64", backend=backend, seed=3)
    model = torch_net(net)
    x, labels = data(9)
    y = np.eye(SIZES[-1])[labels] if loss == "ce" else np.tanh(np.random.default_rng(1).normal(size=(9, SIZES[-1])))
    out = net.forward(x)
    value = net.backward(y)
    t = torch_loss(model, x, y, labels, loss)
    t.backward()
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-13)
    assert value == pytest.approx(t.item(), rel=1e-12)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for l, lin in enumerate(linears, start=1):
        dW, db = net.grad(l)
        np.testing.assert_allclose(dW, lin.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, lin.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    # predict: softmax probabilities for CE
    p = net.predict(x)
    ref = model(torch.from_numpy(x))
    if loss == "ce":
        ref = torch.softmax(ref, dim=1)
    np.testing.assert_allclose(p, ref.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "optimizer, options",
    [
        ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        ("adam", dict(lr=0.01, weight_decay=0.001, beta1=0.8, beta2=0.99, eps=1e-7)),
    ],
)
def test_fit_matches_torch_optim(backend: str, optimizer: str, options: dict) -> None:
    """Full-batch fit (the shuffle then only reorders a sum) against torch.optim: every
    option reaches the right field of clmlp_train_options."""
    n, epochs = 40, 4
    net = clmlp.Net(SIZES, loss="ce", dtype="f64", backend=backend, seed=4)
    model = torch_net(net)
    x, labels = data(n, seed=2)
    history = net.fit(x, labels, epochs=epochs, batch=n, optimizer=optimizer, progress=False, **options)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=options["lr"], momentum=options["momentum"],
                              weight_decay=options["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=options["lr"], betas=(options["beta1"], options["beta2"]),
                               eps=options["eps"], weight_decay=options["weight_decay"])
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        t = torch_loss(model, x, None, labels, "ce") / n
        losses.append(t.item())
        t.backward()
        opt.step()
    np.testing.assert_allclose([r["loss"] for r in history], losses, rtol=1e-10)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for l, lin in enumerate(linears, start=1):
        W, b = net.get_layer(l)
        np.testing.assert_allclose(W, lin.weight.detach().numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_lr_decay_matches_a_torch_scheduler() -> None:
    n, epochs = 30, 3
    net = clmlp.Net(SIZES, loss="mse", dtype="f64", backend="host", seed=5)
    model = torch_net(net)
    x, labels = data(n, seed=3)
    y = np.eye(SIZES[-1])[labels]
    history = net.fit(x, y, epochs=epochs, batch=n, lr=0.2, lr_decay=0.5, progress=False)
    assert [r["lr"] for r in history] == pytest.approx([0.2, 0.1, 0.05])
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(epochs):
        opt.zero_grad()
        (torch_loss(model, x, y, labels, "mse") / n).backward()
        opt.step()
        sched.step()
    W, _ = net.get_layer(1)
    np.testing.assert_allclose(W, model[0].weight.detach().numpy(), rtol=1e-10, atol=1e-12)
