"""Every failure is a clmlp.Error with the right status and the library's message."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import clmlp
from clmlp import _lib


def status(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.status


@pytest.mark.parametrize(
    "sizes",
    [[], [3], [3, 0, 2], [0, 2], [3, -1], [2.5, 3], "ab"],
    ids=["none", "one", "zero-hidden", "zero-input", "negative", "float", "string"],
)
def test_bad_sizes(sizes) -> None:
    with pytest.raises(clmlp.Error) as e:
        clmlp.Net(sizes, backend="host")
    assert e.value.status == "CLMLP_EINVAL" and e.value.code == 1
    assert e.value.message


def test_error_carries_the_librarys_message() -> None:
    with pytest.raises(clmlp.Error) as e:
        clmlp.Net([3, 0, 2], backend="host")
    # the message is clmlp_last_error() of the failing call
    assert e.value.message == _lib.last_error()
    assert str(e.value).startswith("CLMLP_EINVAL: ")
    copy = pickle.loads(pickle.dumps(e.value))
    assert (copy.status, copy.message) == (e.value.status, e.value.message)


@pytest.mark.parametrize("what", ["loss", "dtype", "backend"])
def test_bad_choices(what: str) -> None:
    with pytest.raises(clmlp.Error) as e:
        clmlp.Net([3, 2], **{what: "nope"})
    assert status(e) == "CLMLP_EINVAL" and what in e.value.message


def test_unusable_device_is_enodevice() -> None:
    with pytest.raises(clmlp.Error) as e:
        clmlp.Net([3, 2], backend="auto", device="9:9")
    assert status(e) == "CLMLP_ENODEVICE"
    with pytest.raises(clmlp.Error) as e:
        clmlp.Net([3, 2], backend="opencl", device=(7, 0))
    assert status(e) == "CLMLP_ENODEVICE"


@pytest.fixture
def net(backend: str) -> clmlp.Net:
    return clmlp.Net([4, 3, 2], loss="mse", dtype="f64", backend=backend)


def test_shapes(net: clmlp.Net) -> None:
    cases = [
        lambda: net.forward(np.zeros((5, 3))),
        lambda: net.forward(np.zeros((2, 2, 4))),
        lambda: net.forward(np.zeros(5)),
        lambda: net.predict(np.zeros((5, 5))),
        lambda: net.set_layer(1, np.zeros((4, 3)), np.zeros(3)),
        lambda: net.set_layer(1, np.zeros((3, 4)), np.zeros(4)),
        lambda: net.get_layer(0),
        lambda: net.get_layer(3),
        lambda: net.grad(3),
        lambda: net.state(3),
        lambda: net.forward([["a", "b", "c", "d"]]),
    ]
    for case in cases:
        with pytest.raises(clmlp.Error) as e:
            case()
        assert status(e) == "CLMLP_EINVAL", e.value


def test_empty_batch_is_refused_by_the_library(net: clmlp.Net) -> None:
    with pytest.raises(clmlp.Error) as e:
        net.forward(np.zeros((0, 4)))
    assert status(e) == "CLMLP_EINVAL" and "batch is 0" in e.value.message


def test_calls_out_of_order(net: clmlp.Net) -> None:
    with pytest.raises(clmlp.Error) as e:
        net.backward(np.zeros((1, 2)))
    assert status(e) == "CLMLP_EINVAL"
    with pytest.raises(clmlp.Error) as e:
        net.grad(1)
    assert status(e) == "CLMLP_EINVAL" and "clmlp_get_grad" in e.value.message
    with pytest.raises(clmlp.Error) as e:
        net.sgd_step(0.1)
    assert status(e) == "CLMLP_EINVAL" and "clmlp_sgd_step" in e.value.message
    net.forward(np.zeros((3, 4)))
    with pytest.raises(clmlp.Error) as e:
        net.backward(np.zeros((2, 2)))  # not the forward's batch
    assert status(e) == "CLMLP_EINVAL"
    W, b = net.get_layer(1)
    net.set_layer(1, W, b)
    with pytest.raises(clmlp.Error) as e:
        net.backward(np.zeros((3, 2)))
    assert status(e) == "CLMLP_EINVAL" and "weights changed" in e.value.message
    net.forward(np.zeros((3, 4)))
    net.backward(np.zeros((3, 2)))
    for lr in (-1.0, float("nan"), float("inf")):
        with pytest.raises(clmlp.Error) as e:
            net.sgd_step(lr)
        assert status(e) == "CLMLP_EINVAL"


def test_nan_and_inf_are_enumeric(net: clmlp.Net) -> None:
    x = np.zeros((2, 4))
    x[1, 2] = np.nan
    with pytest.raises(clmlp.Error) as e:
        net.forward(x)
    assert status(e) == "CLMLP_ENUMERIC" and "x[1][2]" in e.value.message
    with pytest.raises(clmlp.Error) as e:
        net.predict(x)
    assert status(e) == "CLMLP_ENUMERIC"
    W, b = net.get_layer(2)
    W[0, 1] = np.inf
    with pytest.raises(clmlp.Error) as e:
        net.set_layer(2, W, b)
    assert status(e) == "CLMLP_ENUMERIC"
    net.forward(np.zeros((2, 4)))
    with pytest.raises(clmlp.Error) as e:
        net.backward(np.array([[0.0, np.nan], [0.0, 0.0]]))
    assert status(e) == "CLMLP_ENUMERIC"
    with pytest.raises(clmlp.Error) as e:
        net.fit(x, np.zeros((2, 2)), epochs=1, progress=False)
    assert status(e) == "CLMLP_ENUMERIC"


def test_fit_arguments(net: clmlp.Net) -> None:
    x = np.zeros((10, 4))
    labels = np.zeros(10, dtype=np.int64)
    cases = [
        dict(y=np.full(10, 2)),  # label ≥ n_L
        dict(y=np.full(10, -1)),  # negative label
        dict(y=np.zeros(9, dtype=np.int64)),  # rows differ
        dict(y=np.zeros((10, 3))),  # targets of the wrong width
        dict(y=np.zeros(10)),  # 1-D floats with n_L = 2
        dict(y=labels, batch=0),
        dict(y=labels, lr=-0.1),
        dict(y=labels, momentum=1.0),
        dict(y=labels, weight_decay=-1.0),
        dict(y=labels, optimizer="rmsprop"),
        dict(y=labels, optimizer="adam", beta1=1.0),
        dict(y=labels, validation=1.5),
        dict(y=labels, validation=0.01),  # leaves the validation part empty
        dict(y=labels, validation="0.2"),
        dict(y=labels, validation=(x,)),
        dict(y=labels, patience=3),  # no validation
        dict(y=labels, validation=0.2, patience=0),
        dict(y=labels, epochs=-1),
        dict(y=labels, target="pm2"),
    ]
    for case in cases:
        with pytest.raises(clmlp.Error) as e:
            net.fit(x, epochs=case.pop("epochs", 1), progress=False, **case)
        assert status(e) == "CLMLP_EINVAL", (case, e.value)
    with pytest.raises(clmlp.Error) as e:
        net.evaluate(x, np.full(10, 5))
    assert status(e) == "CLMLP_EINVAL"


def test_divergence_is_enumeric(backend: str) -> None:
    net = clmlp.Net([4, 16, 2], loss="ce", dtype="f32", backend=backend)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1e3, (256, 4))
    y = rng.integers(0, 2, 256)
    with pytest.raises(clmlp.Error) as e:  # the weights leave float's range
        net.fit(x, y, epochs=3, batch=16, lr=1e36, progress=False)
    assert status(e) == "CLMLP_ENUMERIC" and "diverged" in e.value.message
    assert isinstance(e.value.history, list)  # type: ignore[attr-defined]


def test_closed_net(net: clmlp.Net) -> None:
    net.close()
    net.close()  # twice is fine
    with pytest.raises(clmlp.Error) as e:
        net.predict(np.zeros((1, 4)))
    assert status(e) == "CLMLP_EINVAL" and "closed" in e.value.message
    assert "closed" in repr(net)
    with clmlp.Net([2, 2], backend="host") as other:
        assert other.layers == 1
    with pytest.raises(clmlp.Error):
        other.sizes and other.backend_name
