"""The binding against numpy reimplementations of the forward pass and backpropagation
(written from the README's math), on both backends, in both dtypes and losses."""

from __future__ import annotations

import numpy as np
import pytest

import clmlp
from conftest import np_forward, np_loss_and_grads, softmax

SIZES = [5, 7, 4, 3]
TOL = {"f64": dict(rtol=1e-10, atol=1e-12), "f32": dict(rtol=2e-4, atol=2e-5)}


def make(backend: str, loss: str, dtype: str, seed: int = 1) -> clmlp.Net:
    rng = np.random.default_rng(seed)
    net = clmlp.Net(SIZES, loss=loss, dtype=dtype, backend=backend, seed=seed)
    for l in range(1, net.layers + 1):
        W = rng.normal(0, 0.6, (SIZES[l], SIZES[l - 1]))
        b = rng.normal(0, 0.3, SIZES[l])
        net.set_layer(l, W, b)
    return net


def data(loss: str, batch: int = 6, seed: int = 2):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (batch, SIZES[0]))
    if loss == "ce":
        y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], batch)]
    else:
        y = rng.uniform(-0.9, 0.9, (batch, SIZES[-1]))
    return x, y


@pytest.mark.parametrize("dtype", ["f64", "f32"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_forward_backward_match_numpy(backend: str, loss: str, dtype: str) -> None:
    net = make(backend, loss, dtype)
    assert net.sizes == tuple(SIZES) and net.layers == 3
    assert net.loss == loss and net.dtype == dtype
    assert net.backend_name == "host" if backend == "host" else net.backend_name.startswith("opencl: ")
    layers = [net.get_layer(l) for l in range(1, net.layers + 1)]
    x, y = data(loss)
    zs, a = np_forward(layers, x, loss)
    out = net.forward(x)
    np.testing.assert_allclose(out, a[-1], **TOL[dtype])
    for l in range(net.layers + 1):
        z_c, a_c = net.state(l)
        np.testing.assert_allclose(a_c, a[l], **TOL[dtype])
        if l == 0:
            assert z_c is None
        else:
            np.testing.assert_allclose(z_c, zs[l], **TOL[dtype])
    value, grads = np_loss_and_grads(layers, x, y, loss)
    assert net.backward(y) == pytest.approx(value, rel=TOL[dtype]["rtol"])
    for l in range(1, net.layers + 1):
        dW, db = net.grad(l)
        assert dW.shape == (SIZES[l], SIZES[l - 1]) and db.shape == (SIZES[l],)
        scale = max(np.abs(grads[l][0]).max(), 1e-3)
        np.testing.assert_allclose(dW, grads[l][0], rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["rtol"] * scale)
        np.testing.assert_allclose(db, grads[l][1], rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["rtol"] * scale)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_predict_is_the_forward_or_its_softmax(backend: str, loss: str) -> None:
    net = make(backend, loss, "f64")
    layers = [net.get_layer(l) for l in range(1, net.layers + 1)]
    x, _ = data(loss, batch=300)  # more than one of the library's predict passes
    expected = np_forward(layers, x, loss)[1][-1]
    if loss == "ce":
        expected = softmax(expected)
        np.testing.assert_allclose(net.predict(x).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(net.predict(x), expected, **TOL["f64"])
    np.testing.assert_allclose(net.predict(x[3]), expected[3], **TOL["f64"])  # one sample, 1-D
    assert net.predict(x[3]).shape == (SIZES[-1],)


def test_sgd_step(backend: str) -> None:
    net = make(backend, "mse", "f64")
    before = [net.get_layer(l) for l in range(1, net.layers + 1)]
    x, y = data("mse")
    net.forward(x)
    net.backward(y)
    grads = [net.grad(l) for l in range(1, net.layers + 1)]
    net.sgd_step(0.05)
    for l in range(1, net.layers + 1):
        W, b = net.get_layer(l)
        np.testing.assert_allclose(W, before[l - 1][0] - 0.05 * grads[l - 1][0], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(b, before[l - 1][1] - 0.05 * grads[l - 1][1], rtol=1e-13, atol=1e-15)
    # the loss goes down along the gradient
    _, a = np_forward(before, x, "mse")
    assert float(((net.forward(x) - y) ** 2).sum()) < float(((a[-1] - y) ** 2).sum())


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_finite_differences(backend: str, loss: str) -> None:
    net = make(backend, loss, "f64")
    x, y = data(loss)
    net.forward(x)
    net.backward(y)
    for l in range(1, net.layers + 1):
        dW, db = net.grad(l)
        nW, nb = net.numeric_grad(x, y, l, eps=1e-5)
        np.testing.assert_allclose(nW, dW, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(nb, db, rtol=1e-5, atol=1e-7)


def test_inputs_are_converted_without_copies_when_possible() -> None:
    net = make("host", "mse", "f64")
    x, y = data("mse")
    expected = net.forward(x)
    # float32, Fortran order, a strided view, a list: all converted
    np.testing.assert_allclose(net.forward(np.asfortranarray(x)), expected, rtol=1e-15)
    np.testing.assert_allclose(net.forward(x.astype(np.float32)), net.forward(x.astype(np.float32).astype(np.float64)))
    wide = np.zeros((x.shape[0], 2 * x.shape[1]))
    wide[:, ::2] = x
    np.testing.assert_allclose(net.forward(wide[:, ::2]), expected, rtol=1e-15)
    np.testing.assert_allclose(net.forward(x.tolist()), expected, rtol=1e-15)
    from clmlp._net import _f64

    assert _f64(x, "x") is x  # C-contiguous float64: passed as is
    assert _f64(np.asfortranarray(x), "x") is not x
    # the caller's arrays are never written
    W, b = net.get_layer(1)
    W0 = W.copy()
    net.set_layer(1, W, b)
    np.testing.assert_array_equal(W, W0)


def test_standardization(backend: str) -> None:
    net = make(backend, "mse", "f64")
    assert net.standardization is None
    mean = np.arange(5.0)
    std = np.linspace(1, 2, 5)
    net.set_standardization(mean, std)
    m, s = net.standardization
    np.testing.assert_array_equal(m, mean)
    np.testing.assert_array_equal(s, std)
    x = np.random.default_rng(0).normal(size=(4, 5))
    np.testing.assert_allclose(net.standardize(x), (x - mean) / std, rtol=1e-15)
    net.set_standardization(None, None)
    assert net.standardization is None
