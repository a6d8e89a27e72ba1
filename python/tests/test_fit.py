"""Net.fit and Net.evaluate: learning on Fashion-MNIST, labels and targets, validation,
early stopping, reproducibility, Ctrl-C, the progress display."""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest

import clmlp
from clmlp import _progress

KEYS = {"epoch", "loss", "accuracy", "samples", "seconds", "lr"}


def test_fit_learns_fashion_mnist(backend: str, fashion) -> None:
    x, y = fashion
    net = clmlp.Net([784, 64, 10], loss="ce", dtype="f32", backend=backend, seed=1)
    t0 = time.perf_counter()
    history = net.fit(x[:6000], y[:6000], epochs=2, batch=64, lr=0.1, validation=(x[6000:8000], y[6000:8000]),
                      progress=False)
    seconds = time.perf_counter() - t0
    assert isinstance(history, list) and len(history) == 2 and not history.interrupted
    for e, record in enumerate(history, start=1):
        assert set(record) == KEYS | {"val_loss", "val_accuracy"}
        assert record["epoch"] == e and record["samples"] == 6000 and record["lr"] == pytest.approx(0.1)
    assert history[1]["loss"] < history[0]["loss"]
    assert history[-1]["val_accuracy"] > 0.75  # chance is 0.1
    m = net.evaluate(x[8000:], y[8000:])
    assert set(m) == {"loss", "accuracy", "n", "confusion"}
    assert m["n"] == 2000 and m["accuracy"] > 0.75 and 0 < m["loss"] < 1.0
    confusion = m["confusion"]
    assert confusion.shape == (10, 10) and confusion.dtype == np.int64
    assert confusion.sum() == 2000
    np.testing.assert_array_equal(confusion.sum(axis=1), np.bincount(y[8000:], minlength=10))
    assert np.trace(confusion) / 2000 == pytest.approx(m["accuracy"])
    # the confusion matrix is the argmax of predict against the labels
    predicted = net.predict(x[8000:]).argmax(axis=1)
    assert (predicted == y[8000:]).mean() == pytest.approx(m["accuracy"], abs=2e-3)
    print(f"fit on {backend}: {seconds:.2f} s, accuracy {m['accuracy']:.4f}")


def test_same_seed_same_training() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 8)), rng.integers(0, 3, 300)
    runs = []
    for _ in range(2):
        net = clmlp.Net([8, 6, 3], dtype="f64", backend="host", seed=7)
        h = net.fit(x, y, epochs=3, batch=32, momentum=0.9, seed=11, progress=False)
        runs.append((h, net.get_layer(1)[0]))
    assert [r["loss"] for r in runs[0][0]] == [r["loss"] for r in runs[1][0]]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    other = clmlp.Net([8, 6, 3], dtype="f64", backend="host", seed=7)
    other.fit(x, y, epochs=3, batch=32, momentum=0.9, seed=12, progress=False)  # another shuffle
    assert not np.array_equal(other.get_layer(1)[0], runs[0][1])


def test_labels_and_targets_are_the_same_data() -> None:
    """1-D integer labels (clmlp_dataset_from_labels) train exactly as their one-hot
    2-D targets (clmlp_dataset_from_arrays)."""
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(200, 5)), rng.integers(0, 4, 200)
    for target, lo in (("01", 0.0), ("pm1", -1.0)):
        onehot = np.full((200, 4), lo)
        onehot[np.arange(200), labels] = 1.0
        a = clmlp.Net([5, 7, 4], loss="mse", dtype="f64", backend="host", seed=2)
        b = clmlp.Net([5, 7, 4], loss="mse", dtype="f64", backend="host", seed=2)
        ha = a.fit(x, labels, epochs=2, batch=16, target=target, progress=False)
        hb = b.fit(x, onehot, epochs=2, batch=16, progress=False)
        assert [r["loss"] for r in ha] == [r["loss"] for r in hb]
        np.testing.assert_array_equal(a.get_layer(2)[0], b.get_layer(2)[0])
        assert a.evaluate(x, labels, target=target)["loss"] == b.evaluate(x, onehot)["loss"]


def test_regression_with_one_output() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (400, 2))
    y = 0.5 * np.sin(2 * x[:, 0]) * x[:, 1]  # 1-D floats: targets, since n_L = 1
    net = clmlp.Net([2, 16, 1], loss="mse", dtype="f64", backend="host", seed=3)
    before = net.evaluate(x, y)["loss"]
    history = net.fit(x, y, epochs=40, batch=16, lr=0.05, optimizer="adam", progress=False)
    assert history[-1]["loss"] < before / 4
    assert net.evaluate(x, y.reshape(-1, 1))["loss"] < before / 4


def test_validation_fraction(backend: str) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(500, 6)), rng.integers(0, 2, 500)
    net = clmlp.Net([6, 4, 2], backend=backend)
    history = net.fit(x, y, epochs=2, validation=0.2, progress=False)
    assert [r["samples"] for r in history] == [400, 400]
    assert all(0 <= r["val_accuracy"] <= 1 and r["val_loss"] > 0 for r in history)


def test_patience_keeps_the_best_weights(backend: str) -> None:
    """Validation labels unrelated to the training labels: the validation loss soon
    rises; training stops and the net holds the best epoch's weights."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(200, 10)), rng.integers(0, 3, 200)
    xv, yv = rng.normal(size=(100, 10)), rng.integers(0, 3, 100)
    net = clmlp.Net([10, 32, 3], dtype="f64", backend=backend, seed=5)
    history = net.fit(x, y, epochs=60, batch=16, lr=0.2, validation=(xv, yv), patience=3, progress=False)
    losses = [r["val_loss"] for r in history]
    assert history.stopped_early and len(history) < 60
    assert history.best_epoch == int(np.argmin(losses)) + 1
    assert len(history) == history.best_epoch + 3
    assert net.evaluate(xv, yv)["loss"] == pytest.approx(losses[history.best_epoch - 1], rel=1e-12)
    assert net.evaluate(xv, yv)["loss"] < losses[-1]


def test_ctrl_c_stops_cleanly(fashion) -> None:
    x, y = fashion
    net = clmlp.Net([784, 32, 10], dtype="f32", backend="host", seed=0)
    before = signal.getsignal(signal.SIGINT)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))  # as a Ctrl-C does
    timer.start()
    t0 = time.perf_counter()
    try:
        history = net.fit(x, y, epochs=500, batch=32, report_every=1, progress=False)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - t0
    assert history.interrupted and len(history) < 500
    assert seconds < 10, "stopped soon after the signal"
    assert signal.getsignal(signal.SIGINT) is before  # the old handler is back
    if history and history[-1].get("interrupted"):
        assert 0 < history[-1]["samples"] < 10000
    # the net is usable afterwards: what ran has trained it
    assert net.evaluate(x[:1000], y[:1000])["accuracy"] > 0.3
    more = net.fit(x[:500], y[:500], epochs=1, progress=False)
    assert len(more) == 1 and not more.interrupted


def test_fit_from_another_thread() -> None:
    """No SIGINT handler can be installed there: fit trains without one."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(100, 4)), rng.integers(0, 2, 100)
    net = clmlp.Net([4, 3, 2], backend="host")
    out: list = []
    t = threading.Thread(target=lambda: out.append(net.fit(x, y, epochs=2, progress=False)))
    t.start()
    t.join()
    assert len(out) == 1 and len(out[0]) == 2


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_display(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(2000, 4)), rng.integers(0, 2, 2000)
    net = clmlp.Net([4, 3, 2], backend="host")
    # not a terminal (pytest captures stderr): nothing
    net.fit(x, y, epochs=1, progress=True)
    assert capsys.readouterr().err == ""
    # a terminal without tqdm: the plain bar
    monkeypatch.setitem(sys.modules, "tqdm", None)
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    net.fit(x, y, epochs=2, batch=16, validation=0.25, report_every=1, progress=True)
    text = tty.getvalue()
    assert "epoch 1/2 [" in text and "epoch 2/2  loss " in text and "val loss" in text
    assert text.endswith("\n")
    # progress=False: nothing, even on a terminal
    tty2 = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty2)
    net.fit(x, y, epochs=1, progress=False)
    assert tty2.getvalue() == ""
    assert type(_progress.make_bar(True, io.StringIO())) is _progress.Bar


def test_progress_display_with_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    net = clmlp.Net([4, 3, 2], backend="host")
    rng = np.random.default_rng(7)
    net.fit(rng.normal(size=(500, 4)), rng.integers(0, 2, 500), epochs=1, progress=True)
    assert "epoch 1/1" in tty.getvalue()


def test_an_exception_in_the_callback_stops_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(_progress.Bar):
        def update(self, done: int, loss: float) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr(clmlp._net, "make_bar", lambda progress: Boom())
    net = clmlp.Net([4, 3, 2], backend="host")
    rng = np.random.default_rng(8)
    with pytest.raises(RuntimeError, match="boom"):
        net.fit(rng.normal(size=(500, 4)), rng.integers(0, 2, 500), epochs=1, report_every=1)


CHILD = r"""
import sys
import numpy as np
import clmlp
rng = np.random.default_rng(0)
x, y = rng.normal(size=(20000, 32)), rng.integers(0, 4, 20000)
net = clmlp.Net([32, 64, 4], backend=sys.argv[1])
print("READY", flush=True)
history = net.fit(x, y, epochs=1000, batch=16, validation=0.1, progress=True)
print("RESULT", len(history), history.interrupted, flush=True)
"""


def test_ctrl_c_in_a_terminal(backend: str, tmp_path) -> None:
    """A real terminal: the progress bar is drawn, and a Ctrl-C typed on it (the tty
    sends SIGINT) ends fit cleanly; the program carries on and exits 0."""
    pty = pytest.importorskip("pty")
    import fcntl
    import select
    import struct
    import termios

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    pid, fd = pty.fork()
    if pid == 0:  # the child, on the terminal (24 × 80, as a terminal has a size)
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.execv(sys.executable, [sys.executable, str(script), backend])
        finally:
            os._exit(127)
    out = b""

    def read(seconds: float, until: bytes = b"") -> bool:
        """Read the terminal for up to `seconds` (until `until` shows, or EOF)."""
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until in out):
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child is gone
                    return False
                if not chunk:
                    return False
                out += chunk
        return True

    try:
        read(60, b"READY")
        read(1.5)  # training, the bar drawn
        os.write(fd, b"\x03")  # Ctrl-C
        while read(60):
            pass
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = out.decode(errors="replace")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text[-2000:]
    assert "epoch 1/1000" in text and "interrupted" in text, text[-2000:]
    result = text[text.index("RESULT"):].split()
    assert result[2] == "True" and 1 <= int(result[1]) < 1000, text[-2000:]
