"""Net.predict from 4 threads at once on one net equals the single-threaded results,
and the GIL is released while the library computes."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import clmlp


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_predict_from_four_threads(backend: str, dtype: str) -> None:
    net = clmlp.Net([784, 128, 64, 10], loss="ce", dtype=dtype, backend=backend, seed=1)
    rng = np.random.default_rng(0)
    chunks = [rng.normal(size=(int(rng.integers(1, 700)), 784)) for _ in range(24)]
    expected = [net.predict(c) for c in chunks]
    barrier = threading.Barrier(4)

    def work(k: int):
        barrier.wait()
        return [(i, net.predict(chunks[i])) for i in range(k, len(chunks), 4) for _ in range(2)]

    with ThreadPoolExecutor(4) as pool:
        results = [r for f in [pool.submit(work, k) for k in range(4)] for r in f.result()]
    assert len(results) == 2 * len(chunks)
    for i, got in results:
        np.testing.assert_array_equal(got, expected[i])


def test_forward_state_is_untouched_by_predict(backend: str) -> None:
    net = clmlp.Net([5, 4, 3], loss="mse", dtype="f64", backend=backend)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 5))
    out = net.forward(x)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: net.predict(rng.normal(size=(50, 5))), range(8)))
    _, a = net.state(2)
    np.testing.assert_array_equal(a, out)
    net.backward(np.zeros((7, 3)))  # still the forward's batch


def test_predict_releases_the_gil() -> None:
    """While one thread is inside clmlp_predict, Python code runs in another."""
    net = clmlp.Net([784, 512, 512, 10], dtype="f64", backend="host")
    x = np.random.default_rng(2).normal(size=(4000, 784))
    t0 = time.perf_counter()
    net.predict(x)
    alone = time.perf_counter() - t0
    inside = threading.Event()
    done = threading.Event()

    def run() -> None:
        inside.set()
        net.predict(x)
        done.set()

    ticks = 0
    t = threading.Thread(target=run)
    t.start()
    inside.wait()
    t1 = time.perf_counter()
    while not done.is_set():
        ticks += 1
    elapsed = time.perf_counter() - t1
    t.join()
    # holding the GIL, predict would let this loop run only at the switch interval
    # (5 ms) at best; released, it runs all along
    assert alone > 0.02 and elapsed > 0.5 * alone
    assert ticks > 10_000 * elapsed, (ticks, elapsed)
